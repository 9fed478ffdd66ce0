"""Slim finished cases: a case that is done keeps its data, outcome and audit events, and of
its workflow only the steps it passed -- not SpiffWorkflow's whole task tree.

A finished case's tree (every task, completed loop iterations and each task's copy of the
data included) is most of a case's bytes, and nothing reads it again: the case page shows
the case row and its events, the diagram shows the steps passed.  So when a case ends the
stored state becomes ``{"slim": 1, "completed": [bpmn ids]}``.

A case closed by a rejection keeps its tree while a supervisor may reopen it
(engine.supervision, ``reopen_days``): the step that rejects it writes a ``pending_slims``
row, and the worker slims it once the period has passed (``slim_rejected_cases``, in
batches; on PostgreSQL the rows and their cases are taken ``FOR UPDATE SKIP LOCKED``, so
several workers share the backlog and a supervisor reopening the case at that moment wins).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from SpiffWorkflow.util.task import TaskState

FINISHED = ("completed", "cancelled")
_PREFIX = '{"slim":'

#: a case closed by a rejection may be reopened this many days after it ended (node setting)
REOPEN_DAYS = 30

log = logging.getLogger("simpul.slim")


def reopen_period(runtime) -> timedelta | None:
    """How long after its rejection a case may be reopened (node setting ``reopen_days``),
    or None when the setting is not a whole number of days."""
    days = runtime.setting("reopen_days", REOPEN_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        return None
    return timedelta(days=days)


def is_slim(state: str | None) -> bool:
    return state is not None and state.startswith(_PREFIX)


def may_slim(status: str | None, outcome: str | None) -> bool:
    """Whether a case that ends in this state no longer needs its task tree at its end (a
    rejection may be reopened: it is slimmed after the reopen period, ``slim_rejected_cases``)."""
    return status in FINISHED and outcome != "rejected"


def slim_state(completed) -> str:
    return json.dumps({"slim": 1, "completed": sorted(set(completed))}, separators=(",", ":"))


def completed_steps(state: str) -> list[str]:
    """The BPMN ids of the steps a slim state records as passed."""
    return list(json.loads(state).get("completed") or [])


def completed_in_workflow(wf) -> set[str]:
    """The BPMN ids of the elements a (loaded) workflow has completed."""
    return {
        t.task_spec.bpmn_id
        for t in wf.get_tasks()
        if t.state == TaskState.COMPLETED and getattr(t.task_spec, "bpmn_id", None)
    }


def completed_in_stored(state: str, element_ids) -> set[str]:
    """The same, read off a stored (full) state without its spec: the completed tasks of the
    workflow and of its subprocesses whose spec names are elements of the diagram."""
    dct = json.loads(state)
    known = set(element_ids)
    done = set()
    for tasks in [
        dct.get("tasks") or {},
        *((sub.get("tasks") or {}) for sub in (dct.get("subprocesses") or {}).values()),
    ]:
        for task in tasks.values():
            if task.get("state") == TaskState.COMPLETED and task.get("task_spec") in known:
                done.add(task["task_spec"])
    return done


def element_ids(bpmn_xml: str) -> set[str]:
    """The ids of every element of a BPMN document (what ``completed_in_stored`` may name)."""
    from lxml import etree

    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    return {e.get("id") for e in root.iter() if isinstance(e.tag, str) and e.get("id")}


def slim_rejected_cases(runtime, *, limit: int = 50, now: datetime | None = None) -> int:
    """Slim up to ``limit`` cases closed by a rejection whose reopen period has passed, the
    oldest rejections first, in one transaction; the number slimmed.

    A case reopened meanwhile (its row is gone, or the case is open again) is left alone; one
    rejected again later waits for its new period.  On PostgreSQL rows another worker (or a
    supervisor reopening the case) holds are skipped, not waited for."""
    from sqlalchemy import delete, select, update

    from .models import Case, PendingSlim, ProcessVersion, WorkflowState, utcnow

    period = reopen_period(runtime)
    if period is None:
        log.warning("reopen_days is not a whole number of days: rejected cases are not slimmed")
        return 0
    cutoff = (now or utcnow()) - period
    pending, cases, states = PendingSlim.__table__, Case.__table__, WorkflowState.__table__
    slimmed = 0
    with runtime.transaction() as uow:
        conn = uow.session.connection()
        # One statement, so that on PostgreSQL a case another transaction holds (a supervisor
        # reopening it, another worker) is skipped before the batch is cut, not counted in it.
        stmt = (
            select(cases.c.id, cases.c.status, cases.c.outcome, cases.c.ended_at, cases.c.process_version_id)
            .add_columns(states.c.state)
            .select_from(pending)
            .join(cases, cases.c.id == pending.c.case_id)
            .outerjoin(states, states.c.case_id == pending.c.case_id)
            .where(pending.c.rejected_at < cutoff)
            .order_by(pending.c.rejected_at)
            .limit(max(1, int(limit)))
        )
        if runtime.db.dialect == "postgresql":
            stmt = stmt.with_for_update(of=(pending, cases), skip_locked=True)
        rows = conn.execute(stmt).all()
        if not rows:
            return 0
        done, later, elements = [], [], {}
        for row in rows:
            if row.status != "completed" or row.outcome != "rejected" or row.state is None:
                done.append(row.id)  # reopened (and perhaps still open): nothing to wait for
            elif row.ended_at is not None and row.ended_at >= cutoff:
                later.append({"cid": row.id, "at": row.ended_at})  # rejected again since
            else:
                if not is_slim(row.state):
                    if row.process_version_id not in elements:
                        xml = conn.scalar(
                            select(ProcessVersion.__table__.c.bpmn_xml).where(
                                ProcessVersion.__table__.c.id == row.process_version_id
                            )
                        )
                        elements[row.process_version_id] = element_ids(xml or "<none/>")
                    state = slim_state(completed_in_stored(row.state, elements[row.process_version_id]))
                    conn.execute(update(states).where(states.c.case_id == row.id).values(state=state))
                    slimmed += 1
                done.append(row.id)
        if done:
            conn.execute(delete(pending).where(pending.c.case_id.in_(done)))
        for moved in later:
            conn.execute(update(pending).where(pending.c.case_id == moved["cid"]).values(rejected_at=moved["at"]))
    return slimmed
