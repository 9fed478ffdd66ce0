"""How a case ended, as a value that can be counted.

Every end event of a process names its outcome in an extension property
(``<spiffworkflow:property name="outcome" value="rejected"/>``); deploy refuses an end event
without one.  When the workflow completes, the case takes the outcome of the last end event
reached that decides it; ``branch`` marks an end event that only closes a side path (a suket
recorded while the card is still awaited, an escalation followed up) and never decides.
The end event's name stays the case's ``end_reason`` -- for a rejection, the reason why."""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState

from .i18n import N_

#: outcome -> its label (English msgid, translated where shown)
OUTCOMES = {
    "handed_over": N_("Card handed over"),
    "rejected": N_("Rejected"),
    "abandoned": N_("Abandoned (timer)"),
    "cancelled": N_("Cancelled"),
    "card_sent": N_("Card sent to the sub-district"),
    "returned": N_("Returned to the sub-district"),
    "completed": N_("Completed"),
    "branch": N_("Side path closed"),
}
#: outcomes a case can end with (``branch`` decides nothing)
CASE_OUTCOMES = tuple(k for k in OUTCOMES if k != "branch")
PROPERTY = "outcome"


_BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
_SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
_NS = {"bpmn": _BPMN_NS, "spiffworkflow": _SPIFF_NS}
#: process version id -> {end event id: outcome}; versions never change once deployed
_MAPS: dict[str, dict[str, str | None]] = {}


def end_event_outcomes(root) -> dict[str, tuple[str | None, str]]:
    """{end event id: (outcome or None, name)} of a parsed BPMN document.

    SpiffWorkflow's parser keeps no extension properties on end events, so they are read
    from the XML itself."""
    found = {}
    for node in root.iterfind(".//bpmn:endEvent", _NS):
        value = None
        for prop in node.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", _NS):
            if prop.get("name") == PROPERTY and (prop.get("value") or "").strip():
                value = prop.get("value").strip()
        found[node.get("id")] = (value, node.get("name") or node.get("id"))
    return found


def outcome_map(session, version_id: int) -> dict[str, str | None]:
    """End event id -> outcome of one process version.  Parsed once per content (the key is
    the version's content hash: ids repeat across databases, the content never changes)."""
    from lxml import etree
    from sqlalchemy import select

    from .models import ProcessVersion

    content = session.scalar(select(ProcessVersion.content_hash).where(ProcessVersion.id == version_id))
    if content not in _MAPS:
        xml = session.scalar(select(ProcessVersion.bpmn_xml).where(ProcessVersion.id == version_id))
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        _MAPS[content] = {k: v for k, (v, _name) in end_event_outcomes(root).items()}
    return _MAPS[content]


def outcome_of(workflow, outcomes: dict[str, str | None]) -> tuple[str, str | None]:
    """(outcome, end reason) of a completed workflow: the last deciding end event reached."""
    ends = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if isinstance(t.task_spec, EndEvent)]
    ends.sort(key=lambda t: t.last_state_change)
    deciding = [t for t in ends if outcomes.get(t.task_spec.bpmn_id) not in (None, "branch")]
    last = (deciding or ends or [None])[-1]
    if last is None:
        return "completed", None
    outcome = outcomes.get(last.task_spec.bpmn_id)
    reason = last.task_spec.bpmn_name or last.task_spec.bpmn_id
    return (outcome if outcome in CASE_OUTCOMES else "completed"), reason


def check_end_events(problems, root) -> None:
    """Deploy check: every end event names one of the known outcomes."""
    for element, (value, name) in end_event_outcomes(root).items():
        if value is None:
            problems.add(
                element,
                N_("End event {name} has no outcome (property outcome: one of {known})."),
                name=name,
                known=", ".join(OUTCOMES),
            )
        elif value not in OUTCOMES:
            problems.add(
                element,
                N_("End event {name} has an unknown outcome {value} (known: {known})."),
                name=name,
                value=value,
                known=", ".join(OUTCOMES),
            )
