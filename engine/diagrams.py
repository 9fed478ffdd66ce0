"""A case's BPMN diagram with the elements it has passed and where it stands now (the bpmn-js
viewer on the case page colours them).  Split out of the inbox, which is about tasks."""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from ._step_names import step_names
from .actors import Actor
from .cases import find_case, visible_case
from .models import WorkflowState
from .slim import completed_steps, is_slim


def case_diagram(runtime, case_ref, actor: Actor) -> dict:
    """The case's BPMN diagram with the elements it has passed and where it stands now."""
    from ._workflow import CaseWorkflow  # loading a workflow needs the sandbox; import late

    with runtime.read() as s:
        case = visible_case(find_case(s, case_ref), actor, "Case")
        version = case.process_version
        completed, current = set(), set()
        state = s.scalar(select(WorkflowState.state).where(WorkflowState.case_id == case.id))
        if is_slim(state):  # a finished case: the steps it passed are all it keeps (engine.slim)
            completed = set(completed_steps(state))
        else:
            cw = CaseWorkflow.load(runtime, s, case, cached=False)
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
