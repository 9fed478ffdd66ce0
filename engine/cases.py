"""The case API: start, work, message, cancel and look at cases.

Every call is one transaction with its audit event written inside it; plugins hear about
the event only after the commit.  Office isolation lives here, in the queries: a case of
another office is "not found" for a clerk, and the attempt is logged.
"""

from __future__ import annotations

import logging
import re

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager, lazyload

from ._case_access import OPEN_STATUSES, find_case, visible_case
from ._incidents import describe_incident
from ._step_names import step_names
from ._timeline import announce_end, record_event
from ._workflow import CaseWorkflow
from .actors import Actor
from .errors import Conflict, Forbidden, InvalidInput, NotFound, ValidationFailed
from .forms import fill_from_actor, validate_form_data
from .i18n import N_, Message
from .ids import MAX_ID
from .models import (
    Case,
    CaseEvent,
    HumanTask,
    InboxReceipt,
    Job,
    Office,
    ProcessVersion,
    ReceiptSerial,
    Row,
    utcnow,
)
from .plugin_types import CaseView
from .processes import latest_version_id
from .requirements import REQUIREMENTS_KEY, UPLOADED_KEY, requirements_for, uploaded_requirement_keys

log = logging.getLogger("simpul.engine")

NIK_RE = re.compile(r"^[0-9]{16}$")


# -- helpers -------------------------------------------------------------------------------


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


_INSERT_CASE = Case.__table__.insert().returning(Case.__table__.c.id)
_SERIALS = ReceiptSerial.__table__
#: One statement takes the next serial: the UPDATE locks the row until commit on both databases.
_TAKE_SERIAL = (
    _SERIALS.update()
    .where(_SERIALS.c.office_code == bindparam("office"), _SERIALS.c.year == bindparam("of_year"))
    .values(last=_SERIALS.c.last + 1)
    .returning(_SERIALS.c.last)
)
_OFFICE_EXISTS = select(Office.__table__.c.code).where(Office.__table__.c.code == bindparam("code"))
_OPEN_CASE_OF = (
    select(Case.__table__.c.receipt)
    .where(
        Case.__table__.c.resident_nik == bindparam("nik"),
        Case.__table__.c.office_code == bindparam("office"),
        Case.__table__.c.status.in_(OPEN_STATUSES),
    )
    .limit(1)
)


def _next_receipt(session, office_code: str, year: int) -> str:
    """Office code, year, serial: ``640205-2026-00042``, safe against concurrent starts."""
    conn = session.connection()
    params = {"office": office_code, "of_year": year}
    serial = conn.execute(_TAKE_SERIAL, params).scalar()
    if serial is None:  # the office's first case this year
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(_SERIALS).values(office_code=office_code, year=year, last=0).on_conflict_do_nothing())
        serial = conn.execute(_TAKE_SERIAL, params).scalar()
    return f"{office_code}-{year}-{serial:05d}"


def start_form_of(version: ProcessVersion, spec) -> tuple[str | None, dict | None]:
    for ts in spec.task_specs.values():
        if (
            type(ts).__name__ == "StartEvent"
            and getattr(ts, "event_definition", None) is not None
            and type(ts.event_definition).__name__ == "NoneEventDefinition"
        ):
            key = ((getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}).get("formKey")
            if key:
                return key, version.forms.get(key)
    return None, None


def once_per_resident_end(spec) -> str | None:
    """The name of the end event after which a resident may not start this process again,
    from the start event's ``once_per_resident`` property (the new card's "Selesai": a card
    is issued once; a lost card is a replacement, a new address a data change)."""
    for ts in spec.task_specs.values():
        if type(ts).__name__ != "StartEvent":
            continue
        end_id = ((getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}).get("once_per_resident")
        if end_id:
            end = next((t for t in spec.task_specs.values() if getattr(t, "bpmn_id", None) == end_id), None)
            return (end.bpmn_name or end_id) if end is not None else None
    return None


def _combine_errors(results) -> dict:
    errors: dict[str, list] = {}
    for result in results:
        for fld, messages in (result or {}).items():
            errors.setdefault(fld, []).extend(messages if isinstance(messages, list) else [messages])
    return errors


def _incident_event(uow, cw: CaseWorkflow, actor: Actor):
    if cw.incident:
        record_event(uow, cw.case, "incident", actor, detail=cw.incident)


def _uses_requirements(form: dict | None) -> bool:
    from .forms import iter_fields

    return form is not None and any(c.get("valuesKey") == REQUIREMENTS_KEY for c in iter_fields(form))


# -- starting ------------------------------------------------------------------------------


