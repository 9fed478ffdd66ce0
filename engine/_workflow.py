"""Running one case's SpiffWorkflow instance: load, step, save, and keep the inbox, the jobs
and the case row in step with it -- all inside the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from . import _sandbox as sandbox
from ._incidents import describe_incident
from ._sandbox_pool import PooledSandboxEnvironment
from ._timeline import announce_end
from .db import after_commit
from .errors import Conflict, NotFound
from .models import Case, HumanTask, Job, PendingSlim, Row, WorkflowState, utcnow
from .plugin_types import ServiceContext
from .retry import backoff  # noqa: F401  (kept importable here for plugins not yet converted)
from .slim import completed_in_workflow, is_slim, may_slim, slim_state


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
        params = {
            k: (v.get("value") if isinstance(v, dict) and "value" in v else v)
            for k, v in (operation_params or {}).items()
        }
        result = handler(self.context, **params)
        return json.dumps(result if result is not None else {})


def _cache_tag(case: Case | Row) -> tuple:
    """What must match for a kept workflow to be the stored one (the version is bumped on
    every save; the rest guards against a database recreated under a running process)."""
    return case.lock_version, case.process_version_id, case.created_at


def _script_engine(runtime, caller):
    pool = runtime.sandbox_pool()
    if pool is not None and not runtime.expression_helpers:
        # the default: scripts run in worker processes under OS limits
        env = PooledSandboxEnvironment(pool, lambda: runtime.config.settings, service_caller=caller)
    else:
        # sandbox_workers = 0, or plugins' expression helpers (trusted code that must run in this
        # process, beside the node's database): limits hold only between Python instructions
        env = sandbox.SandboxEnvironment(
            helpers={**runtime.expression_helpers, "setting": runtime.setting},
            time_limit=runtime.config.script_time_limit,
            service_caller=caller,
        )
    return sandbox.SandboxScriptEngine(environment=env)


class CaseWorkflow:
    """A loaded workflow and the case it belongs to."""

    def __init__(
        self,
        runtime,
        session,
        case: Case | Row,
        workflow: BpmnWorkflow,
        caller: _ServiceCaller,
        stored: bool = False,
        ready: list | None = None,
        before: tuple | None = None,
    ):
        self.runtime = runtime
        self.session = session
        self.case = case
        self.wf = workflow
        self._caller = caller
        self.incident: str | None = None
        self._stored = stored
        #: the ready user and service tasks as the last engine pass left them (None: unknown)
        self._settled: tuple[list, list] | None = None
        # What the inbox and job rows mirror now (they are kept equal to the saved state), so
        # saving writes only the difference instead of reading the rows back.
        if before is not None:
            self._before = before
        elif not stored:
            self._before = (set(), set(), None)
        else:
            if ready is None:
                users, services = (set(self._ids(tasks)) for tasks in self._ready())
            else:
                users = {tid for tid, ts in ready if isinstance(ts, UserTask)}
                services = {tid for tid, ts in ready if isinstance(ts, ServiceTask)}
            self._before = (users, services, None if workflow.completed else self.next_timer())

    @staticmethod
    def _ids(tasks):
        return [str(t.id) for t in tasks]

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def new(cls, runtime, session, case: Case | Row, version, data: dict) -> CaseWorkflow:
        spec, subs = runtime.spec_for(version)
        caller = _ServiceCaller(runtime)
        wf = BpmnWorkflow(spec, subs, script_engine=_script_engine(runtime, caller))
        wf.task_tree.data.update(data)
        start = wf.get_tasks(state=TaskState.READY)
        for task in start:
            task.data.update(data)
        return cls(runtime, session, case, wf, caller)

    @classmethod
    def load(cls, runtime, session, case: Case | Row, *, cached: bool = True) -> CaseWorkflow:
        """The case's workflow as last committed.  ``cached=False`` for a look that will not
        be saved (a diagram, a dry run): it leaves the hot copy for the next step."""
        if cached:
            hit = runtime.workflows.take(case.id, _cache_tag(case))
            if hit is not None:
                wf, caller, before = hit
                return cls(runtime, session, case, wf, caller, stored=True, before=before)
        state = session.connection().execute(_SELECT_STATE, {"cid": case.id}).scalar()
        if state is None:
            raise NotFound("Case {receipt} has no workflow state.", receipt=case.receipt)
        if is_slim(state):  # a finished case keeps only the steps it passed (engine.slim)
            raise Conflict("Case {receipt} is already {status}.", receipt=case.receipt, status=case.status)
        spec, subs = runtime.version_info(session, case.process_version_id).spec
        wf, ready = runtime.serializer.load_with_ready(state, spec, subs)
        caller = _ServiceCaller(runtime)
        # A deserialised workflow comes back with SpiffWorkflow's bare-exec engine: replace it every time.
        wf.script_engine = _script_engine(runtime, caller)
        return cls(runtime, session, case, wf, caller, stored=True, ready=ready)

    # -- running ---------------------------------------------------------------------------

    def task(self, task_id: str):
        try:
            return self.wf.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError, SpiffWorkflowException):
            return None

    def _engine_pass(self) -> bool:
        def run_ready(w, waiting=None) -> int:
            count = 0
            for task in w.get_tasks(state=TaskState.READY):
                if task.task_spec.manual or isinstance(task.task_spec, ServiceTask):
                    if waiting is not None:
                        waiting.append(task)
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
        waiting: list | None = [] if not active else None
        ran = run_ready(self.wf, waiting)
        more = ran > 0 or len(self.wf.get_active_subprocesses()) > len(active)
        if not more and waiting is not None:
            # The pass that found nothing to run has just seen every task left for people and
            # the worker: remember them so save() need not walk the tree again.
            self._settled = (
                [t for t in waiting if isinstance(t.task_spec, UserTask)],
                [t for t in waiting if isinstance(t.task_spec, ServiceTask)],
            )
        return more

    def advance(self, fire_timers: bool = False) -> None:
        """Run engine tasks (gateways, scripts, events) until only people, services or timers
        are left.  Service tasks are left READY for the worker.  A script failure becomes
        an incident on the case instead of an error for whoever triggered it.

        Timers fire only in the worker (``fire_timers``); a step in a request just arms the
        timers it reached, and the worker's timer job, due at the earliest, fires them."""
        self._settled = None
        try:
            if fire_timers:
                self.wf.refresh_timers()
            while self._engine_pass():
                pass
            self.wf.refresh_timers()  # arm new timers: fixes their due time for the timer job
            if fire_timers:
                self._settled = None
                while self._engine_pass():
                    pass
        except (SpiffWorkflowException, sandbox.ScriptError) as exc:
            self._settled = None
            self.incident = describe_incident(exc)

    def run_service_task(self, task) -> None:
        """Run one service task through its plugin handler (the worker's job)."""
        self._settled = None
        self._caller.context = ServiceContext(self.runtime, self.session, self.case, task.data)
        try:
            task.run()
        finally:
            self._caller.context = None

    # -- saving ----------------------------------------------------------------------------

    def _ready(self) -> tuple[list, list]:
        """Ready user tasks and ready service tasks, in one walk of the task tree."""
        users, services = [], []
        for t in self.wf.get_tasks(state=TaskState.READY):
            if isinstance(t.task_spec, UserTask):
                users.append(t)
            elif isinstance(t.task_spec, ServiceTask):
                services.append(t)
        return users, services

    def ready_user_tasks(self):
        return self._ready()[0]

    def ready_service_tasks(self):
        return self._ready()[1]

    def current_data(self, ready=None) -> dict:
        users, services = ready or self._ready()
        tasks = users or services
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

    def save(self, full_sync: bool = False) -> list[SimpleNamespace]:
        """Persist the state and bring the inbox rows, jobs and case row in line with it.

        Only the difference since loading is written (the hot path of every step);
        ``full_sync`` reads the rows back and repairs them instead (after a migration).
        Returns the human tasks opened by this step (their inbox row values, as attributes)."""
        runtime, session, case = self.runtime, self.session, self.case
        now = utcnow()
        state = runtime.serializer.dump(self.wf)
        conn = session.connection()  # Core statements on the session's transaction: no flush overhead
        conn.execute(_UPDATE_STATE if self._stored else _INSERT_STATE, {"cid": case.id, "state": state})
        self._stored = True

        scan = self._settled if (self._settled is not None and not full_sync) else self._ready()
        self._settled = None  # good for this save only: the caller may change the workflow next
        ready = {str(t.id): t for t in scan[0]}
        services = {str(t.id): t for t in scan[1]}
        timer_due = None if self.wf.completed else self.next_timer()
        before_tasks, before_services, before_timer = self._before
        if full_sync:
            before_tasks = set(session.scalars(select(HumanTask.id).where(HumanTask.case_id == case.id)))
            before_services = set(
                session.scalars(select(Job.task_id).where(Job.case_id == case.id, Job.kind == "service"))
            )
            before_timer = object()  # unknown: always write the timer row

        # Inbox: only the open user tasks.
        gone = before_tasks - set(ready)
        if gone:
            conn.execute(_DELETE_TASK, [{"tid": task_id} for task_id in gone])
        new_rows = [self.inbox_row(task, now) for task_id, task in ready.items() if task_id not in before_tasks]
        opened: list[SimpleNamespace] = []
        if new_rows:
            conn.execute(_INSERT_TASK, new_rows)
            opened = [SimpleNamespace(**row) for row in new_rows]

        # Service tasks wait for the worker as jobs.
        stale = before_services - set(services)
        if stale:
            conn.execute(_DELETE_SERVICE_JOB, [{"cid": case.id, "tid": task_id} for task_id in stale])
        new_jobs = [
            {
                "case_id": case.id,
                "kind": "service",
                "task_id": task_id,
                "step": task.task_spec.bpmn_id,
                "status": "pending",
                "due_at": now,
                "attempts": 0,
                "created_at": now,
            }
            for task_id, task in services.items()
            if task_id not in before_services
        ]
        if new_jobs:
            conn.execute(Job.__table__.insert(), new_jobs)

        # One timer job per case, due at the earliest waiting timer.
        if timer_due != before_timer:
            if timer_due is None:
                conn.execute(_DELETE_TIMER_JOB, {"cid": case.id})
            elif (
                before_timer is not None
                and conn.execute(_UPDATE_TIMER_JOB, {"cid": case.id, "due": timer_due}).rowcount
            ):
                pass
            else:
                conn.execute(
                    Job.__table__.insert(),
                    {
                        "case_id": case.id,
                        "kind": "timer",
                        "due_at": timer_due,
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    },
                )
        self._before = (set(ready), set(services), timer_due)

        values = {
            "data": _json_safe(self.current_data(scan)),
            "updated_at": now,
            "lock_version": case.lock_version + 1,
            "status": case.status,
            "incident": case.incident,
            "ended_at": case.ended_at,
            "end_reason": case.end_reason,
            "outcome": case.outcome,
        }
        ended_now = False
        if self.incident:
            values.update(status="incident", incident=self.incident)
        elif self.wf.completed and case.status in ("active", "incident"):
            from .outcomes import outcome_map, outcome_of

            outcome, reason = outcome_of(self.wf, outcome_map(session, case.process_version_id))
            values.update(status="completed", ended_at=now, end_reason=reason, outcome=outcome)
            conn.execute(_DELETE_JOBS, {"cid": case.id})
            ended_now = True
        if ended_now:
            self._at_end(conn, values, now)
        # One Core UPDATE.  The case is an ORM object (told the values are current, so no
        # second write at flush) or a plain row (the step path of engine.cases).
        conn.execute(_UPDATE_CASE, {"cid": case.id, **values})
        mark = set_committed_value if isinstance(case, Case) else setattr
        for key, value in values.items():
            mark(case, key, value)
        if ended_now:
            from .stats import note_end

            note_end(conn, case, now)
            announce_end(runtime, session, case)
        if values["status"] == "active" and runtime.workflows.size:
            # Kept for the case's next step only once this transaction has committed.
            entry, tag = (self.wf, self._caller, self._before), _cache_tag(case)
            after_commit(session, lambda: runtime.workflows.put(case.id, tag, entry, len(state)))
        return opened

    def _at_end(self, conn, values: dict, now) -> None:
        """A case that has just ended drops its task tree, or, closed by a rejection, keeps it
        while it may be reopened: the worker slims it after the period (engine.slim)."""
        if may_slim(str(values["status"]), str(values["outcome"] or "") or None):
            self.write_slim()
        elif values["outcome"] == "rejected":
            conn.execute(_DELETE_PENDING_SLIM, {"cid": self.case.id})
            conn.execute(_INSERT_PENDING_SLIM, {"cid": self.case.id, "at": now})

    def write_slim(self) -> None:
        """Replace the stored task tree by the steps passed (a finished case: engine.slim)."""
        state = slim_state(completed_in_workflow(self.wf))
        self.session.connection().execute(_UPDATE_STATE, {"cid": self.case.id, "state": state})

    def inbox_row(self, task, now) -> dict:
        """The human_tasks row values for a ready user task."""
        ts = task.task_spec
        props = (getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}
        due_at = None
        if props.get("dueIn"):
            parsed = TimerEventDefinition.parse_iso_duration(props["dueIn"])
            due_at = now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
        return dict(
            id=str(task.id),
            case_id=self.case.id,
            office_code=self.case.office_code,
            step=ts.bpmn_id,
            name=ts.bpmn_name or ts.bpmn_id,
            name_en=props.get("name_en"),
            lane=ts.lane,
            role=self.runtime.config.lane_roles.get(ts.lane, ts.lane or "operator"),
            form_key=props.get("formKey"),
            instructions=(ts.extensions or {}).get("instructionsForEndUser"),
            created_at=now,
            due_at=due_at,
            version=1,
            assignee=None,
        )


