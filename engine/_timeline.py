"""A case's timeline: appending an event, noting it for the dashboard figures, announcing it
to plugins (``case_event`` after commit, ``case_event_recorded`` in the step's transaction).
Engine-internal; every module that changes a case records through ``record_event``."""

from __future__ import annotations

import json
import logging
import uuid

from sqlalchemy import select

from .actors import Actor
from .errors import InvalidInput
from .models import Case, CaseEvent, OutboxMessage, Row, SentMessageId, utcnow
from .plugin_types import CaseView

log = logging.getLogger("simpul.engine")

_INSERT_EVENT = CaseEvent.__table__.insert()

#: event kinds only the engine records (they move a case or its figures): a plugin notes its
#: own kinds (``note`` of ``case_event_recorded``, ``engine.record_case_event``).
ENGINE_EVENT_KINDS = frozenset(
    (
        "case_started",
        "task_completed",
        "service_completed",
        "message_received",
        "timer_fired",
        "case_cancelled",
        "case_reopened",
        "case_moved_back",
        "incident",
        "incident_retried",
    )
)


def record_event(
    uow,
    case: Case | Row,
    kind: str,
    actor: Actor,
    *,
    task=None,
    step=None,
    step_name=None,
    detail=None,
    before=None,
    after=None,
    noted: bool = False,
) -> None:
    values = dict(
        case_id=case.id,
        at=utcnow(),
        actor=actor.username,
        office_code=actor.office_code or case.office_code,
        kind=kind,
        task_id=getattr(task, "id", None) if task is not None else None,
        step=step or getattr(task, "step", None),
        step_name=step_name or getattr(task, "name", None),
        detail=detail,
        before=before,
        after=after,
    )
    uow.session.connection().execute(_INSERT_EVENT, values)  # append-only: no ORM object to track
    from .stats import note_event

    note_event(uow, case, kind, values, task)
    announced = (
        {
            "kind": kind,
            "actor": actor.username,
            "at": values["at"].isoformat(),
            "step": values["step"],
            "detail": detail,
            "after": after,
        },
        CaseView.of(case),
    )
    uow.events.append(announced)
    if uow.runtime is not None and not noted:  # a plugin's own note is not handed back to the plugins
        _queue_for_plugins(uow, case, *announced)


_OUTBOX = OutboxMessage.__table__
_SENT = SentMessageId.__table__
_QUEUE_NAMESPACE = uuid.UUID("5c1f8f52-3c35-4a53-9d55-6b0b3b3b9f10")


def announce_end(runtime, session, case) -> None:
    """The ``case_ended`` hook, in the transaction that ended ``case`` (its values current)."""
    impls = runtime.hook.case_ended.get_hookimpls()
    if not impls:
        return
    arguments = {"runtime": runtime, "case": CaseView.of(case), "session": session}
    for impl in impls:
        try:
            with session.begin_nested():  # a plugin's failed statement is undone, not the end
                impl.function(*(arguments[name] for name in impl.argnames))
        except Exception:
            log.exception("case_ended of %s failed for %s", impl.plugin_name, case.receipt)


def _queue_for_plugins(uow, case, event: dict, view: CaseView) -> None:
    """The ``case_event_recorded`` hook: each plugin's messages (and the events it notes on
    the timeline) go into this transaction, or none of them when the plugin fails (so a
    plugin's bug never blocks the counter)."""
    conn = uow.session.connection()
    for impl in uow.runtime.hook.case_event_recorded.get_hookimpls():
        queued: list[dict] = []
        noted: list[tuple] = []

        def note(kind: str, detail: str | None = None, after: dict | None = None, _noted=noted, _by=impl.plugin_name):
            kind = str(kind)
            if kind in ENGINE_EVENT_KINDS:
                raise InvalidInput("A plugin cannot record the engine's own event {kind}.", kind=kind)
            json.dumps(after)  # JSON only
            _noted.append((kind[:40], Actor.system(_by), detail, after))

        def queue(destination: str, kind: str, payload: dict, key: str, _queued=queued, _plugin=impl.plugin_name):
            json.dumps(payload)  # JSON only, refused here rather than in the worker
            message_id = str(uuid.uuid5(_QUEUE_NAMESPACE, f"{_plugin}:{key}"))
            _queued.append(
                dict(
                    message_id=message_id,
                    case_id=None,  # not ordered behind the case's messages to other offices
                    source_office=view.office_code,
                    destination_office=str(destination)[:16],
                    kind=str(kind)[:32],
                    payload=payload,
                    status="pending",
                    attempts=0,
                    next_attempt_at=utcnow(),
                    created_at=utcnow(),
                )
            )
            return message_id

        arguments = {
            "runtime": uow.runtime,
            "event": dict(event),
            "case": view,
            "queue": queue,
            "note": note,
            "session": uow.session,
        }
        try:
            impl.function(*(arguments[name] for name in impl.argnames))  # an impl may take fewer
        except Exception:
            log.exception("case_event_recorded of %s failed for %s", impl.plugin_name, event.get("kind"))
            continue
        for row in queued:
            exists = conn.execute(select(_OUTBOX.c.id).where(_OUTBOX.c.message_id == row["message_id"])).first()
            if exists is None:  # nor sent and pruned since (engine.outbox)
                exists = conn.execute(select(_SENT.c.message_id).where(_SENT.c.message_id == row["message_id"])).first()
            if exists is None:
                conn.execute(_OUTBOX.insert(), row)
        for kind, who, detail, after in noted:
            record_event(uow, case, kind, who, detail=detail, after=after, noted=True)
