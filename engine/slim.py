"""Slim finished cases: a case that is done keeps its data, outcome and audit events, and of
its workflow only the steps it passed -- not SpiffWorkflow's whole task tree.

A finished case's tree (every task, completed loop iterations and each task's copy of the
data included) is most of a case's bytes, and nothing reads it again: the case page shows
the case row and its events, the diagram shows the steps passed.  So when a case ends the
stored state becomes ``{"slim": 1, "completed": [bpmn ids]}``.  A case closed by a
rejection keeps its tree: a supervisor may reopen it (engine.supervision).
"""

from __future__ import annotations

import json

from SpiffWorkflow.util.task import TaskState

FINISHED = ("completed", "cancelled")
_PREFIX = '{"slim":'


def is_slim(state: str | None) -> bool:
    return state is not None and state.startswith(_PREFIX)


def may_slim(status: str | None, outcome: str | None) -> bool:
    """Whether a case in this state no longer needs its task tree (a rejection may be reopened)."""
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