def start_case(
    runtime,
    process_key: str,
    data,
    actor: Actor,
    *,
    office_code: str | None = None,
    correlation_key: str | None = None,
    initiated_by_message: bool = False,
) -> dict:
    """Start a case of the latest version of ``process_key`` for a resident.

    ``data`` must hold ``nik`` and ``resident_name`` and whatever the start form asks.  A
    resident with an open case in the same office is refused (Conflict naming that case)."""
    if not isinstance(data, dict):
        raise InvalidInput("Case data must be a JSON object.")
    office_code = office_code or actor.office_code or runtime.config.office_code
    if not actor.sees_office(office_code):
        raise Forbidden("You cannot start cases for office {office}.", office=office_code)
    with runtime.transaction() as uow:
        return _start(runtime, uow, process_key, data, actor, office_code, correlation_key, initiated_by_message)


def _has_kelurahan_choice(form) -> bool:
    """The start form chooses its kelurahan from the office directory (``valuesKey``)."""
    from .forms import iter_fields

    return any(c.get("key") == "kelurahan" and c.get("valuesKey") == "kelurahan" for c in iter_fields(form))


def _start(runtime, uow, process_key, data, actor, office_code, correlation_key, initiated_by_message) -> dict:
    s = uow.session
    conn = s.connection()
    if conn.execute(_OFFICE_EXISTS, {"code": office_code}).first() is None:
        raise InvalidInput("Unknown office {code}.", code=office_code)
    version = runtime.version_info(s, latest_version_id(s, process_key))
    spec, _subs = version.spec
    _form_key, form = start_form_of(version, spec)
    cleaned = validate_form_data(form, data) if (form and not initiated_by_message) else dict(data)
    nik = str(cleaned.get("nik", "")).strip()
    name = str(cleaned.get("resident_name", "")).strip()
    errors = {}
    if not NIK_RE.match(nik):
        errors["nik"] = ["A NIK is 16 digits."]
    if not name:
        errors["resident_name"] = ["This field is required."]
    if form and not initiated_by_message and _has_kelurahan_choice(form) and cleaned.get("kelurahan"):
        from .directory import choose_kelurahan

        try:
            chosen = choose_kelurahan(s, office_code, cleaned["kelurahan"])
        except InvalidInput as exc:
            errors["kelurahan"] = [Message(exc.template, **exc.params)]
        else:
            cleaned["kelurahan"] = chosen or cleaned["kelurahan"]
    if errors:
        raise ValidationFailed("Some fields need attention.", errors=errors)
    errors = _combine_errors(
        runtime.hook.validate_case_start(procedure=process_key, office_code=office_code, data=cleaned)
    )
    if errors:
        raise ValidationFailed("Some fields need attention.", errors=errors)
    existing = conn.execute(_OPEN_CASE_OF, {"nik": nik, "office": office_code}).scalar()
    if existing is not None:
        raise Conflict(
            "Resident {nik} already has an open case {receipt}.", nik=nik, receipt=existing, errors={"case": existing}
        )
    issued_at = once_per_resident_end(spec)
    if issued_at is not None:
        earlier = s.scalar(
            select(Case.receipt)
            .where(
                Case.resident_nik == nik,
                Case.office_code == office_code,
                Case.process_key == process_key,
                Case.status == "completed",
                Case.end_reason == issued_at,
            )
            .order_by(Case.id.desc())
            .limit(1)
        )
        if earlier is not None:
            raise Conflict(
                N_(
                    "Resident {nik} already received an e-KTP in case {receipt}; it is issued once. For a lost "
                    "or damaged card apply for a replacement; for changed data, a data change."
                ),
                nik=nik,
                receipt=earlier,
                errors={"case": earlier},
            )
    now = utcnow()
    receipt = _next_receipt(s, office_code, now.year)
    values = dict(
        receipt=receipt,
        office_code=office_code,
        process_key=process_key,
        process_version_id=version.id,
        resident_nik=nik,
        resident_name=name,
        status="active",
        correlation_key=correlation_key or receipt,
        data={},
        incident=None,
        end_reason=None,
        outcome=None,
        created_by=actor.username,
        created_at=now,
        updated_at=now,
        ended_at=None,
        lock_version=0,
    )
    case = Row(id=conn.execute(_INSERT_CASE, values).scalar_one(), **values)
    start_data = {**cleaned, "receipt": receipt, "office_code": office_code}
    cw = CaseWorkflow.new(runtime, s, case, version, start_data)
    cw.advance()
    opened = cw.save()
    record_event(
        uow,
        case,
        "case_started",
        actor,
        detail=f"{version.name} v{version.version}",
        after={k: v for k, v in cleaned.items()},
    )
    _incident_event(uow, cw, actor)
    return _case_summary(case, opened)


