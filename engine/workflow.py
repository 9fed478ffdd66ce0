"""Running one case's SpiffWorkflow instance: load, step, save, and keep the inbox, the jobs
and the case row in step with it -- all inside the caller's transaction."""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from uuid import UUID

from sqlalchemy import delete, select
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from . import sandbox
from .errors import Conflict, NotFound
from .models import Case, CaseEvent, HumanTask, Job, OutboxMessage, WorkflowState, utcnow


@dataclass(frozen=True)
class CaseView:
    """A read-only picture of a case, handed to plugins."""

    id: int
    receipt: str
    process_key: str
    office_code: str
    nik: str
    resident_name: str
    status: str
    correlation_key: str
    data: dict = field(default_factory=dict)

    @classmethod
    def of(cls, case: Case, data: dict | None = None) -> "CaseView":
        return cls(id=case.id, receipt=case.receipt, process_key=case.process_key, office_code=case.office_code,
                   nik=case.resident_nik, resident_name=case.resident_name, status=case.status,
                   correlation_key=case.correlation_key, data=dict(case.data if data is None else data))


class ServiceContext:
    """What a service operator's handler may use: the case, its data, settings, the outbox."""

    def __init__(self, runtime, session, case: Case, task_data: dict):
        self.runtime = runtime
        self._session = session
        self.case = CaseView.of(case, task_data)
        self.data = dict(task_data)
        self.config = runtime.config

    @property
    def office_code(self) -> str:
        return self.case.office_code

    def setting(self, name, default=None):
        return self.runtime.setting(name, default)

    def send(self, destination_office: str, kind: str, payload: dict) -> str:
        """Queue a message for another office, in the same transaction as this step."""
        from uuid import uuid4

        json.dumps(payload)  # refuse non-JSON payloads here, not in the worker
        message = OutboxMessage(message_id=str(uuid4()), case_id=self.case.id, source_office=self.case.office_code,
                                destination_office=destination_office, kind=kind, payload=payload)
        self._session.add(message)
        return message.message_id


class _ServiceCaller:
    """Bridges SpiffWorkflow's ``call_service`` to the plugins' operator handlers.

    Only the worker enables it; in a request the service task is left READY for a job.
    """

    def __init__(self, runtime):
        self.runtime = runtime
        self.context: ServiceContext | None = None

    def __call__(self, operation_name, operation_params, task_data):
        if self.context is None:
            raise RuntimeError("service tasks run only in the worker")
        handler = self.runtime.operators.get(operation_name)
        if handler is None:
            raise LookupError(f"no installed plugin provides service operator {operation_name}")
        # SpiffWorkflow hands parameters over as {name: {"value": ..., "type": ...}}.
        params = {k: (v.get("value") if isinstance(v, dict) and "value" in v else v)
                  for k, v in (operation_params or {}).items()}
        result = handler(self.context, **params)
        return json.dumps(result if result is not None else {})


def _script_engine(runtime, caller):
    env = sandbox.SandboxEnvironment(
        helpers={"setting": runtime.setting},
        time_limit=runtime.config.script_time_limit,
        service_caller=caller,
    )
    return sandbox.SandboxScriptEngine(environment=env)


