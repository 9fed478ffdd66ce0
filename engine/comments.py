"""Comments clerks add to a case beside its steps.  Each comment is one transaction with its
audit event; office isolation is the same as for every case read (another office's case is
"not found").  Document scans are engine.documents' job."""

from __future__ import annotations

from sqlalchemy import select

from .actors import Actor
from .cases import find_case, record_event, visible_case
from .errors import ValidationFailed
from .i18n import N_, Message
from .models import utcnow
from .models_web import CaseComment

MAX_COMMENT = 4000
MSG_REQUIRED = N_("This field is required.")
MSG_TOO_LONG = N_("At most {max} characters.")


def _comment_dict(c: CaseComment) -> dict:
    return {
        "id": c.id,
        "author": c.author,
        "office": c.office_code,
        "body": c.body,
        "created_at": c.created_at.isoformat(),
    }


def add_comment(runtime, case_ref, body: str, actor: Actor) -> dict:
    body = (body or "").strip()
    if not body:
        raise ValidationFailed("Some fields need attention.", errors={"body": [MSG_REQUIRED]})
    if len(body) > MAX_COMMENT:
        raise ValidationFailed(
            "Some fields need attention.", errors={"body": [Message(MSG_TOO_LONG, max=MAX_COMMENT)]}, max=MAX_COMMENT
        )
    with runtime.transaction() as uow:
        s = uow.session
        case = visible_case(find_case(s, case_ref), actor, "Case")
        comment = CaseComment(
            case_id=case.id,
            author=actor.username,
            office_code=actor.office_code or case.office_code,
            body=body,
            created_at=utcnow(),
        )
        s.add(comment)
        s.flush()
        record_event(uow, case, "comment_added", actor, detail=body[:200])
        return _comment_dict(comment)


def list_comments(runtime, case_ref, actor: Actor) -> list[dict]:
    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        return [
            _comment_dict(c)
            for c in s.scalars(select(CaseComment).where(CaseComment.case_id == case.id).order_by(CaseComment.id))
        ]
