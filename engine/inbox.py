"""Read-side queries for the clerks' screens: the task inbox (views, filters, counts,
paging), the start forms of procedures, step names and a case's diagram state.

Office isolation is part of every query here, as in engine.cases: a clerk's inbox holds
only tasks of their own office, whatever filters the caller passes.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select

from ._step_names import step_names
from .actors import Actor
from .errors import Forbidden, InvalidInput
from .ids import MAX_ID, strict_int
from .models import Case, HumanTask, ProcessVersion, User, utcnow
from .search import case_match, name_match, nik_match, receipt_match

VIEWS = ("mine", "roles", "office")
SORTS = ("due", "-due", "waiting", "receipt", "name")
MAX_PER_PAGE = 200


def mask_nik(nik: str | None) -> str:
    """A NIK with all but its last four digits hidden (inbox lists are seen over shoulders)."""
    nik = nik or ""
    return "•" * max(0, len(nik) - 4) + nik[-4:]


def can_view(actor: Actor, view: str) -> bool:
    return view != "office" or actor.has_role("supervisor")


def _view_clause(actor: Actor, view: str):
    if view not in VIEWS:
        raise InvalidInput("Unknown inbox view {view}; use one of {views}.", view=view, views=", ".join(VIEWS))
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


_COUNTS: dict = {}


def _count_statement(view: str, system: bool):
    """The count of one view, built once (the same clauses as ``_view_clause`` and
    ``_office_clause``, the actor's office, name and roles as parameters): every inbox page
    and badge runs these, and building a statement costs more than running it."""
    stmt = _COUNTS.get((view, system))
    if stmt is None:
        where = [] if system else [HumanTask.office_code == bindparam("office")]
        if view == "mine":
            where.append(HumanTask.assignee == bindparam("user"))
        elif view == "roles":
            where.append(HumanTask.assignee.is_(None))
            if not system:
                where.append(HumanTask.role.in_(bindparam("roles", expanding=True)))
        stmt = _COUNTS[(view, system)] = select(func.count()).select_from(HumanTask).where(*where)
    return stmt


def inbox_counts(runtime, actor: Actor, session=None) -> dict:
    """The badge of each view the actor may open (``office`` only for a supervisor)."""

    params = {"office": actor.office_code, "user": actor.username, "roles": sorted(actor.roles)}

    def run(s):
        conn = s.connection()
        return {
            view: conn.execute(_count_statement(view, actor.is_system), params).scalar()
            for view in VIEWS
            if can_view(actor, view)
        }

    if session is not None:
        return run(session)
    with runtime.read() as s:
        return run(s)


def _per_page(per_page) -> int:
    """Page size as sent (ASCII digits), cut to 1..MAX_PER_PAGE."""
    try:
        return min(MAX_PER_PAGE, max(1, strict_int(per_page or 25)))
    except ValueError:
        raise InvalidInput("Page {page} does not exist.", page=str(per_page)[:30]) from None


def _display_page(page) -> int:
    """The page number shown ("page 3 of 9"): only a label, paging is by cursor."""
    try:
        page = max(1, strict_int(page or 1))
    except ValueError:
        raise InvalidInput("Page {page} does not exist.", page=str(page)[:30]) from None
    if page > MAX_ID:
        raise InvalidInput("Page {page} does not exist.", page=page)
    return page


# -- keyset paging -------------------------------------------------------------------------
#
# Every sort is a list of segments read one after the other (tasks with a due date, then
# those without one), each with its WHERE clause and its ordered keys, the task id last so
# that every key is unique.  A cursor names a row of a page's edge: the segment and the
# values of its keys.  A page is read from an index in key order and cut after per_page + 1
# rows: no OFFSET, and the cases are joined to the page's rows only.

ASC, DESC = False, True


def _segments(sort: str) -> list[tuple[list, list]]:
    dated, undated = [HumanTask.due_at.is_not(None)], [HumanTask.due_at.is_(None)]
    by_wait = [(HumanTask.created_at, ASC), (HumanTask.id, ASC)]
    if sort == "due":
        return [(dated, [(HumanTask.due_at, ASC), *by_wait]), (undated, by_wait)]
    if sort == "-due":
        return [(dated, [(HumanTask.due_at, DESC), *by_wait]), (undated, by_wait)]
    if sort == "waiting":
        return [([], by_wait)]
    if sort == "receipt":
        return [([], [(Case.receipt, ASC), (HumanTask.id, ASC)])]
    return [([], [(Case.resident_name, ASC), (Case.receipt, ASC), (HumanTask.id, ASC)])]  # name


def _beyond(keys, values, backwards: bool):
    """Rows after the cursor's row in the keys' order (before it when ``backwards``): the
    lexicographic comparison spelt out, with a bound on the first key so that the index scan
    starts at the cursor instead of filtering every row before it."""
    alternatives = []
    for i, (column, desc) in enumerate(keys):
        later = (column < values[i]) if desc != backwards else (column > values[i])
        alternatives.append(and_(*[keys[j][0] == values[j] for j in range(i)], later))
    first, desc = keys[0]
    bound = (first <= values[0]) if desc != backwards else (first >= values[0])
    return and_(bound, or_(*alternatives))


def _key_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def encode_cursor(sort: str, segment: int, values) -> str:
    raw = json.dumps([sort, segment, *(_key_value(v) for v in values)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[int, list]:
    """Segment and key values of a cursor made by :func:`encode_cursor`; anything else is a 400."""
    segments = _segments(sort)
    try:
        if not isinstance(cursor, str) or len(cursor) > 600 or not cursor.isascii():
            raise ValueError
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        made_for, segment, values = raw[0], raw[1], raw[2:]
        if made_for != sort or not isinstance(segment, int) or not 0 <= segment < len(segments):
            raise ValueError
        keys = segments[segment][1]
        if len(values) != len(keys):
            raise ValueError
        typed = []
        for (column, _desc), value in zip(keys, values, strict=True):
            if not isinstance(value, str) or len(value) > 200 or "\x00" in value:
                raise ValueError
            if column.key in ("due_at", "created_at"):
                value = datetime.fromisoformat(value)
                if value.tzinfo is None:
                    raise ValueError
            typed.append(value)
        return segment, typed
    except (ValueError, TypeError, IndexError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("Page {page} does not exist.", page=str(cursor)[:30]) from None


def _task_page(s, sort, where, join_case, per_page, *, after=None, before=None, last=False) -> dict:
    """The rows of one page (HumanTask columns and the sort keys) and the cursors next to it."""
    segments = _segments(sort)
    backwards = before is not None or last
    cursor = decode_cursor(after or before, sort) if (after or before) else None
    order_of: list[int] = list(range(len(segments) - 1, -1, -1) if backwards else range(len(segments)))
    if cursor is not None:
        order_of = [i for i in order_of if (i <= cursor[0] if backwards else i >= cursor[0])]
    rows: list = []
    for index in order_of:
        clauses, keys = segments[index]
        stmt = select(*TASK_COLUMNS, *[c.label(f"k{i}") for i, (c, _d) in enumerate(keys)]).select_from(HumanTask)
        if join_case:
            stmt = stmt.join(Case, Case.id == HumanTask.case_id)
        stmt = stmt.where(*where, *clauses)
        if cursor is not None and index == cursor[0]:
            stmt = stmt.where(_beyond(keys, cursor[1], backwards))
        order = [(c.asc() if desc == backwards else c.desc()) for c, desc in keys]
        found = s.execute(stmt.order_by(*order).limit(per_page + 1 - len(rows))).all()
        rows += [(index, r) for r in found]
        if len(rows) > per_page:
            break
    more = len(rows) > per_page
    rows = rows[:per_page]
    if backwards:
        rows.reverse()
        has_prev, has_next = more, not last
    else:
        has_prev, has_next = cursor is not None, more

    def cursor_of(entry):
        index, row = entry
        return encode_cursor(sort, index, [row._mapping[f"k{i}"] for i in range(len(segments[index][1]))])

    return {
        "rows": [r for _i, r in rows],
        "next": cursor_of(rows[-1]) if rows and has_next else None,
        "prev": cursor_of(rows[0]) if rows and has_prev else None,
    }


TASK_COLUMNS = (
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
)


def inbox(
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
    per_page: int = 25,
    after: str | None = None,
    before: str | None = None,
    last: bool = False,
    page: int | None = None,
    now: datetime | None = None,
) -> dict:
    """One page of the actor's inbox in ``view`` (mine | roles | office).

    Filters combine with AND; ``q`` searches NIK, name and receipt at once.  Sorted by due
    date (soonest first, tasks without a due date last) unless ``sort`` says otherwise.

    Paged by key: ``after`` (the ``next`` cursor of a page) for the page after it,
    ``before`` (its ``prev`` cursor) for the one before, ``last`` for the last page, none of
    them for the first.  ``page`` is only the number to show; ``pages`` and ``total`` count
    the whole view."""
    if sort not in SORTS:
        raise InvalidInput("Unknown sort {sort}; use one of {sorts}.", sort=sort, sorts=", ".join(SORTS))
    per_page = _per_page(per_page)
    page = _display_page(page)
    if page > 1 and not (after or before or last):
        # a page number alone names no page (an old bookmark): pages are reached by cursor
        raise InvalidInput("Page {page} does not exist.", page=page)
    now = now or utcnow()
    where = [*_office_clause(actor), *_view_clause(actor, view)]
    needs_case = sort in ("receipt", "name")
    filtered = False
    dialect = runtime.db.engine.dialect.name
    # the case searches go where an index answers them (engine/search.py), as the case list's
    for value, match in ((q, case_match), (nik, nik_match), (name, name_match), (receipt, receipt_match)):
        if value and value.strip():
            where.append(match(dialect, value))
            filtered = True
    if procedure:
        where.append(Case.process_key == procedure)
        filtered = True
    case_filter = filtered
    if step:
        where.append(HumanTask.step == step)
        filtered = True
    if overdue:
        where.append(HumanTask.due_at.is_not(None))
        where.append(HumanTask.due_at < now)
        filtered = True

    with runtime.read() as s:
        counts = inbox_counts(runtime, actor, s)
        if filtered or view not in counts:
            stmt = select(func.count()).select_from(HumanTask)
            if case_filter:
                stmt = stmt.join(Case, Case.id == HumanTask.case_id)
            total = s.scalar(stmt.where(*where))
        else:
            total = counts[view]
        cut = _task_page(s, sort, where, needs_case or case_filter, per_page, after=after, before=before, last=last)
        rows = cut["rows"]
        case_ids = {r.case_id for r in rows}
        cases = (
            {
                c.id: c
                for c in s.execute(
                    select(Case.id, Case.receipt, Case.resident_name, Case.resident_nik, Case.process_key).where(
                        Case.id.in_(case_ids)
                    )
                ).all()
            }
            if case_ids
            else {}
        )
        assignees = {r.assignee for r in rows if r.assignee}
        names = (
            dict(s.execute(select(User.username, User.display_name).where(User.username.in_(assignees))).all())
            if assignees
            else {}
        )
    pages = max(1, -(-total // per_page))
    if last:
        page = pages
    elif cut["prev"] is None:
        page = 1
    page = min(page, pages)
    items = [
        {
            "id": r.id,
            "case_id": r.case_id,
            "receipt": cases[r.case_id].receipt,
            "resident_name": cases[r.case_id].resident_name,
            "nik_masked": mask_nik(cases[r.case_id].resident_nik),
            "process": cases[r.case_id].process_key,
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
        if r.case_id in cases
    ]
    return {
        "view": view,
        "items": items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": pages,
        "counts": counts,
        "sort": sort,
        "next_after": cut["next"],
        "prev_before": cut["prev"],
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
