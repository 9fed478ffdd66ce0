"""The clerks' task inbox: views, filters, counts and paging.

Procedures and their start forms are in engine.procedures, step and field labels in
engine.labels, a case's diagram in engine.diagrams.

Office isolation is part of every query here, as in engine.cases: a clerk's inbox holds
only tasks of their own office, whatever filters the caller passes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select

from .actors import Actor
from .errors import Forbidden, InvalidInput
from .labels import step_names
from .models import Case, HumanTask, ProcessVersion, User, utcnow

INBOX_VIEWS = ("mine", "roles", "office")
INBOX_SORTS = ("due", "-due", "waiting", "receipt", "name")
INBOX_MAX_PER_PAGE = 200


def mask_nik(nik: str | None) -> str:
    """A NIK with all but its last four digits hidden (inbox lists are seen over shoulders)."""
    nik = nik or ""
    return "•" * max(0, len(nik) - 4) + nik[-4:]


def can_view(actor: Actor, view: str) -> bool:
    return view != "office" or actor.has_role("supervisor")


def _view_clause(actor: Actor, view: str):
    if view not in INBOX_VIEWS:
        raise InvalidInput("Unknown inbox view {view}; use one of {views}.", view=view, views=", ".join(INBOX_VIEWS))
    if view == "mine":
        return [HumanTask.assignee == actor.username]
    if view == "roles":
        roles = sorted(actor.roles) if not actor.is_system else None
        clauses = [HumanTask.assignee.is_(None)]
        if roles is not None:
            clauses.append(HumanTask.role.in_(roles))
        return clauses
    if not can_view(actor, view):
        raise Forbidden("Only a supervisor sees every task of the office.")
    return []


def _office_clause(actor: Actor):
    return [] if actor.is_system else [HumanTask.office_code == actor.office_code]


def inbox_counts(runtime, actor: Actor, session=None) -> dict:
    """The badge of each view the actor may open (``office`` only for a supervisor)."""

    def run(s):
        counts = {}
        for view in INBOX_VIEWS:
            if not can_view(actor, view):
                continue
            stmt = select(func.count()).select_from(HumanTask).where(*_office_clause(actor), *_view_clause(actor, view))
            counts[view] = s.scalar(stmt)
        return counts

    if session is not None:
        return run(session)
    with runtime.read() as s:
        return run(s)


def inbox_page(
    runtime,
    actor: Actor,
    *,
    view: str = "roles",
    q: str | None = None,
    nik: str | None = None,
    name: str | None = None,
    receipt: str | None = None,
    procedure: str | None = None,
    step: str | None = None,
    overdue: bool = False,
    sort: str = "due",
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> dict:
    """One page of the actor's inbox in ``view`` (mine | roles | office).

    Filters combine with AND; ``q`` searches NIK, name and receipt at once.  Sorted by due
    date (soonest first, tasks without a due date last) unless ``sort`` says otherwise."""
    if sort not in INBOX_SORTS:
        raise InvalidInput("Unknown sort {sort}; use one of {sorts}.", sort=sort, sorts=", ".join(INBOX_SORTS))
    page = max(1, int(page or 1))
    per_page = min(INBOX_MAX_PER_PAGE, max(1, int(per_page or 25)))
    now = now or utcnow()
    where = [*_office_clause(actor), *_view_clause(actor, view)]
    needs_case = False
    if q and q.strip():
        like = f"%{q.strip().lower()}%"
        where.append(
            or_(
                func.lower(Case.resident_name).like(like),
                func.lower(Case.receipt).like(like),
                Case.resident_nik.like(like),
            )
        )
        needs_case = True
    if nik and nik.strip():
        where.append(Case.resident_nik.like(f"%{nik.strip()}%"))
        needs_case = True
    if name and name.strip():
        where.append(func.lower(Case.resident_name).like(f"%{name.strip().lower()}%"))
        needs_case = True
    if receipt and receipt.strip():
        where.append(func.lower(Case.receipt).like(f"%{receipt.strip().lower()}%"))
        needs_case = True
    if procedure:
        where.append(Case.process_key == procedure)
        needs_case = True
    if step:
        where.append(HumanTask.step == step)
    if overdue:
        where.append(HumanTask.due_at.is_not(None))
        where.append(HumanTask.due_at < now)

    columns = (
        HumanTask.id,
        HumanTask.case_id,
        HumanTask.step,
        HumanTask.name,
        HumanTask.name_en,
        HumanTask.role,
        HumanTask.assignee,
        HumanTask.created_at,
        HumanTask.due_at,
        HumanTask.version,
        Case.receipt,
        Case.resident_name,
        Case.resident_nik,
        Case.process_key,
    )
    offset = (page - 1) * per_page

    def page_of(s, clauses, order, limit, skip):
        if limit <= 0:
            return []
        return s.execute(
            select(*columns)
            .select_from(HumanTask)
            .join(Case, Case.id == HumanTask.case_id)
            .where(*clauses)
            .order_by(*order)
            .limit(limit)
            .offset(skip)
        ).all()

    def count(s, clauses, join_case):
        stmt = select(func.count()).select_from(HumanTask)
        if join_case:
            stmt = stmt.join(Case, Case.id == HumanTask.case_id)
        return s.scalar(stmt.where(*clauses))

    with runtime.read() as s:
        counts = inbox_counts(runtime, actor, s)
        filtered = needs_case or step or overdue
        total = count(s, where, needs_case) if filtered or view not in counts else counts[view]
        if sort in ("due", "-due"):
            # Tasks with a due date first, in due order, then those without one.  Two queries
            # instead of "ORDER BY due_at IS NULL, due_at", so both databases walk the
            # (office, ..., due_at) indexes in order instead of sorting every open task.
            undated = 0 if overdue else count(s, [*where, HumanTask.due_at.is_(None)], needs_case)
            dated = total - undated
            due = HumanTask.due_at if sort == "due" else HumanTask.due_at.desc()
            rows = (
                page_of(
                    s,
                    [*where, HumanTask.due_at.is_not(None)],
                    (due, HumanTask.created_at),
                    min(per_page, dated - offset),
                    offset,
                )
                if offset < dated
                else []
            )
            rows += (
                page_of(
                    s,
                    [*where, HumanTask.due_at.is_(None)],
                    (HumanTask.created_at, HumanTask.id),
                    per_page - len(rows),
                    max(0, offset - dated),
                )
                if undated
                else []
            )
        else:
            order = {
                "waiting": (HumanTask.created_at, HumanTask.id),
                "receipt": (Case.receipt, HumanTask.created_at),
                "name": (Case.resident_name, Case.receipt),
            }[sort]
            rows = page_of(s, where, order, per_page, offset)
        assignees = {r.assignee for r in rows if r.assignee}
        names = (
            dict(s.execute(select(User.username, User.display_name).where(User.username.in_(assignees))).all())
            if assignees
            else {}
        )
    items = [
        {
            "id": r.id,
            "case_id": r.case_id,
            "receipt": r.receipt,
            "resident_name": r.resident_name,
            "nik_masked": mask_nik(r.resident_nik),
            "process": r.process_key,
            "step": r.step,
            "name": r.name,
            "name_en": r.name_en,
            "role": r.role,
            "assignee": r.assignee,
            "assignee_name": names.get(r.assignee) if r.assignee else None,
            "created_at": r.created_at,
            "due_at": r.due_at,
            "overdue": r.due_at is not None and r.due_at < now,
            "version": r.version,
        }
        for r in rows
    ]
    return {
        "view": view,
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": max(1, -(-total // per_page)),
        "counts": counts,
        "sort": sort,
    }


def inbox_options(runtime, actor: Actor) -> dict:
    """Choices for the inbox filters: the procedures deployed and their user steps (read from
    the latest diagrams, so the list does not cost a scan of the open tasks)."""
    with runtime.read() as s:
        latest = (
            select(ProcessVersion.process_key, func.max(ProcessVersion.version).label("v"))
            .group_by(ProcessVersion.process_key)
            .subquery()
        )
        versions = s.scalars(
            select(ProcessVersion)
            .join(latest, (latest.c.process_key == ProcessVersion.process_key) & (latest.c.v == ProcessVersion.version))
            .order_by(ProcessVersion.process_key)
        ).all()
        procedures = [{"key": v.process_key, "name": v.name} for v in versions]
        steps: dict[str, dict] = {}
        for version in versions:
            for bpmn_id, info in step_names(version).items():
                if info["kind"] == "userTask" and bpmn_id not in steps:
                    steps[bpmn_id] = {"step": bpmn_id, "name": info["name"], "name_en": info["name_en"]}
    return {"procedures": procedures, "steps": sorted(steps.values(), key=lambda x: x["name"] or x["step"])}
