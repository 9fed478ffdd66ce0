"""The supervisor's hands: release or reassign a claimed task, move a case back to an
earlier step, reopen a case closed by a rejection.

Each call is one transaction, needs the supervisor role, asks for a reason and leaves an
audit event (on the case's timeline) naming who did it and why.  Retrying an incident and
cancelling a case are ``engine.cases.retry_incident`` and ``cancel_case``."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, select

from ._workflow import CaseWorkflow
from .actors import Actor
from .cases import (
    _case_summary,
    _set_assignee,
    _task_for_change,
    find_case,
    lock_case,
    record_event,
    task_dict,
    visible_case,
)
from .errors import Conflict, Forbidden, InvalidInput, NotFound, ValidationFailed
from .i18n import N_, Message
from .models import Job, PendingSlim, User, WorkflowState, utcnow
from .slim import REOPEN_DAYS as _REOPEN_DAYS
from .slim import is_slim, may_slim, reopen_period

#: a case closed by a rejection may be reopened this many days after it ended (node setting)
REOPEN_DAYS = _REOPEN_DAYS


def _need_supervisor(actor: Actor) -> None:
    if not actor.has_role("supervisor"):
        raise Forbidden("Only a supervisor may do this.")


def _reason(reason) -> str:
    text = str(reason or "").strip()
    if not text:
        raise ValidationFailed("Some fields need attention.", errors={"reason": [N_("Write the reason.")]})
    return text


def release_task(runtime, task_id: str, reason, actor: Actor) -> dict:
    """Release a task claimed by someone else (absent, or their PC died) back to the role."""
    _need_supervisor(actor)
    why = _reason(reason)
    with runtime.transaction() as uow:
        case, task = _task_for_change(uow, task_id, actor)
        if task.assignee is None:
            raise Conflict("This task is not claimed.")
        before = task.assignee
        _set_assignee(uow, task, None)
        record_event(
            uow,
            case,
            "task_released",
            actor,
            task=task,
            detail=why,
            before={"assignee": before},
            after={"assignee": None},
        )
        return task_dict(task, case)


def reassign_task(runtime, task_id: str, username: str, reason, actor: Actor) -> dict:
    """Give a task to a named colleague of the same office who has the step's role."""
    _need_supervisor(actor)
    why = _reason(reason)
    with runtime.transaction() as uow:
        case, task = _task_for_change(uow, task_id, actor)
        user = uow.session.get(User, str(username or ""))
        if user is None or not user.active or user.office_code != case.office_code:
            raise ValidationFailed(
                "Some fields need attention.",
                errors={"username": [N_("No active colleague of this office by that name.")]},
            )
        if task.role not in (user.roles or []):
            raise ValidationFailed(
                "Some fields need attention.",
                errors={
                    "username": [
                        Message(N_("{user} does not have the role {role}."), user=user.username, role=task.role)
                    ]
                },
            )
        before = task.assignee
        if before == user.username:
            return task_dict(task, case)
        _set_assignee(uow, task, user.username)
        record_event(
            uow,
            case,
            "task_reassigned",
            actor,
            task=task,
            detail=why,
            before={"assignee": before},
            after={"assignee": user.username},
        )
        return task_dict(task, case)


def _earlier_user_tasks(cw: CaseWorkflow) -> list:
    """Completed user tasks of the case, the latest first (the steps it can go back to)."""
    done = [
        t
        for t in cw.wf.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, UserTask) and t.workflow is cw.wf
    ]
    done.sort(key=lambda t: t.last_state_change, reverse=True)
    return done


def _slimmed(s, case) -> bool:
    """Whether the case's task tree is gone (a rejection past its reopen period: engine.slim)."""
    return is_slim(s.scalar(select(WorkflowState.state).where(WorkflowState.case_id == case.id)))


def earlier_steps(runtime, case_ref, actor: Actor) -> list[dict]:
    """The steps a case can be moved back (or reopened) to, the latest first."""
    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        if may_slim(case.status, case.outcome) or (case.outcome == "rejected" and _slimmed(s, case)):
            return []  # a finished case goes back nowhere (and keeps no task tree: engine.slim)
        cw = CaseWorkflow.load(runtime, s, case, cached=False)
        seen, steps = set(), []
        for t in _earlier_user_tasks(cw):
            if t.task_spec.bpmn_id not in seen:
                seen.add(t.task_spec.bpmn_id)
                steps.append({"step": t.task_spec.bpmn_id, "name": t.task_spec.bpmn_name or t.task_spec.bpmn_id})
        return steps


