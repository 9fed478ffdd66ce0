"""A case's timeline: the append-only audit events every engine call writes inside its own
transaction, announced to plugins (``case_event``) once it has committed (engine-internal)."""

from __future__ import annotations

from .actors import Actor
from .models import Case, CaseEvent, Row, utcnow
from .plugin_types import CaseView

_INSERT_EVENT = CaseEvent.__table__.insert()


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
    uow.events.append(
        (
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
    )
