"""Where a step's answer leads: does completing it with these values end the case?

A decision that closes a resident's case must never be a default.  Two users of one rule:

* the task page asks for a confirmation naming the end (``task_outcome``) before a
  submission that ends the case is sent;
* the process validator warns about a checkbox whose unticked (default) value leads to an
  end event (``checkbox_end_warnings``).

Both follow the diagram from the step: through exclusive gateways (the conditions are
evaluated in the sandbox with the values; none true means the default flow) and through steps
that run by themselves (service, script and send tasks, throw events) until an end event, or
until a step that waits (a user task, a receive task, a catch event), which is not an end.
"""

from __future__ import annotations

from lxml import etree

from . import _sandbox as sandbox
from ._case_access import visible_case
from .actors import Actor
from .errors import NotFound
from .forms import iter_fields
from .i18n import N_
from .models import HumanTask

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}
#: Steps that run without anyone: the walk goes on through them.
PASS_THROUGH = {"serviceTask", "scriptTask", "sendTask", "intermediateThrowEvent", "task", "parallelGateway"}
MAX_HOPS = 50


def _root(bpmn_xml: str | bytes):
    raw = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    return etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))


def _environment() -> sandbox.SandboxEnvironment:
    # setting() answers its default: the walk only needs the flow, not the office's values
    return sandbox.SandboxEnvironment(helpers={"setting": lambda name, default=None: default}, time_limit=1.0)


def _holds(env, expression: str | None, data: dict) -> bool:
    if not expression or not expression.strip():
        return False
    try:
        return bool(env.evaluate(expression.strip(), dict(data)))
    except Exception:  # an expression that cannot run with these values does not choose its flow
        return False


class _Diagram:
    def __init__(self, root):
        self.nodes = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        self.outgoing: dict[str, list] = {}
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            self.outgoing.setdefault(flow.get("sourceRef"), []).append(flow)

    def kind(self, element_id: str) -> str | None:
        node = self.nodes.get(element_id)
        return etree.QName(node).localname if node is not None else None

    def end_after(self, element_id: str, data: dict, env) -> dict | None:
        """The end event reached after ``element_id`` completes with ``data``, or None.  Only an
        end chosen at a gateway counts: a step that always ends the case (the handover) is no
        decision."""
        current, hops, decided = element_id, 0, False
        while hops < MAX_HOPS:
            hops += 1
            flows = self.outgoing.get(current, [])
            if not flows:
                return None
            node = self.nodes[current]
            if etree.QName(node).localname == "exclusiveGateway" or len(flows) > 1:
                chosen = None
                for flow in flows:
                    cond = flow.find("bpmn:conditionExpression", NS)
                    if cond is not None and _holds(env, cond.text, data):
                        chosen = flow
                        break
                if chosen is None:
                    default = node.get("default")
                    chosen = next((f for f in flows if f.get("id") == default), None)
                if chosen is None:
                    return None
                decided = True
            else:
                chosen = flows[0]
            target = chosen.get("targetRef")
            kind = self.kind(target)
            if kind == "endEvent":
                if not decided:
                    return None
                end = self.nodes[target]
                return {"id": target, "name": end.get("name") or target, "name_en": _name_en(end)}
            if kind in PASS_THROUGH or kind == "exclusiveGateway":
                current = target
                continue
            return None
        return None


def _name_en(node) -> str | None:
    prop = node.find(".//spiffworkflow:property[@name='name_en']", NS)
    return prop.get("value") if prop is not None else None


def step_end(bpmn_xml: str, element_id: str, data: dict) -> dict | None:
    """The end event completing ``element_id`` with ``data`` leads to (``{id, name, name_en}``)."""
    return _Diagram(_root(bpmn_xml)).end_after(element_id, data, _environment())


def task_outcome(runtime, task_id: str, data: dict, actor: Actor) -> dict | None:
    """Where completing the open task with ``data`` (merged over the case data) leads: the end
    event ``{id, name, name_en}`` when the case would end there, else None.  Changes nothing."""
    with runtime.read() as s:
        task = s.get(HumanTask, task_id)
        if task is None:
            raise NotFound("Task {id} not found.", id=task_id)
        visible_case(task.case, actor, "Task")
        values = {**dict(task.case.data or {}), **dict(data or {})}
        return step_end(task.case.process_version.bpmn_xml, task.step, values)


def checkbox_end_warnings(bpmn_xml: str, forms: dict) -> list[dict]:
    """A warning for every checkbox of a step's form whose unticked value ends the case while
    ticking it does not: an untouched default would close a resident's case."""
    try:
        diagram = _Diagram(_root(bpmn_xml))
    except (etree.XMLSyntaxError, ValueError):
        return []
    env = _environment()
    warnings: list[dict] = []
    for prop in diagram_form_keys(diagram):
        element_id, form_key = prop
        form = forms.get(form_key)
        if not form:
            continue
        empty = {c["key"]: None for c in iter_fields(form)}
        for comp in iter_fields(form):
            if comp.get("type") != "checkbox":
                continue
            key = comp["key"]
            unticked = diagram.end_after(element_id, {**empty, key: False}, env)
            if unticked is None or diagram.end_after(element_id, {**empty, key: True}, env) == unticked:
                continue
            node = diagram.nodes[element_id]
            warnings.append(
                {
                    "element": element_id,
                    "message": "",
                    "template": N_(
                        "{name}: leaving the box {field} unticked ends the case at {end}. Make the "
                        "decision an explicit choice (radio or select, no default) with a required reason."
                    ),
                    "params": {
                        "name": node.get("name") or element_id,
                        "field": comp.get("label") or key,
                        "end": unticked["name"],
                    },
                }
            )
    for w in warnings:
        w["message"] = w["template"].format(**w["params"])
    return warnings


def diagram_form_keys(diagram: _Diagram) -> list[tuple[str, str]]:
    pairs = []
    for element_id, node in diagram.nodes.items():
        prop = node.find("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='formKey']", NS)
        if prop is not None and prop.get("value"):
            pairs.append((element_id, prop.get("value")))
    return pairs