def _reset(runtime, uow, case, step: str | None):
    s = uow.session
    cw = CaseWorkflow.load(runtime, s, case)
    candidates = _earlier_user_tasks(cw)
    if step:
        candidates = [t for t in candidates if t.task_spec.bpmn_id == step]
    if not candidates:
        raise ValidationFailed(
            "Some fields need attention.", errors={"step": [N_("The case has not passed this step.")]}
        )
    target = candidates[0]
    name = target.task_spec.bpmn_name or target.task_spec.bpmn_id
    cw.wf.reset_from_task_id(target.id)
    cw.wf.completed = False  # SpiffWorkflow keeps the flag of the end reached before the reset
    cw.advance()
    return cw, target.task_spec.bpmn_id, name


def move_back(runtime, case_ref, step: str, reason, actor: Actor) -> dict:
    """Move an open case back to an earlier user step (SpiffWorkflow's reset to a task)."""
    _need_supervisor(actor)
    why = _reason(reason)
    with runtime.transaction() as uow:
        s = uow.session
        case = visible_case(find_case(s, case_ref), actor, "Case")
        case = lock_case(uow, case.id)
        if case.status != "active":
            raise Conflict("Case {receipt} is {status}.", receipt=case.receipt, status=case.status)
        cw, step_id, name = _reset(runtime, uow, case, step)
        opened = cw.save(full_sync=True)
        record_event(uow, case, "case_moved_back", actor, step=step_id, step_name=name, detail=why)
        return _case_summary(case, opened)


def reopen_case(runtime, case_ref, reason, actor: Actor, *, step: str | None = None) -> dict:
    """Reopen a case that ended in a rejection, at the step that decided it (or ``step``).

    Allowed within ``reopen_days`` (node setting, default 30) of the rejection."""
    _need_supervisor(actor)
    why = _reason(reason)
    period = reopen_period(runtime)
    with runtime.transaction() as uow:
        s = uow.session
        case = visible_case(find_case(s, case_ref), actor, "Case")
        case = lock_case(uow, case.id)
        if case.status != "completed" or case.outcome != "rejected":
            raise Conflict("Only a case closed by a rejection can be reopened.")
        if period is None:
            raise InvalidInput("The setting reopen_days must be a whole number of days.")
        if case.ended_at is None or utcnow() - case.ended_at > period or _slimmed(s, case):
            # past the period the worker slims the case (engine.slim): its task tree is gone
            raise Conflict("A rejection can be reopened within {days} days only.", days=period.days)
        s.execute(delete(PendingSlim).where(PendingSlim.case_id == case.id))
        before = {"status": case.status, "outcome": case.outcome, "end_reason": case.end_reason}
        cw, step_id, name = _reset(runtime, uow, case, step)
        case.status, case.outcome, case.end_reason, case.ended_at = "active", None, None, None
        opened = cw.save(full_sync=True)
        record_event(
            uow,
            case,
            "case_reopened",
            actor,
            step=step_id,
            step_name=name,
            detail=why,
            before=before,
            after={"status": "active", "step": step_id},
        )
        return _case_summary(case, opened)


def incident_details(runtime, case_ref, actor: Actor) -> dict:
    """A case's incident in words: the error and the failed jobs, for the retry page."""
    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        if case.status != "incident" and not s.scalar(
            select(Job.id).where(Job.case_id == case.id, Job.status == "failed").limit(1)
        ):
            raise NotFound("Case {receipt} has no incident.", receipt=case.receipt)
        jobs = [
            {"kind": j.kind, "step": j.step, "attempts": j.attempts, "error": j.last_error}
            for j in s.scalars(select(Job).where(Job.case_id == case.id, Job.status == "failed"))
        ]
        return {"receipt": case.receipt, "incident": case.incident, "failed_jobs": jobs}


__all__ = [
    "earlier_steps",
    "incident_details",
    "move_back",
    "reassign_task",
    "release_task",
    "reopen_case",
]