def _case_summary(case: Case | Row, opened=()) -> dict:
    return {
        "id": case.id,
        "receipt": case.receipt,
        "status": case.status,
        "process": case.process_key,
        "office": case.office_code,
        "incident": case.incident,
        "open_tasks": [task_dict(t, case) for t in opened],
    }


# -- tasks ---------------------------------------------------------------------------------


def task_dict(t: HumanTask | Row, case: Case | Row | None = None) -> dict:
    case = case or t.case
    return {
        "id": t.id,
        "case_id": t.case_id,
        "receipt": case.receipt,
        "resident_name": case.resident_name,
        "nik": case.resident_nik,
        "process": case.process_key,
        "step": t.step,
        "name": t.name,
        "name_en": t.name_en,
        "lane": t.lane,
        "role": t.role,
        "assignee": t.assignee,
        "form_key": t.form_key,
        "instructions": t.instructions,
        "office": t.office_code,
        "version": t.version,
        "created_at": t.created_at.isoformat(),
        "due_at": t.due_at.isoformat() if t.due_at else None,
    }


def _task_filters(actor, *, role=None, case_receipt=None, assignee=None, step=None, claimed=None, ids=None) -> list:
    where = [HumanTask.id.in_(list(ids))] if ids is not None else []
    if not actor.is_system:
        where.append(HumanTask.office_code == actor.office_code)
    if role:
        where.append(HumanTask.role == role)
    if assignee:
        where.append(HumanTask.assignee == assignee)
    if step:
        where.append(HumanTask.step == step)
    if claimed is not None:
        where.append(HumanTask.assignee.is_not(None) if claimed else HumanTask.assignee.is_(None))
    if case_receipt:
        where.append(Case.receipt == case_receipt)
    return where


def list_tasks(
    runtime,
    actor: Actor,
    *,
    role: str | None = None,
    case_receipt: str | None = None,
    assignee: str | None = None,
    step: str | None = None,
    claimed: bool | None = None,
    ids=None,
    limit: int = 500,
) -> list[dict]:
    """Open tasks the actor's office may see, the most urgent first, optionally by role, case,
    assignee, step (a BPMN task id) or whether someone holds them; the filters are in the
    query, so a page that wants one step of a regency's 20,000 open tasks gets that step's,
    not those among the first ``limit``.  ``count_tasks`` counts the same filters."""
    where = _task_filters(
        actor, role=role, case_receipt=case_receipt, assignee=assignee, step=step, claimed=claimed, ids=ids
    )
    with runtime.read() as s:
        # the case comes in the same row (its version is not needed for a list)
        stmt = (
            select(HumanTask)
            .join(HumanTask.case)
            .options(contains_eager(HumanTask.case).lazyload(Case.process_version))
            .where(*where)
            .order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at)
            .limit(limit)
        )
        return [task_dict(t) for t in s.scalars(stmt)]


def count_tasks(runtime, actor: Actor, *, role=None, step=None, assignee=None, claimed=None) -> int:
    """How many open tasks ``list_tasks`` with these filters would list without its limit."""
    where = _task_filters(actor, role=role, step=step, assignee=assignee, claimed=claimed)
    with runtime.read() as s:
        return s.scalar(select(func.count()).select_from(HumanTask).where(*where))


def get_task(runtime, task_id: str, actor: Actor) -> dict:
    """A step with its form, the case's data and who holds it, if the actor's office may see it."""
    with runtime.read() as s:
        task = s.get(HumanTask, task_id)
        if task is None:
            raise NotFound("Task {id} not found.", id=task_id)
        visible_case(task.case, actor, "Task")
        result = task_dict(task)
        result["form"] = task.case.process_version.forms.get(task.form_key) if task.form_key else None
        result["instructions_en"] = (step_names(task.case.process_version).get(task.step) or {}).get("instructions_en")
        result["case_data"] = dict(task.case.data)
        if task.assignee:
            since = claimed_since(s, task.id)
            result["assignee_name"] = display_name(s, task.assignee)
            result["claimed_at"] = since.isoformat() if since else None
        result["requirements"] = (
            requirements_for(runtime, task.case.process_key, task.case.data)
            if _uses_requirements(result["form"])
            else []
        )
        return result


_CASES, _TASKS = Case.__table__, HumanTask.__table__
_CASE_KEYS = tuple(c.key for c in _CASES.c)
_TASK_KEYS = tuple(c.key for c in _TASKS.c)
#: Built once: every completion and claim runs it.
_TASK_WITH_CASE = (
    select(*_CASES.c, *[c.label(f"task_{c.key}") for c in _TASKS.c])
    .select_from(_TASKS.join(_CASES, _TASKS.c.case_id == _CASES.c.id))
    .where(_TASKS.c.id == bindparam("task_id"))
)
_CASE_FOR_UPDATE = select(*_CASES.c).where(_CASES.c.id == bindparam("cid")).with_for_update()
_TASK_ROW = select(*_TASKS.c).where(_TASKS.c.id == bindparam("task_id"))
_SET_ASSIGNEE = (
    _TASKS.update()
    .where(_TASKS.c.id == bindparam("tid"))
    .values(assignee=bindparam("who"), version=bindparam("new_version"))
)


