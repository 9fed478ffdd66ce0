"""Read-side queries for the clerks' screens: the task inbox (views, filters, counts,
paging), the start forms of procedures, step names and a case's diagram state.

Office isolation is part of every query here, as in engine.cases: a clerk's inbox holds
only tasks of their own office, whatever filters the caller passes.
"""

from __future__ import annotations

import threading
from datetime import datetime

from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import func, or_, select

from .actors import Actor
from .cases import find_case, start_form_of, visible_case
from .errors import Forbidden, InvalidInput
from .ids import MAX_ID, strict_int
from .models import Case, HumanTask, ProcessVersion, User, utcnow
from .processes import latest_version

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


def inbox_counts(runtime, actor: Actor, session=None) -> dict:
    """The badge of each view the actor may open (``office`` only for a supervisor)."""

    def run(s):
        counts = {}
        for view in VIEWS:
            if not can_view(actor, view):
                continue
            stmt = select(func.count()).select_from(HumanTask).where(*_office_clause(actor), *_view_clause(actor, view))
            counts[view] = s.scalar(stmt)
        return counts

    if session is not None:
        return run(session)
    with runtime.read() as s:
        return run(s)


def _paging(page, per_page) -> tuple[int, int]:
    """Page number and size as sent (ASCII digits); a page no database offset can reach is a 400."""
    try:
        page = max(1, strict_int(page or 1))
        per_page = min(MAX_PER_PAGE, max(1, strict_int(per_page or 25)))
    except ValueError:
        raise InvalidInput("Page {page} does not exist.", page=str(page)[:30]) from None
    if (page - 1) * per_page > MAX_ID:
        raise InvalidInput("Page {page} does not exist.", page=page)
    return page, per_page


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
    page: int = 1,
    per_page: int = 25,
    now: datetime | None = None,
) -> dict:
    """One page of the actor's inbox in ``view`` (mine | roles | office).

    Filters combine with AND; ``q`` searches NIK, name and receipt at once.  Sorted by due
    date (soonest first, tasks without a due date last) unless ``sort`` says otherwise."""
    if sort not in SORTS:
        raise InvalidInput("Unknown sort {sort}; use one of {sorts}.", sort=sort, sorts=", ".join(SORTS))
    page, per_page = _paging(page, per_page)
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


# -- procedures ----------------------------------------------------------------------------


def start_form(runtime, process_key: str) -> dict:
    """The latest version of a procedure with the form a clerk fills in to start it."""
    with runtime.read() as s:
        version = latest_version(s, process_key)
        spec, _subs = runtime.spec_for(version)
        key, form = start_form_of(version, spec)
        return {
            "process": version.process_key,
            "name": version.name,
            "version": version.version,
            "form_key": key,
            "form": form,
        }


def startable_processes(runtime) -> list[dict]:
    """Procedures a clerk can start at the counter (those whose start event has a form)."""
    result = []
    with runtime.read() as s:
        keys = s.scalars(select(ProcessVersion.process_key).distinct().order_by(ProcessVersion.process_key)).all()
        for key in keys:
            version = latest_version(s, key)
            spec, _subs = runtime.spec_for(version)
            form_key, form = start_form_of(version, spec)
            if form:
                result.append({"process": key, "name": version.name, "version": version.version, "form_key": form_key})
    return result


# -- steps and diagrams --------------------------------------------------------------------

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
_names_cache: dict[str, dict] = {}
_names_lock = threading.Lock()


def _parse_step_names(bpmn_xml: str) -> dict:
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    names = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(_BPMN):
            continue
        bpmn_id = element.get("id")
        if not bpmn_id or element.get("name") is None:
            continue
        english = {
            prop.get("name"): prop.get("value")
            for prop in element.iter(f"{_SPIFF}property")
            if prop.get("name") in ("name_en", "instructions_en")
        }
        names[bpmn_id] = {
            "name": element.get("name"),
            "name_en": english.get("name_en"),
            "instructions_en": english.get("instructions_en"),
            "kind": element.tag[len(_BPMN) :],
        }
    return names


def step_names(version: ProcessVersion) -> dict:
    """BPMN element id -> {name, name_en, instructions_en, kind} for a process version (cached by content)."""
    cached = _names_cache.get(version.content_hash)
    if cached is None:
        parsed = _parse_step_names(version.bpmn_xml)
        with _names_lock:
            cached = _names_cache.setdefault(version.content_hash, parsed)
    return cached


def case_diagram(runtime, case_ref, actor: Actor) -> dict:
    """The case's BPMN diagram with the elements it has passed and where it stands now."""
    from .workflow import CaseWorkflow  # loading a workflow needs the sandbox; import late

    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        version = case.process_version
        cw = CaseWorkflow.load(runtime, s, case, cached=False)
        completed, current = set(), set()
        for task in cw.wf.get_tasks():
            spec = task.task_spec
            bpmn_id = getattr(spec, "bpmn_id", None)
            if not bpmn_id:
                continue
            if task.state == TaskState.COMPLETED:
                completed.add(bpmn_id)
            elif task.state in (TaskState.READY, TaskState.STARTED, TaskState.ERROR) or (
                task.state == TaskState.WAITING and "Boundary" not in type(spec).__name__
            ):
                current.add(bpmn_id)
        if case.status not in ("active", "incident"):
            current = set()
        return {
            "receipt": case.receipt,
            "process": case.process_key,
            "version": version.version,
            "bpmn_xml": version.bpmn_xml,
            "completed": sorted(completed - current),
            "current": sorted(current),
            "names": step_names(version),
        }


def field_labels(runtime, process_key: str) -> dict:
    """Field key -> {label, label_en} from every form of a procedure's latest version, so
    the case data can be shown with the labels the clerk filled it in under."""
    from .forms import iter_fields

    with runtime.read() as s:
        version = latest_version(s, process_key)
        forms = list((version.forms or {}).values())
        # then the forms of the other procedures: a case that came from another office (the
        # regency's print) carries data entered under their forms
        others = s.scalars(
            select(ProcessVersion.forms)
            .where(ProcessVersion.process_key != process_key)
            .order_by(ProcessVersion.process_key, ProcessVersion.version.desc())
        ).all()
        forms += [f for other in others for f in (other or {}).values()]
    labels: dict[str, dict] = {}
    for form in forms:
        for comp in iter_fields(form or {}):
            props = comp.get("properties") or {}
            values_en = dict(pair.split("=", 1) for pair in (props.get("values_en") or "").split(";") if "=" in pair)
            labels.setdefault(
                comp["key"],
                {
                    "label": comp.get("label") or comp.get("dateLabel") or comp["key"],
                    "label_en": props.get("label_en"),
                    "type": comp.get("type"),
                    "values_key": comp.get("valuesKey"),
                    "values": {
                        str(v.get("value")): {"label": v.get("label"), "label_en": values_en.get(str(v.get("value")))}
                        for v in comp.get("values") or []
                    },
                },
            )
    return labels
