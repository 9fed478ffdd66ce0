"""A case's BPMN diagram with the elements it has passed and where it stands now."""

from __future__ import annotations

from SpiffWorkflow.util.task import TaskState

from ._case_access import find_case, visible_case
from ._workflow import CaseWorkflow
from .actors import Actor
from .labels import step_names


def case_diagram(runtime, case_ref, actor: Actor) -> dict:
    """The case's BPMN diagram with the elements it has passed and where it stands now."""
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