#: A stale form: said without the internal version number, which means nothing to a clerk.
STALE_TASK = N_("Someone changed this step since you opened it; look at it again before you continue.")


def display_name(session, username: str | None) -> str | None:
    """A user's name as people know it (their display name), the login when they have none."""
    if not username:
        return username
    from .models import User

    return session.scalar(select(User.display_name).where(User.username == username)) or username


def task_completion(runtime, task_id: str, actor: Actor) -> dict | None:
    """Who completed a task that is no longer open, when, and on which case (None when the
    task never existed, or the actor may not see its case)."""
    with runtime.read() as s:
        done = _completion_of(s, task_id)
        if done is None:
            return None
        case = s.get(Case, done.case_id)
        try:
            visible_case(case, actor, "Task")
        except NotFound:
            return None
        return {
            "task_id": task_id,
            "receipt": case.receipt,
            "case_status": case.status,
            "step": done.step,
            "step_name": done.step_name,
            "user": done.actor,
            "user_name": display_name(s, done.actor),
            "at": done.at.isoformat(),
        }


def claimed_since(session, task_id: str):
    """When the current holder took the task (its last ``task_claimed`` event)."""
    return session.scalar(
        select(CaseEvent.at)
        .where(CaseEvent.task_id == task_id, CaseEvent.kind == "task_claimed")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


def _revealed_text(form: dict | None, cleaned: dict) -> str | None:
    """The text a decision asked for (a reason shown only for that answer), for the timeline:
    a rejection's reason stands on the case, not only in its data."""
    if not form:
        return None
    from .forms import iter_fields

    texts = [
        str(cleaned[c["key"]]).strip()
        for c in iter_fields(form)
        if c.get("type") in ("textarea", "textfield")
        and (c.get("conditional") or {}).get("hide")
        and cleaned.get(c["key"])
        and str(cleaned[c["key"]]).strip()
    ]
    return "; ".join(texts)[:2000] or None


def _completion_of(session, task_id: str) -> CaseEvent | None:
    """The event that completed a task, if one did (to explain a second completion)."""
    return session.scalar(
        select(CaseEvent).where(CaseEvent.task_id == task_id, CaseEvent.kind == "task_completed").limit(1)
    )


def _task_for_change(uow, task_id: str, actor: Actor) -> tuple[Row, Row]:
    """The task and its case (as rows), with the case locked; a concurrent winner is seen.

    SQLite's write transaction already holds the database lock, so one read does; on
    PostgreSQL the case row is locked first and the task read again under that lock."""
    s = uow.session
    conn = s.connection()
    found = conn.execute(_TASK_WITH_CASE, {"task_id": task_id}).mappings().first()
    if found is None:
        done = _completion_of(s, task_id)
        if done is not None:
            visible_case(s.get(Case, done.case_id), actor, "Task")
            raise Conflict(
                "This task was already completed by {user} at {at}.",
                user=display_name(s, done.actor),
                at=done.at.isoformat(timespec="seconds"),
            )
        raise NotFound("Task {id} not found.", id=task_id)
    case = Row(**{k: found[k] for k in _CASE_KEYS})
    task = Row(**{k: found[f"task_{k}"] for k in _TASK_KEYS})
    visible_case(case, actor, "Task")
    if s.bind.dialect.name == "postgresql":
        case = Row(**conn.execute(_CASE_FOR_UPDATE, {"cid": case.id}).mappings().one())
        fresh = conn.execute(_TASK_ROW, {"task_id": task_id}).mappings().first()
        if fresh is None:
            done = _completion_of(s, task_id)
            raise Conflict(
                "This task was already completed by {user}.", user=display_name(s, done.actor) if done else "?"
            )
        task = Row(**fresh)
    if not actor.has_role(task.role):
        raise Forbidden("This step needs the role {role}.", role=task.role)
    return case, task


def _set_assignee(uow, task: Row, username: str | None) -> None:
    uow.session.connection().execute(_SET_ASSIGNEE, {"tid": task.id, "who": username, "new_version": task.version + 1})
    task.assignee, task.version = username, task.version + 1


def claim_task(runtime, task_id: str, actor: Actor, *, expected_version: int | None = None) -> dict:
    """Take a step for oneself; refused (Conflict) when someone else holds it or it changed."""
    with runtime.transaction() as uow:
        case, task = _task_for_change(uow, task_id, actor)
        if expected_version is not None and task.version != expected_version:
            raise Conflict(STALE_TASK)
        if task.assignee == actor.username:
            return task_dict(task, case)
        if task.assignee is not None:
            raise Conflict("This task is already claimed by {user}.", user=display_name(uow.session, task.assignee))
        _set_assignee(uow, task, actor.username)
        record_event(
            uow, case, "task_claimed", actor, task=task, before={"assignee": None}, after={"assignee": actor.username}
        )
        return task_dict(task, case)


def unclaim_task(runtime, task_id: str, actor: Actor, *, expected_version: int | None = None) -> dict:
    """Give a claimed step back to the lane (its holder, or a supervisor for anyone)."""
    with runtime.transaction() as uow:
        case, task = _task_for_change(uow, task_id, actor)
        if expected_version is not None and task.version != expected_version:
            raise Conflict(STALE_TASK)
        if task.assignee is None:
            return task_dict(task, case)
        if task.assignee != actor.username and not actor.has_role("supervisor"):
            raise Conflict("This task is claimed by {user}.", user=display_name(uow.session, task.assignee))
        before = task.assignee
        _set_assignee(uow, task, None)
        record_event(
            uow, case, "task_unclaimed", actor, task=task, before={"assignee": before}, after={"assignee": None}
        )
        return task_dict(task, case)


def task_inputs(runtime) -> dict:
    """The inputs plugins accept beside a task's form (``task_inputs`` hook), by name."""
    return dict(runtime.task_inputs)


def _checked_extras(runtime, extras) -> dict:
    if extras is None:
        return {}
    if not isinstance(extras, dict):
        raise InvalidInput("Task extras must be a JSON object.")
    unknown = sorted(str(k) for k in extras if k not in runtime.task_inputs)
    if unknown:
        raise InvalidInput("No plugin accepts the task input {names}.", names=", ".join(unknown))
    for name, value in extras.items():
        if not isinstance(value, str):
            raise ValidationFailed("Some fields need attention.", errors={name: ["Enter a text."]})
    return dict(extras)


def _completing(runtime, uow, case, task, view, data, extras, actor) -> dict:
    """The plugins' ``task_completing`` results: their events recorded, their data returned."""
    stored: dict = {}
    results = runtime.hook.task_completing(
        case=view, step=task.step, form_key=task.form_key, data=data, extras=dict(extras), actor=actor
    )
    for result in reversed(results):  # registration order
        for event in (result or {}).get("events") or []:
            record_event(
                uow, case, str(event["kind"]), actor, task=task, detail=event.get("detail"), after=event.get("after")
            )
        stored.update((result or {}).get("data") or {})
    return stored


def complete_task(
    runtime,
    task_id: str,
    data,
    actor: Actor,
    *,
    expected_version: int | None = None,
    extras: dict | None = None,
) -> dict:
    """Complete a user task with form data.

    ``expected_version`` is the task version the clerk saw; a stale or second completion
    raises Conflict and changes nothing.  Form validation and the plugins'
    ``validate_task_data`` run before anything is written.

    ``extras``: inputs beside the form that plugins declared (``task_inputs`` hook, e.g. the
    verification plugin's ``override_reason``); an undeclared name is refused.  Plugins see
    them in ``validate_task_data`` and ``task_completing``."""
    if not isinstance(data, dict):
        raise InvalidInput("Task data must be a JSON object.")
    extras = _checked_extras(runtime, extras)
    with runtime.transaction() as uow:
        s = uow.session
        case, task = _task_for_change(uow, task_id, actor)
        if task.assignee is not None and task.assignee != actor.username and not actor.is_system:
            # said first: who holds it tells the clerk more than "it changed"
            raise Conflict("This task is claimed by {user}.", user=display_name(uow.session, task.assignee))
        if expected_version is not None and task.version != expected_version:
            raise Conflict(STALE_TASK)
        form = runtime.version_info(s, case.process_version_id).forms.get(task.form_key) if task.form_key else None
        cleaned = validate_form_data(form, fill_from_actor(form, data, actor.display_name or actor.username))
        cw = CaseWorkflow.load(runtime, s, case)
        spiff_task = cw.task(task_id)
        if spiff_task is None or spiff_task.state != TaskState.READY:
            raise Conflict("This step is no longer open.")
        merged = {**spiff_task.data, **cleaned}
        if _uses_requirements(form):
            merged[REQUIREMENTS_KEY] = requirements_for(runtime, case.process_key, merged)
            merged[UPLOADED_KEY] = uploaded_requirement_keys(s, case.id)  # an uploaded scan counts as received
        view = CaseView.of(case, merged)
        errors = _combine_errors(
            runtime.hook.validate_task_data(
                case=view, step=task.step, form_key=task.form_key, data=merged, extras=dict(extras), actor=actor
            )
        )
        if errors:
            raise ValidationFailed("Some fields need attention.", errors=errors)
        before = {k: spiff_task.data.get(k) for k in cleaned}
        cleaned.update(_completing(runtime, uow, case, task, view, merged, extras, actor))
        spiff_task.data.update(cleaned)
        try:
            spiff_task.run()
        except Exception as exc:  # a failing postscript: the case needs an administrator
            cw.incident = describe_incident(exc)
        else:
            cw.advance()
        opened = cw.save()  # first: the event's plugins see how the step left the case (ended, rejected)
        record_event(
            uow,
            case,
            "task_completed",
            actor,
            task=task,
            before=before,
            after=cleaned,
            detail=_revealed_text(form, cleaned),
        )
        _incident_event(uow, cw, actor)
        return _case_summary(case, opened)


# -- messages between offices --------------------------------------------------------------


def deliver_message(
    runtime, name: str, correlation_key: str, payload: dict | None, actor: Actor, *, office_code: str | None = None
) -> dict:
    """Deliver a BPMN message to the open case waiting for it under ``correlation_key``."""
    if payload is not None and not isinstance(payload, dict):
        raise InvalidInput("A message payload must be a JSON object.")
    with runtime.transaction() as uow:
        return _deliver(runtime, uow, name, correlation_key, payload or {}, actor, office_code)


def _deliver(runtime, uow, name, correlation_key, payload, actor, office_code):
    s = uow.session
    stmt = select(Case).where(Case.correlation_key == correlation_key, Case.status.in_(OPEN_STATUSES))
    if office_code:
        stmt = stmt.where(Case.office_code == office_code)
    candidates = [c for c in s.scalars(stmt) if actor.sees_office(c.office_code)]
    for candidate in candidates:
        case = lock_case(uow, candidate.id)
        cw = CaseWorkflow.load(runtime, s, case)
        waiting = {e.name for e in cw.wf.waiting_events() if e.event_type.endswith("MessageEventDefinition")}
        if name not in waiting:
            continue
        cw.wf.send_event(BpmnEvent(MessageEventDefinition(name), payload))
        cw.advance()
        opened = cw.save()
        record_event(uow, case, "message_received", actor, step=name, step_name=name, after=payload)
        _incident_event(uow, cw, actor)
        return _case_summary(case, opened)
    raise NotFound("No open case {key} is waiting for message {name}.", key=correlation_key, name=name)


def receive_message(runtime, envelope: dict, actor: Actor | None = None) -> dict:
    """Apply a message from another office exactly once (by its ``message_id``).

    Kinds: ``start_case`` (payload: process, office, data, correlation_key) and ``message``
    (payload: name, correlation_key, data).  A message seen before returns the first result."""
    actor = actor or Actor.system(f"office:{envelope.get('source_office', '?')}")
    message_id = envelope.get("message_id")
    kind = envelope.get("kind")
    payload = envelope.get("payload") or {}
    if not message_id or kind not in ("start_case", "message") or not isinstance(payload, dict):
        raise InvalidInput("Malformed message envelope.")
    with runtime.read() as s:
        seen = s.get(InboxReceipt, message_id)
        if seen is not None:
            return {**(seen.result or {}), "duplicate": True}
    with runtime.transaction() as uow:
        s = uow.session
        # The receipt row is written first: a concurrent duplicate fails on its primary key
        # and rolls back whole, so the effect happens once.
        s.add(
            InboxReceipt(
                message_id=message_id,
                source_office=envelope.get("source_office", "?"),
                received_at=utcnow(),
                result=None,
            )
        )
        s.flush()
        if kind == "start_case":
            if not payload.get("process"):
                raise InvalidInput("Malformed message envelope.")
            result = _start(
                runtime,
                uow,
                payload["process"],
                payload.get("data") or {},
                actor,
                payload.get("office") or envelope.get("destination_office"),
                payload.get("correlation_key"),
                True,
            )
        else:
            result = _deliver(
                runtime,
                uow,
                payload.get("name"),
                payload.get("correlation_key"),
                payload.get("data") or {},
                actor,
                envelope.get("destination_office"),
            )
        s.get(InboxReceipt, message_id).result = {k: result.get(k) for k in ("id", "receipt", "status")}
        return result


# -- cancel, incidents ---------------------------------------------------------------------


def cancel_case(runtime, case_ref, reason: str, actor: Actor) -> dict:
    """Cancel an open case with a reason (recorded on its timeline); its open steps end."""
    if not reason or not str(reason).strip():
        raise ValidationFailed("A reason is required to cancel a case.", errors={"reason": ["This field is required."]})
    with runtime.transaction() as uow:
        s = uow.session
        case = visible_case(find_case(s, case_ref), actor, "Case")
        case = lock_case(uow, case.id)
        if case.status not in OPEN_STATUSES:
            raise Conflict("Case {receipt} is already {status}.", receipt=case.receipt, status=case.status)
        cw = CaseWorkflow.load(runtime, s, case)
        cw.wf.cancel()
        before = case.status
        # set before the save, which would otherwise end the cancelled workflow as completed
        # (a second end in the dashboard's figures, under the wrong outcome)
        case.status, case.ended_at, case.end_reason = "cancelled", utcnow(), str(reason).strip()
        case.outcome = "cancelled"
        cw.save()
        s.query(Job).filter(Job.case_id == case.id).delete()
        s.query(HumanTask).filter(HumanTask.case_id == case.id).delete()
        cw.write_slim()  # a cancelled case keeps the steps it passed, not its task tree
        record_event(
            uow,
            case,
            "case_cancelled",
            actor,
            detail=case.end_reason,
            before={"status": before},
            after={"status": "cancelled"},
        )
        announce_end(runtime, s, case)
        return _case_summary(case)


def retry_incident(runtime, case_ref, actor: Actor) -> dict:
    """An administrator retries a case in incident: failed jobs run again, failed steps re-run."""
    with runtime.transaction() as uow:
        s = uow.session
        case = visible_case(find_case(s, case_ref), actor, "Case")
        case = lock_case(uow, case.id)
        if case.status != "incident":
            raise Conflict("Case {receipt} has no incident.", receipt=case.receipt)
        cw = CaseWorkflow.load(runtime, s, case)
        for failed in cw.wf.get_tasks(state=TaskState.ERROR):
            failed.reset_branch(None)
        previous = case.incident
        case.status, case.incident = "active", None
        cw.advance(fire_timers=True)
        for job in s.scalars(select(Job).where(Job.case_id == case.id, Job.status == "failed")):
            job.status, job.attempts, job.due_at, job.last_error = "pending", 0, utcnow(), None
        opened = cw.save(full_sync=True)
        record_event(uow, case, "incident_retried", actor, detail=previous)
        _incident_event(uow, cw, actor)
        return _case_summary(case, opened)


# -- reading -------------------------------------------------------------------------------


def case_dict(case: Case) -> dict:
    return {
        "id": case.id,
        "receipt": case.receipt,
        "process": case.process_key,
        "process_version": case.process_version.version,
        "process_name": case.process_version.name,
        "office": case.office_code,
        "nik": case.resident_nik,
        "resident_name": case.resident_name,
        "status": case.status,
        "incident": case.incident,
        "end_reason": case.end_reason,
        "outcome": case.outcome,
        "correlation_key": case.correlation_key,
        "data": dict(case.data),
        "created_by": case.created_by,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "ended_at": case.ended_at.isoformat() if case.ended_at else None,
    }


def event_dict(e: CaseEvent) -> dict:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "office": e.office_code,
        "kind": e.kind,
        "task_id": e.task_id,
        "step": e.step,
        "step_name": e.step_name,
        "detail": e.detail,
        "before": e.before,
        "after": e.after,
    }


