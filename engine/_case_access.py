"""Finding a case and office isolation: a case of another office is "not found" (and logged
to ``simpul.security``).  Engine-internal; shared by cases, documents, comments, decisions."""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy import select

from .actors import Actor
from .errors import NotFound
from .i18n import Message
from .ids import as_id
from .models import Case, Row

security_log = logging.getLogger("simpul.security")

OPEN_STATUSES = ("active", "incident")

#: an ORM case or the step path's Row of one
_C = TypeVar("_C", Case, Row)


def visible_case(case: _C | None, actor: Actor, what: str) -> _C:
    if case is None:
        raise NotFound("{what} not found.", what=Message(what))
    if not actor.sees_office(case.office_code):
        security_log.warning(
            "office isolation: %s of office %s tried to reach case %s of office %s",
            actor.username,
            actor.office_code,
            case.receipt,
            case.office_code,
        )
        raise NotFound("{what} not found.", what=Message(what))
    return case


def find_case(session, case_ref) -> Case | None:
    """A case by id (ASCII digits within 64 bits) or by receipt; None when there is none."""
    if isinstance(case_ref, int):
        case_id = as_id(case_ref)
        return session.get(Case, case_id) if case_id is not None else None
    if not isinstance(case_ref, str) or not case_ref or len(case_ref) > 64 or "\x00" in case_ref:
        return None
    if case_ref.isdigit():  # any Unicode digit: only ASCII ones make an id ("٣" is no case 3)
        case_id = as_id(case_ref)
        return session.get(Case, case_id) if case_id is not None else None
    return session.scalar(select(Case).where(Case.receipt == case_ref))