_SELECT_STATE = select(WorkflowState.__table__.c.state).where(WorkflowState.__table__.c.case_id == bindparam("cid"))
_CASES = Case.__table__
_UPDATE_CASE = (
    _CASES.update()
    .where(_CASES.c.id == bindparam("cid"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "data",
                "updated_at",
                "lock_version",
                "status",
                "incident",
                "ended_at",
                "end_reason",
                "outcome",
            )
        }
    )
)
_DELETE_JOBS = Job.__table__.delete().where(Job.__table__.c.case_id == bindparam("cid"))
_DELETE_TIMER_JOB = Job.__table__.delete().where(
    Job.__table__.c.case_id == bindparam("cid"), Job.__table__.c.kind == "timer"
)
_UPDATE_TIMER_JOB = (
    Job.__table__.update()
    .where(Job.__table__.c.case_id == bindparam("cid"), Job.__table__.c.kind == "timer")
    .values(due_at=bindparam("due"), status="pending", attempts=0)
)
_INSERT_STATE = WorkflowState.__table__.insert().values(case_id=bindparam("cid"), state=bindparam("state"))
_UPDATE_STATE = (
    WorkflowState.__table__.update()
    .where(WorkflowState.__table__.c.case_id == bindparam("cid"))
    .values(state=bindparam("state"))
)
_INSERT_TASK = HumanTask.__table__.insert()
_DELETE_PENDING_SLIM = PendingSlim.__table__.delete().where(PendingSlim.__table__.c.case_id == bindparam("cid"))
_INSERT_PENDING_SLIM = PendingSlim.__table__.insert().values(case_id=bindparam("cid"), rejected_at=bindparam("at"))
_DELETE_TASK = HumanTask.__table__.delete().where(HumanTask.__table__.c.id == bindparam("tid"))
_DELETE_SERVICE_JOB = Job.__table__.delete().where(
    Job.__table__.c.case_id == bindparam("cid"),
    Job.__table__.c.kind == "service",
    Job.__table__.c.task_id == bindparam("tid"),
)


def _json_safe(data: dict) -> dict:
    return json.loads(json.dumps(data, default=str))
