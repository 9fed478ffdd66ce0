"""The worker: service tasks, due timers and the outbox, outside any request.

Several workers may run against one PostgreSQL database: jobs are taken with
``FOR UPDATE SKIP LOCKED`` and outbox messages with a lease, so nothing is done twice.
"""

from __future__ import annotations

import logging
import threading
import time

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, func, select, update

from . import outbox  # its lease and snapshot are read at call time (a test driver sets the lease)
from ._incidents import describe_incident
from ._workflow import CaseWorkflow
from .actors import Actor
from .cases import lock_case, record_event
from .models import Job, OutboxMessage, utcnow
from .retry import backoff
from .slim import slim_rejected_cases

log = logging.getLogger("simpul.worker")

#: rejected cases past their reopen period slimmed per pass (one transaction: engine.slim)
SLIM_BATCH = 50
#: seconds between the looping worker's looks for such cases while it finds fewer than a batch
SLIM_EVERY = 300.0

# The statements of every pass, built once: the worker passes after each committed step that
# made work due, and nearly always finds little, so building the SQL was a third of its cost.
_DUE_JOBS = (
    select(Job.id, Job.kind)
    .where(Job.status == "pending", Job.due_at <= bindparam("now"))
    .order_by(Job.due_at)
    .limit(bindparam("limit"))
)
_FIRST_PER_CASE = (
    select(func.min(OutboxMessage.id)).where(OutboxMessage.status == "pending").group_by(OutboxMessage.case_id)
)
_DUE_MESSAGES = (
    select(OutboxMessage.id)
    .where(
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= bindparam("now"),
        (OutboxMessage.id.in_(_FIRST_PER_CASE)) | (OutboxMessage.case_id.is_(None)),
    )
    .order_by(OutboxMessage.id)
    .limit(bindparam("limit"))
)
_NEXT_DUE = select(
    select(func.min(Job.due_at)).where(Job.status == "pending").scalar_subquery(),
    select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == "pending").scalar_subquery(),
)


def run_due(runtime, *, limit: int = 100, housekeeping: bool = True) -> dict:
    """Do everything that is due now, once; returns counts (``simpul worker --once``).

    ``housekeeping``: also slim a batch of rejected cases whose reopen period has passed."""
    counts = {"timers": 0, "services": 0, "failed": 0, "sent": 0, "unsent": 0, "plugin_work": 0, "slimmed": 0}
    now = utcnow()
    with runtime.read() as s:
        due = s.execute(_DUE_JOBS, {"now": now, "limit": limit}).all()
    for job_id, kind in due:
        outcome = run_job(runtime, job_id)
        if outcome == "done":
            counts["timers" if kind == "timer" else "services"] += 1
        elif outcome == "failed":
            counts["failed"] += 1
    sent, unsent = dispatch_outbox(runtime, limit=limit)
    counts["sent"], counts["unsent"] = sent, unsent
    counts["plugin_work"] = run_plugin_work(runtime)
    if housekeeping:
        counts["slimmed"] = slim_rejected_cases(runtime, limit=SLIM_BATCH)
    return counts


def run_plugin_work(runtime) -> int:
    """Each plugin's ``run_due_work``, one after the other; one that raises is logged by name."""
    done = 0
    for impl in reversed(runtime.hook.run_due_work.get_hookimpls()):  # pluggy's calling order
        try:
            done += int(impl.function(runtime=runtime) or 0)
        except Exception:
            log.exception("run_due_work of plugin %s failed", impl.plugin_name)
    return done


def run_job(runtime, job_id: int) -> str:
    """Run one job in its own transaction; on failure record the attempt (and the incident)."""
    actor = Actor.system("worker")
    try:
        with runtime.transaction() as uow:
            s = uow.session
            stmt = select(Job).where(Job.id == job_id, Job.status == "pending", Job.due_at <= utcnow())
            job = s.scalar(runtime.db.skip_locked(stmt).execution_options(populate_existing=True))
            if job is None:
                return "skipped"  # another worker has it, or it is no longer due
            case = lock_case(uow, job.case_id)
            if case is None or case.status not in ("active",):
                s.delete(job)
                return "skipped"
            cw = CaseWorkflow.load(runtime, s, case)
            if job.kind == "timer":
                before = {str(t.id) for t in cw.ready_user_tasks()}
                cw.advance(fire_timers=True)
                opened = cw.save()
                after = {str(t.id) for t in cw.ready_user_tasks()}
                if before != after or case.status != "active":
                    record_event(
                        uow, case, "timer_fired", actor, detail=", ".join(t.name for t in opened) or case.end_reason
                    )
            else:
                task = cw.task(job.task_id)
                if task is None or task.state != TaskState.READY:
                    s.delete(job)
                    return "skipped"
                cw.run_service_task(task)
                step_name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
                cw.advance()  # the job row goes with the task's READY state when saved
                cw.save()
                record_event(
                    uow,
                    case,
                    "service_completed",
                    actor,
                    step=task.task_spec.bpmn_id,
                    step_name=step_name,
                    after=task.data.get(task.task_spec.result_variable) if task.task_spec.result_variable else None,
                )
            if cw.incident:
                record_event(uow, case, "incident", actor, detail=cw.incident)
            return "done"
    except Exception as exc:  # the job's transaction is rolled back; note the attempt
        log.warning("job %s failed: %s", job_id, exc)
        return _job_failed(runtime, job_id, describe_incident(exc))