def get_case(runtime, case_ref, actor: Actor) -> dict:
    """A case with its open tasks, jobs and full timeline."""
    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        result = case_dict(case)
        result["open_tasks"] = [
            task_dict(t, case) for t in s.scalars(select(HumanTask).where(HumanTask.case_id == case.id))
        ]
        result["jobs"] = [
            {
                "kind": j.kind,
                "step": j.step,
                "status": j.status,
                "due_at": j.due_at.isoformat(),
                "attempts": j.attempts,
                "last_error": j.last_error,
            }
            for j in s.scalars(select(Job).where(Job.case_id == case.id))
        ]
        result["events"] = [
            event_dict(e)
            for e in s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        ]
        view = CaseView.of(case)
    # pluggy returns the last registered plugin's result first: merge oldest first.
    for extra in reversed(runtime.hook.case_details(runtime=runtime, case=view)):
        for key, value in (extra or {}).items():
            if key not in _CORE_KEYS:
                result[key] = value
    return result


#: the fields get_case itself returns: a plugin's ``case_details`` never replaces them.
_CORE_KEYS = frozenset(
    (
        *"id receipt process process_version process_name office nik resident_name status incident".split(),
        *"end_reason correlation_key data created_by created_at updated_at ended_at open_tasks jobs events".split(),
    )
)