class CaseWorkflow:
    """A loaded workflow and the case it belongs to."""

    def __init__(self, runtime, session, case: Case, workflow: BpmnWorkflow, caller: _ServiceCaller):
        self.runtime = runtime
        self.session = session
        self.case = case
        self.wf = workflow
        self._caller = caller
        self.incident: str | None = None

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def new(cls, runtime, session, case: Case, version, data: dict) -> "CaseWorkflow":
        spec, subs = runtime.spec_for(version)
        caller = _ServiceCaller(runtime)
        wf = BpmnWorkflow(spec, subs, script_engine=_script_engine(runtime, caller))
        wf.task_tree.data.update(data)
        start = wf.get_tasks(state=TaskState.READY)
        for task in start:
            task.data.update(data)
        return cls(runtime, session, case, wf, caller)

    @classmethod
    def load(cls, runtime, session, case: Case) -> "CaseWorkflow":
        state = session.get(WorkflowState, case.id)
        if state is None:
            raise NotFound("Case {receipt} has no workflow state.", receipt=case.receipt)
        spec, subs = runtime.spec_for(case.process_version)
        wf = runtime.serializer.load(state.state, spec, subs)
        caller = _ServiceCaller(runtime)
        # A deserialised workflow comes back with SpiffWorkflow's bare-exec engine: replace it every time.
        wf.script_engine = _script_engine(runtime, caller)
        return cls(runtime, session, case, wf, caller)

    # -- running ---------------------------------------------------------------------------

    def task(self, task_id: str):
        try:
            return self.wf.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, SpiffWorkflowException):
            return None

    def _engine_pass(self) -> bool:
        def run_ready(w) -> int:
            count = 0
            for task in w.get_tasks(state=TaskState.READY):
                if task.task_spec.manual or isinstance(task.task_spec, ServiceTask):
                    continue
                task.run()
                count += 1
            return count

        active = self.wf.get_active_subprocesses()
        for sub in sorted(active, key=lambda v: v.depth, reverse=True):
            while run_ready(sub):
                pass
            if sub.parent_task_id is not None:
                parent = self.wf.get_task_from_id(sub.parent_task_id)
                parent.task_spec._update(parent)
        ran = run_ready(self.wf)
        return ran > 0 or len(self.wf.get_active_subprocesses()) > len(active)

    def advance(self) -> None:
        """Run engine tasks (gateways, scripts, events) until only people, services or timers
        are left.  Service tasks are left READY for the worker.  A script failure becomes
        an incident on the case instead of an error for whoever triggered it."""
        try:
            self.wf.refresh_timers()
            while self._engine_pass():
                pass
            self.wf.refresh_timers()
            while self._engine_pass():
                pass
        except (SpiffWorkflowException, sandbox.ScriptError) as exc:
            self.incident = _describe(exc)

    def run_service_task(self, task) -> None:
        """Run one service task through its plugin handler (the worker's job)."""
        self._caller.context = ServiceContext(self.runtime, self.session, self.case, task.data)
        try:
            task.run()
        finally:
            self._caller.context = None

    # -- saving ----------------------------------------------------------------------------

    def ready_user_tasks(self):
        return [t for t in self.wf.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, UserTask)]

    def ready_service_tasks(self):
        return [t for t in self.wf.get_tasks(state=TaskState.READY) if isinstance(t.task_spec, ServiceTask)]

    def current_data(self) -> dict:
        tasks = self.ready_user_tasks() or self.ready_service_tasks()
        if tasks:
            return dict(tasks[0].data)
        if self.wf.last_task is not None:
            return dict(self.wf.last_task.data)
        return dict(self.wf.data)

    def next_timer(self) -> datetime | None:
        due = []
        for pending in self.wf.waiting_events():
            if pending.event_type.endswith("TimerEventDefinition") and pending.value:
                try:
                    due.append(TimerEventDefinition.get_datetime(pending.value))
                except (TypeError, ValueError):
                    continue
        return min(due) if due else None

    def end_reason(self) -> str | None:
        ends = [t for t in self.wf.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
        if not ends:
            return None
        last = max(ends, key=lambda t: t.last_state_change)
        return last.task_spec.bpmn_name or last.task_spec.bpmn_id

    def save(self) -> list[HumanTask]:
        """Persist the state and bring the inbox rows, jobs and case row in line with it.
        Returns the human tasks opened by this step."""
        runtime, session, case = self.runtime, self.session, self.case
        now = utcnow()
        state = runtime.serializer.dump(self.wf)
        row = session.get(WorkflowState, case.id)
        if row is None:
            session.add(WorkflowState(case_id=case.id, state=state))
        else:
            row.state = state

        # Inbox: only the open user tasks.
        ready = {str(t.id): t for t in self.ready_user_tasks()}
        existing = {h.id: h for h in session.scalars(select(HumanTask).where(HumanTask.case_id == case.id))}
        for task_id, human in existing.items():
            if task_id not in ready:
                session.delete(human)
        opened = []
        lane_roles = runtime.config.lane_roles
        for task_id, task in ready.items():
            if task_id in existing:
                continue
            ts = task.task_spec
            props = (getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}
            due_at = None
            if props.get("dueIn"):
                parsed = TimerEventDefinition.parse_iso_duration(props["dueIn"])
                due_at = now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
            human = HumanTask(
                id=task_id, case_id=case.id, office_code=case.office_code, step=ts.bpmn_id,
                name=ts.bpmn_name or ts.bpmn_id, name_en=props.get("name_en"), lane=ts.lane,
                role=lane_roles.get(ts.lane, ts.lane or "operator"), form_key=props.get("formKey"),
                instructions=(ts.extensions or {}).get("instructionsForEndUser"),
                created_at=now, due_at=due_at, version=1,
            )
            session.add(human)
            opened.append(human)

        # Service tasks wait for the worker as jobs.
        service_ids = {str(t.id): t for t in self.ready_service_tasks()}
        jobs = list(session.scalars(select(Job).where(Job.case_id == case.id)))
        for job in jobs:
            if job.kind == "service" and job.task_id not in service_ids:
                session.delete(job)
        known = {j.task_id for j in jobs if j.kind == "service"}
        for task_id, task in service_ids.items():
            if task_id not in known:
                session.add(Job(case_id=case.id, kind="service", task_id=task_id, step=task.task_spec.bpmn_id,
                                due_at=now))

        # One timer job per case, due at the earliest waiting timer.
        timer_due = None if self.wf.completed else self.next_timer()
        timer_job = next((j for j in jobs if j.kind == "timer"), None)
        if timer_due is None and timer_job is not None:
            session.delete(timer_job)
        elif timer_due is not None:
            if timer_job is None:
                session.add(Job(case_id=case.id, kind="timer", due_at=timer_due))
            else:
                timer_job.due_at, timer_job.status, timer_job.attempts = timer_due, "pending", 0

        case.data = _json_safe(self.current_data())
        case.updated_at = now
        case.lock_version += 1
        if self.incident:
            case.status = "incident"
            case.incident = self.incident
        elif self.wf.completed and case.status in ("active", "incident"):
            case.status = "completed"
            case.ended_at = now
            case.end_reason = self.end_reason()
            session.execute(delete(Job).where(Job.case_id == case.id))
        return opened


def _json_safe(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str))


def _describe(exc: Exception) -> str:
    inner = getattr(exc, "error", None) or getattr(exc, "exception", None) or exc
    if isinstance(inner, sandbox.ScriptError):
        message = inner.message
    elif isinstance(exc, sandbox.ScriptError):
        message = exc.message
    else:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    task = getattr(exc, "task", None)
    where = getattr(getattr(task, "task_spec", None), "bpmn_name", None) or \
        getattr(getattr(task, "task_spec", None), "bpmn_id", None)
    return f"{where}: {message}" if where else message


def backoff(base_seconds: float, attempts: int) -> timedelta:
    """Exponential backoff with full jitter, so retries of many jobs do not march in step."""
    ceiling = base_seconds * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(ceiling, 3600) * (0.5 + random.random() / 2))