def _job_failed(runtime, job_id: int, message: str) -> str:
    with runtime.transaction() as uow:
        s = uow.session
        job = s.get(Job, job_id)
        if job is None:
            return "skipped"
        job.attempts += 1
        job.last_error = message
        if job.attempts >= runtime.config.job_max_attempts:
            job.status = "failed"
            case = lock_case(uow, job.case_id)
            case.status, case.incident = "incident", message
            record_event(
                uow,
                case,
                "incident",
                Actor.system("worker"),
                step=job.step,
                detail=f"{message} (after {job.attempts} attempts)",
            )
            return "failed"
        job.due_at = utcnow() + backoff(runtime.config.job_backoff_seconds, job.attempts)
        return "retry"


def dispatch_outbox(runtime, *, limit: int = 100) -> tuple[int, int]:
    """Hand each due outbox message to the transport plugins, oldest first, in order per case.

    A message is leased (its next attempt pushed ahead) before it is sent, outside any
    transaction; a crash after sending means a resend, which the receiver ignores by id."""
    sent = unsent = 0
    now = utcnow()
    with runtime.read() as s:
        ids = s.scalars(_DUE_MESSAGES, {"now": now, "limit": limit}).all()
    for message_id in ids:
        with runtime.transaction() as uow:
            claimed = uow.session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == message_id,
                    OutboxMessage.status == "pending",
                    OutboxMessage.next_attempt_at <= now,
                )
                .values(next_attempt_at=utcnow() + outbox.OUTBOX_LEASE)
            ).rowcount
            message = uow.session.get(OutboxMessage, message_id) if claimed else None
            snapshot = outbox.message_snapshot(message) if message else None
        if snapshot is None:
            continue
        error = retry_at = None
        try:
            ok = runtime.hook.deliver_outbox_message(runtime=runtime, message=snapshot)
            if ok is None:
                ok, error = False, f"no route to office {snapshot['destination_office']}"
        except Exception as exc:
            ok, error = False, str(exc) or type(exc).__name__
            retry_at = getattr(exc, "retry_at", None)  # the transport knows when the link is tried again
        with runtime.transaction() as uow:
            message = uow.session.get(OutboxMessage, message_id)
            if ok:
                message.status, message.sent_at, message.last_error = "sent", utcnow(), None
                sent += 1
            else:
                message.attempts += 1
                message.last_error = error or "refused by the destination"
                message.next_attempt_at = retry_at or utcnow() + backoff(
                    runtime.config.job_backoff_seconds, message.attempts
                )
                unsent += 1
    return sent, unsent


def next_due_in(runtime) -> float:
    """Seconds until the earliest pending job or outbox message is due (0 if one is due now),
    at most ``worker_poll_seconds``: the worker's fallback sleep between wake-ups."""
    poll = runtime.config.worker_poll_seconds
    with runtime.read() as s:
        firsts = list(s.execute(_NEXT_DUE).one())
    now = utcnow()
    waits = [(first - now).total_seconds() for first in firsts if first is not None]
    return max(0.0, min([poll, *waits]))


def run_forever(runtime, stop: threading.Event | None = None) -> None:
    """Do due work until ``stop`` is set (the embedded worker and ``simpul worker``).

    Woken as soon as a committed step wrote a job or an outbox message: in this process by
    the runtime's wake-up event, from other processes by PostgreSQL ``NOTIFY`` (see
    engine/wakeup.py); otherwise it sleeps until the next job is due, polling at most every
    ``worker_poll_seconds`` as a fallback."""
    from .wakeup import Listener

    stop = stop or threading.Event()
    listener = None
    if runtime.db.dialect == "postgresql":
        listener = Listener(runtime.config.database_url, runtime.wakeup, stop)
        listener.start()
        listener.ready.wait(5.0)
    try:
        _loop(runtime, stop)
    finally:
        if listener is not None:
            listener.join(3.0)


def _loop(runtime, stop: threading.Event) -> None:
    from .backup import BackupSchedule

    backups = BackupSchedule(runtime)
    next_slim = 0.0
    while not stop.is_set():
        try:
            backups.tick()  # in a thread of its own when due (SIMPUL_BACKUP_DIR, ..._EVERY_HOURS)
            now = time.monotonic()
            runtime.wakeup.pass_begins()
            counts = run_due(runtime, housekeeping=now >= next_slim)
            if now >= next_slim:  # a full batch: more may wait, so look again at once
                next_slim = now + (0.0 if counts["slimmed"] >= SLIM_BATCH else SLIM_EVERY)
            busy = any(counts.values())
            sleep = 0.0 if busy else next_due_in(runtime)
        except Exception:
            log.exception("worker pass failed")
            sleep = runtime.config.worker_poll_seconds
        if sleep > 0:
            runtime.wakeup.wait(sleep, stop)