def has_cases(runtime) -> bool:
    """Whether this node holds any case at all (e.g. the demo data was loaded already)."""
    with runtime.read() as s:
        return s.scalar(select(Case.id).limit(1)) is not None


def list_cases(runtime, actor: Actor, *, limit: int = 100, **filters) -> list[dict]:
    """Cases of the actor's office, newest first: ``limit`` of them; ``filters`` (status, nik,
    process, query, before, after, outcome, figure, office) as :func:`case_page` takes them."""
    return case_page(runtime, actor, limit=limit, **filters)["items"]


def case_page(
    runtime,
    actor: Actor,
    *,
    status: str | None = None,
    nik: str | None = None,
    process: str | None = None,
    query: str | None = None,
    limit: int = 25,
    before: int | None = None,
    after: int | None = None,
    outcome: str | None = None,
    figure: dict | None = None,
    office: str | None = None,
) -> dict:
    """One page of cases, newest first, paged by key: ``items``, and ``next_before`` /
    ``prev_after``, the ids to pass as ``before`` / ``after`` for the older and newer page
    (``None`` at either end).  A search goes where an index answers it (engine/search.py).
    ``figure``: the cases behind a dashboard figure (engine.stats.figure_filter).  ``office``:
    a regency lists one of its kecamatan (the rows only: the case pages stay the kecamatan's)."""
    from . import stats
    from .search import case_match, keyset, kind_of, page_rows, text_search_rows

    for cursor in (before, after):
        if cursor is not None and not 0 <= cursor <= MAX_ID:
            raise InvalidInput("Page {page} does not exist.", page=cursor)
    if not 0 < limit <= MAX_ID:
        raise InvalidInput("Page {page} does not exist.", page=limit)

    with runtime.read() as s:
        stmt = select(Case)
        if office and office != actor.office_code:
            if not stats.may_see_figures_of(s, actor, office):
                raise NotFound("Office {code} not found.", code=office)
            stmt = stmt.where(Case.office_code == office)
        elif not actor.is_system:
            stmt = stmt.where(Case.office_code == actor.office_code)
        if outcome:
            stmt = stmt.where(Case.outcome == outcome)
        if figure:
            stmt = stats.figure_filter(stmt, figure, tz=runtime.config.timezone)
        if status == "open":
            stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
        elif status:
            stmt = stmt.where(Case.status == status)
        if nik:
            stmt = stmt.where(Case.resident_nik == nik)
        if process:
            stmt = stmt.where(Case.process_key == process)
        where, order, reversed_ = keyset(Case.id, before=before, after=after)
        dialect = s.bind.dialect.name
        if query and query.strip() and dialect == "postgresql" and after is None and kind_of(query) == "text":
            rows = text_search_rows(s, stmt, case_match(dialect, query), where, limit + 1)
        else:
            if query and query.strip():
                stmt = stmt.where(case_match(dialect, query))
            rows = list(s.scalars(stmt.where(*where).order_by(*order).limit(limit + 1)))
        page = page_rows(rows, limit, reversed_, before=before, after=after)
        return {
            "items": [case_dict(c) for c in page["rows"]],
            "next_before": page["next_before"],
            "prev_after": page["prev_after"],
        }


