"""Finding and locking a case, with office isolation: a case of another office is "not
found" for a clerk, and the attempt is logged (engine-internal)."""

from __future__ import annotations

import logging
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import lazyload

from .actors import Actor
from .errors import NotFound
from .models import Case, Row

#: an ORM case or the plain row the step path reads (engine.cases)
_CaseT = TypeVar("_CaseT", Case, Row)

security_log = logging.getLogger("simpul.security")

#: a case in one of these states can still change
OPEN_STATUSES = ("active", "incident")


def find_case(session, case_ref) -> Case | None:
    if isinstance(case_ref, int) or (isinstance(case_ref, str) and case_ref.isdigit()):
        return session.get(Case, int(case_ref))
    return session.scalar(select(Case).where(Case.receipt == case_ref))


def visible_case(case: _CaseT | None, actor: Actor, what: str) -> _CaseT:
    if case is None:
        raise NotFound("{what} not found.", what=what)
    if not actor.sees_office(case.office_code):
        security_log.warning(
            "office isolation: %s of office %s tried to reach case %s of office %s",
            actor.username,
            actor.office_code,
            case.receipt,
            case.office_code,
        )
        raise NotFound("{what} not found.", what=what)
    return case


def lock_case(uow, case_id: int) -> Case:
    stmt = (
        select(Case)
        .where(Case.id == case_id)
        .options(lazyload(Case.process_version))
        .execution_options(populate_existing=True)
    )
    if uow.session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=Case)
    return uow.session.scalar(stmt)
