"""Events a plugin writes on a case's timeline outside a step (a notification sent or failed).

Inside a step a plugin notes its events through ``task_completing`` or the ``note`` argument of
``case_event_recorded`` (the same transaction as the step).  Work a plugin does later, in the
worker or on a page of its own, is recorded with ``record_case_event``: its own transaction,
the case locked as for a step, the event announced to the plugins like any other.  The kinds
the engine records itself (``cases.ENGINE_EVENT_KINDS``) are refused: they move a case and its
figures, and only the engine writes them."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import select

from .actors import Actor
from .cases import ENGINE_EVENT_KINDS, find_case, lock_case, record_event
from .errors import InvalidInput, NotFound
from .models import OutboxMessage


def record_case_event(
    runtime, case_ref, kind: str, *, detail: str | None = None, after: dict | None = None, by: str = "plugin"
) -> None:
    """Add one event of ``kind`` to the timeline of the case ``case_ref`` (receipt or id).

    ``detail`` is the text the timeline shows (keep personal data out of it, or masked);
    ``after`` JSON values kept with it (``{"msgid": ..., "params": ...}`` there is shown
    translated by the web app).  ``by`` names the writer (a plugin's name), shown as the
    actor."""
    kind = str(kind or "")
    if not kind or len(kind) > 40 or kind in ENGINE_EVENT_KINDS:
        raise InvalidInput("A plugin cannot record the event {kind}.", kind=kind)
    if after is not None:
        json.dumps(after)
    with runtime.transaction() as uow:
        found = find_case(uow.session, case_ref)
        if found is None:
            raise NotFound("{what} not found.", what="Case")
        case = lock_case(uow, found.id)
        record_event(uow, case, kind, Actor.system(str(by)[:64]), detail=detail, after=after)


_QUEUE_NAMESPACE = uuid.UUID("0c1b5f8e-7a43-4f55-9a51-2f0e6f6f3a11")


def queue_office_message(runtime, source_office: str, destination_office: str, kind: str, payload: dict, key: str):
    """Queue a message to another office that belongs to no case (a node's periodic summary),
    for the worker to hand to ``deliver_outbox_message`` like any other.  ``key`` makes it
    idempotent: the same key queued twice is one message.  Returns the message id."""
    json.dumps(payload)  # JSON only, refused here rather than in the worker
    message_id = str(uuid.uuid5(_QUEUE_NAMESPACE, f"{source_office}:{kind}:{key}"))
    with runtime.transaction() as uow:
        s = uow.session
        if s.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id)) is None:
            s.add(
                OutboxMessage(
                    message_id=message_id,
                    case_id=None,
                    source_office=str(source_office)[:16],
                    destination_office=str(destination_office)[:16],
                    kind=str(kind)[:32],
                    payload=payload,
                )
            )
    return message_id