def case_by_correlation(runtime, correlation_key: str, office_code: str) -> dict | None:
    """The newest case of ``office_code`` carrying ``correlation_key`` (the receipt another
    office's case started it with), as :func:`case_dict` gives it; ``None`` if there is none.
    For plugins moving work between offices: no office isolation (the caller decides)."""
    with runtime.read() as s:
        case = s.scalar(
            select(Case)
            .where(Case.correlation_key == str(correlation_key), Case.office_code == office_code)
            .order_by(Case.id.desc())
            .limit(1)
        )
        return case_dict(case) if case is not None else None


def correlated_cases(
    runtime, correlation_key, office_code: str, *, open_only: bool = False, newest: bool = False
) -> list[CaseView]:
    """Every case of ``office_code`` carrying ``correlation_key`` (only the open ones with
    ``open_only``; only the newest with ``newest``), oldest first, as plugins see cases; no
    office isolation (the caller decides)."""
    with runtime.read() as s:
        stmt = select(Case).where(Case.correlation_key == correlation_key, Case.office_code == office_code)
        if open_only:
            stmt = stmt.where(Case.status.in_(OPEN_STATUSES))
        stmt = stmt.order_by(Case.id.desc()).limit(1) if newest else stmt.order_by(Case.id)
        return [CaseView.of(c) for c in s.scalars(stmt)]


def case_context(uow, receipt: str):
    """A ``ServiceContext`` on the case with this receipt inside the caller's transaction
    ``uow`` (its ``case``, its data, ``send`` to queue a message with it), or None."""
    from .plugin_types import ServiceContext

    case = uow.session.scalar(select(Case).where(Case.receipt == receipt))
    if case is None:
        return None
    return ServiceContext(uow.runtime, uow.session, case, dict(case.data or {}))
