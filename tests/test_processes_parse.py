"""The bundled BPMN processes and form-js forms: structure, diagram layout and execution.

Structure: every process parses with SpiffWorkflow's spiff parser (and validates against the
BPMN + spiffworkflow XSDs), lanes are role keys, every user task has a form that exists, every
form field name is safe to use in expressions, and every flow element has diagram
interchange (DI) so the file opens cleanly in bpmn-js / Camunda Modeler.

Execution: each process is run with plain SpiffWorkflow (no Simpul engine) along its happy
path and its side branches: the incomplete-documents loop and 14-day abandonment timer, the
rejection ends, the card-return SLA escalation, the enrolment-problem message (record again or
close) and the temporary-certificate (suket) message.
"""

from __future__ import annotations

import builtins
import json
import keyword
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parents[1]
PROCESS_DIR = ROOT / "processes"
FORM_DIR = PROCESS_DIR / "forms"

PROCESSES = {
    "ektp_new_card": "Perekaman e-KTP Baru",
    "ektp_replacement": "Penggantian e-KTP Hilang/Rusak",
    "ektp_renewal": "Perpanjangan / Perubahan Data e-KTP",
    "ektp_regency_printing": "Pencetakan e-KTP (Disdukcapil)",
}
KECAMATAN = ["ektp_new_card", "ektp_replacement", "ektp_renewal"]
ROLES = {"operator", "verifier", "supervisor", "regency_officer"}
OPERATORS = {"coordination.send_to_regency", "coordination.reply_to_origin"}
MESSAGES = {"card_printed", "enrolment_problem", "temporary_certificate_issued"}
RESERVED = {
    "setting",
    "now",
    "today",
    "len",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "dict",
    "min",
    "max",
    "sum",
    "any",
    "all",
    "sorted",
    "round",
    "abs",
    "range",
    "True",
    "False",
    "None",
}
ENGINE_SUPPLIED = {"nik", "resident_name", "office_code", "receipt"}
INPUT_TYPES = {"textfield", "textarea", "number", "checkbox", "select", "radio", "datetime", "checklist", "taglist"}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODE_TAGS = {
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "receiveTask",
    "sendTask",
    "manualTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def bpmn_path(pid):
    return PROCESS_DIR / f"{pid}.bpmn"


_SPECS = {}


def get_spec(pid):
    if pid not in _SPECS:
        parser = SpiffBpmnParser(validator=VALIDATOR)
        parser.add_bpmn_file(str(bpmn_path(pid)))
        _SPECS[pid] = parser.get_spec(pid)
    return _SPECS[pid]


def xml(pid):
    return etree.parse(str(bpmn_path(pid))).getroot()


def process_node(pid):
    return xml(pid).find(f"bpmn:process[@id='{pid}']", NS)


def flow_nodes(proc):
    return [el for el in proc if isinstance(el.tag, str) and etree.QName(el).localname in FLOW_NODE_TAGS]


def load_form(form_key):
    return json.loads((FORM_DIR / f"{form_key}.form.json").read_text(encoding="utf-8"))


def input_components(form):
    for comp in form["components"]:
        if comp.get("type") in ("group", "dynamiclist") and comp.get("components"):
            yield from input_components(comp)
        elif comp.get("type") in INPUT_TYPES:
            yield comp


def form_keys_used():
    """formKey -> [(process id, element id)] over all processes (tasks and start events)."""
    used = {}
    for pid in PROCESSES:
        for ts in get_spec(pid).task_specs.values():
            key = (getattr(ts, "extensions", {}) or {}).get("properties", {}).get("formKey")
            if key:
                used.setdefault(key, []).append((pid, ts.bpmn_id))
    return used


class FakeServices(TaskDataEnvironment):
    """Expression environment with the engine's ``setting`` helper and a recording call_service.

    SpiffWorkflow 3.2 calls ``environment.call_service(task.data, operation_name=...,
    operation_params={name: {"value": evaluated, "type": ...}})`` and json-decodes the result
    into the service task's resultVariable."""

    def __init__(self, settings=None):
        self.settings = dict(settings or {})
        super().__init__({"setting": lambda name, default=None: self.settings.get(name, default)})
        self.calls = []

    def call_service(self, context, operation_name, operation_params, task_data=None, **kwargs):
        self.calls.append((operation_name, {k: v["value"] for k, v in operation_params.items()}))
        return json.dumps({"ok": True})


APPLICANT = {
    "nik": "6402016508900001",
    "resident_name": "Siti Aminah",
    "office_code": "640201",
    "receipt": "SGS-0001",
    "birth_place": "Sangasanga",
    "birth_date": "1990-08-25",
    "sex": "P",
    "kk_number": "6402011203080004",
    "marital_status": "kawin",
    "address": "Jl. Pahlawan No. 3",
    "rt": "004",
    "rw": "002",
    "kelurahan": "Sangasanga Dalam",
    "phone": "081234567890",
}
BIOMETRICS = {
    "photo_captured": True,
    "fingerprints_captured": True,
    "iris_captured": True,
    "signature_captured": True,
    "device_id": "KIT-07",
}


class Run:
    """One running workflow, driven the way the engine will drive it."""

    def __init__(self, pid, start_data=None, settings=None):
        self.services = FakeServices(settings)
        self.workflow = BpmnWorkflow(get_spec(pid), script_engine=PythonScriptEngine(environment=self.services))
        # The start event's form is not a Spiff task: its data goes into the workflow's first
        # (READY) task before the engine steps run.
        [first] = self.workflow.get_tasks(state=TaskState.READY)
        first.data.update(dict(APPLICANT) if start_data is None else start_data)
        self.workflow.do_engine_steps()

    def ready(self):
        return sorted(t.task_spec.bpmn_id for t in self.workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual)

    def task(self, bpmn_id):
        tasks = [t for t in self.workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == bpmn_id]
        assert len(tasks) == 1, f"{bpmn_id} not ready (ready: {self.ready()})"
        return tasks[0]

    def complete(self, bpmn_id, **data):
        task = self.task(bpmn_id)
        assert type(task.task_spec).__name__ == "UserTask"
        form = load_form(task.task_spec.extensions["properties"]["formKey"])
        keys = {c["key"]: c for c in input_components(form)}
        assert set(data) <= set(keys), f"{bpmn_id}: fields not in the form: {set(data) - set(keys)}"
        for key, comp in keys.items():  # like the engine: a checkbox left out of a submission is unticked
            if comp["type"] == "checkbox":
                data.setdefault(key, False)
        task.data.update(data)
        task.run()
        self.workflow.do_engine_steps()
        return task

    def send(self, message, payload=None):
        self.workflow.send_event(BpmnEvent(MessageEventDefinition(message), payload))
        self.workflow.do_engine_steps()

    def tick(self):
        self.workflow.refresh_timers()
        self.workflow.do_engine_steps()

    def waiting_messages(self):
        return sorted(e.name for e in self.workflow.waiting_events() if e.event_type == "MessageEventDefinition")

    def waiting_timers(self):
        return [e for e in self.workflow.waiting_events() if e.event_type.endswith("TimerEventDefinition")]

    def reached(self, bpmn_id):
        return any(t.task_spec.bpmn_id == bpmn_id for t in self.workflow.get_tasks(state=TaskState.COMPLETED))

    def completed_data(self, bpmn_id):
        [task] = [t for t in self.workflow.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id == bpmn_id]
        return task.data

    def operators(self):
        return [(name, params.get("message")) for name, params in self.services.calls]


T0 = datetime(2025, 3, 3, 1, 0, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------


def test_every_bpmn_file_is_known():
    assert sorted(p.stem for p in PROCESS_DIR.glob("*.bpmn")) == sorted(PROCESSES)


@pytest.mark.parametrize("pid", PROCESSES)
def test_parses_one_executable_process(pid):
    parser = SpiffBpmnParser(validator=VALIDATOR)  # also validates against BPMN + spiffworkflow XSD
    parser.add_bpmn_file(str(bpmn_path(pid)))
    assert parser.get_process_ids() == [pid]
    spec = parser.get_spec(pid)
    assert spec.name == pid
    assert spec.description == PROCESSES[pid]
    root = xml(pid)
    assert root.nsmap["spiffworkflow"] == NS["spiffworkflow"]
    assert process_node(pid).get("isExecutable") == "true"


@pytest.mark.parametrize("pid", PROCESSES)
def test_lanes_are_roles_and_hold_every_flow_node(pid):
    proc = process_node(pid)
    lanes = proc.findall("bpmn:laneSet/bpmn:lane", NS)
    assert lanes, "process has no lanes"
    assert proc.findall(".//bpmn:childLaneSet", NS) == []
    refs = {}
    for lane in lanes:
        assert lane.get("name") in ROLES, lane.get("name")
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            assert ref.text not in refs, f"{ref.text} in two lanes"
            refs[ref.text] = lane.get("name")
    node_ids = {el.get("id") for el in flow_nodes(proc)}
    assert node_ids == set(refs), f"not in a lane: {node_ids - set(refs)}; unknown refs: {set(refs) - node_ids}"
    for ts in get_spec(pid).task_specs.values():
        if getattr(ts, "bpmn_id", None) in node_ids:
            assert ts.lane == refs[ts.bpmn_id]
    if pid == "ektp_regency_printing":
        assert set(refs.values()) == {"regency_officer"}
    else:
        assert "regency_officer" not in refs.values()


@pytest.mark.parametrize("pid", PROCESSES)
def test_user_tasks_have_forms_and_metadata(pid):
    spec = get_spec(pid)
    user_tasks = [ts for ts in spec.task_specs.values() if type(ts).__name__ == "UserTask"]
    assert user_tasks
    for ts in user_tasks:
        props = ts.extensions.get("properties", {})
        form_key = props.get("formKey")
        assert form_key, f"{ts.bpmn_id} has no formKey"
        path = FORM_DIR / f"{form_key}.form.json"
        assert path.is_file(), f"{ts.bpmn_id}: missing {path}"
        form = load_form(form_key)
        assert form["components"] and [c["key"] for c in input_components(form)]
        TimerEventDefinition.parse_iso_duration(props["dueIn"])  # raises if not ISO-8601
        assert props.get("name_en"), ts.bpmn_id
        assert ts.extensions.get("instructionsForEndUser"), ts.bpmn_id
        assert ts.bpmn_name and ts.lane in ROLES


def test_start_forms():
    expected = {
        "ektp_new_card": "application",
        "ektp_replacement": "replacement_application",
        "ektp_renewal": "renewal_application",
        "ektp_regency_printing": None,
    }
    common = {
        "nik",
        "resident_name",
        "birth_date",
        "sex",
        "birth_place",
        "kk_number",
        "marital_status",
        "address",
        "rt",
        "rw",
        "kelurahan",
        "phone",
    }
    for pid, form_key in expected.items():
        starts = [ts for ts in get_spec(pid).task_specs.values() if type(ts).__name__ == "StartEvent"]
        assert len(starts) == 1
        assert starts[0].extensions.get("properties", {}).get("formKey") == form_key
        if form_key:
            comps = {c["key"]: c for c in input_components(load_form(form_key))}
            assert common <= set(comps)
            assert comps["nik"]["validate"]["pattern"] == "^[0-9]{16}$"
            assert comps["kk_number"]["validate"]["pattern"] == "^[0-9]{16}$"
            assert not comps["phone"]["validate"]["required"]
            assert comps["birth_date"]["type"] == "datetime" and comps["birth_date"]["subtype"] == "date"
            assert {v["value"] for v in comps["sex"]["values"]} == {"L", "P"}
            assert {v["value"] for v in comps["marital_status"]["values"]} == {
                "belum_kawin",
                "kawin",
                "cerai_hidup",
                "cerai_mati",
            }
    replacement = {c["key"]: c for c in input_components(load_form("replacement_application"))}
    assert {v["value"] for v in replacement["reason"]["values"]} == {"lost", "damaged"}
    renewal = {c["key"]: c for c in input_components(load_form("renewal_application"))}
    assert {v["value"] for v in renewal["request_type"]["values"]} == {"renewal", "data_change"}
    assert renewal["old_card_expiry"]["subtype"] == "date"
    assert renewal["changed_fields"]["type"] == "textarea"


def test_forms_are_valid_form_js_and_field_names_are_safe():
    used = form_keys_used()
    files = {p.name[: -len(".form.json")] for p in FORM_DIR.glob("*.form.json")}
    assert files == set(used), f"unused forms: {files - set(used)}; missing: {set(used) - files}"
    forbidden = RESERVED | set(dir(builtins))
    for key in sorted(files):
        form = load_form(key)
        assert form["type"] == "default" and form["id"] == f"Form_{key}"
        assert form["schemaVersion"] == 16 and form["exporter"]["name"] == "Simpul"
        ids = [c["id"] for c in form["components"]]
        assert len(ids) == len(set(ids)), key
        fields = list(input_components(form))
        names = [c["key"] for c in fields]
        assert len(names) == len(set(names)), key
        for comp in fields:
            name = comp["key"]
            assert FIELD_NAME.match(name), (key, name)
            assert not name.startswith("_") and not keyword.iskeyword(name), (key, name)
            assert name not in forbidden, (key, name)
            assert comp["id"].startswith("Field_")
            label = comp.get("dateLabel") if comp["type"] == "datetime" else comp.get("label")
            assert label, (key, name)
            assert comp["properties"]["label_en"], (key, name)
            assert isinstance(comp["validate"].get("required"), bool), (key, name)
            assert all(isinstance(v, str) for v in comp["properties"].values()), (key, name)
            if comp["type"] in ("select", "radio") and comp.get("valuesKey"):
                assert "values" not in comp, (key, name)  # options from the node (the office's kelurahan)
            elif comp["type"] in ("select", "radio"):
                values = [
                    str(v["value"]).lower() if isinstance(v["value"], bool) else v["value"] for v in comp["values"]
                ]
                en = dict(item.split("=", 1) for item in comp["properties"]["values_en"].split(";"))
                assert list(en) == values, (key, name)
            if comp["validate"].get("pattern"):
                re.compile(comp["validate"]["pattern"])
            if "conditional" in comp:
                # the server reads the same hide expression as the page (engine.forms.feel_hidden)
                from simpul.engine.forms import _feel_tokens

                assert _feel_tokens(comp["conditional"]["hide"].removeprefix("=")), (key, name)
        if key not in ("application", "replacement_application", "renewal_application"):
            assert not ENGINE_SUPPLIED & set(names), key


def test_task_forms_have_the_fields_the_gateways_read():
    def keys(form_key):
        return {c["key"]: c for c in input_components(load_form(form_key))}

    assert keys("document_check")["documents_complete"]["type"] == "checkbox"
    assert not keys("document_check")["documents_complete"]["validate"]["required"]
    assert "document_notes" in keys("document_check")
    # a decision that can close the case is an explicit choice with no default, and its reason
    # is required whenever the closing answer is chosen
    for form_key, decision, reason in (
        ("residence_verification", "residence_verified", "rejection_reason"),
        ("identity_match", "identity_matched", "mismatch_reason"),
        ("data_change_verification", "change_verified", "rejection_reason"),
    ):
        fields = keys(form_key)
        assert fields[decision]["type"] == "radio" and fields[decision]["validate"]["required"] is True
        assert "defaultValue" not in fields[decision]
        assert [v["value"] for v in fields[decision]["values"]] == [True, False]
        assert fields[reason]["validate"]["required"] is True
        assert fields[reason]["conditional"]["hide"] == f"={decision} != false"
    bio = keys("biometric_recording")
    for name in ("photo_captured", "fingerprints_captured", "iris_captured", "signature_captured"):
        assert bio[name]["type"] == "checkbox" and bio[name]["validate"]["required"] is True
    assert bio["device_id"]["type"] == "textfield" and bio["device_id"]["validate"]["required"] is True
    handover = keys("handover")
    assert handover["card_received"]["validate"]["required"] and handover["receipt_signed"]["validate"]["required"]
    assert handover["received_by"]["validate"]["required"]
    assert {v["value"] for v in keys("enrolment_resolution")["resolution"]["values"]} == {"record_again", "close"}
    assert {v["value"] for v in keys("central_enrolment")["enrolment_result"]["values"]} == {
        "PRINT_READY_RECORD",
        "DUPLICATE_RECORD",
        "ENROLL_FAILURE_AT_CENTRAL",
        "SEARCH_FAILURE_AT_CENTRAL",
        "ENROLL_FAILURE_AT_REGIONAL",
    }  # Dukcapil's own codes (issue 14 item 8)
    receive = keys("regency_receive")
    assert receive["data_complete"]["type"] == "radio" and receive["data_complete"]["validate"]["required"]
    assert receive["enrolment_notes"]["conditional"]["hide"] == "=data_complete != false"
    assert keys("blank_stock")["blank_in_stock"]["type"] == "checkbox"
    assert not keys("blank_stock")["issue_suket"]["validate"]["required"]
    assert keys("print_card")["card_serial"]["validate"]["required"]


@pytest.mark.parametrize("pid", PROCESSES)
def test_service_tasks_timers_messages_and_conditions(pid):
    spec = get_spec(pid)
    env = FakeServices()
    for ts in spec.task_specs.values():
        cls = type(ts).__name__
        if cls == "ServiceTask":
            assert ts.operation_name in OPERATORS
            if ts.operation_name == "coordination.reply_to_origin":
                assert set(ts.operation_params) == {"message"}
                assert ts.operation_params["message"]["type"] == "str"
                assert env.evaluate(ts.operation_params["message"]["value"], {}) in MESSAGES
            else:
                assert ts.result_variable == "sent_to_regency" and ts.operation_params == {}
        event = getattr(ts, "event_definition", None)
        if isinstance(event, TimerEventDefinition):
            TimerEventDefinition.parse_iso_duration(env.evaluate(event.expression, {}))
        if isinstance(event, MessageEventDefinition):
            assert event.name in MESSAGES
            assert event.message_var, f"{ts.bpmn_id}: no messageVariable, the payload would be lost"
    proc = process_node(pid)
    for cond in proc.iterfind(".//bpmn:conditionExpression", NS):
        compile(cond.text, "<condition>", "eval")
        assert "_" + "_" not in cond.text and "import" not in cond.text
    for gw in proc.iterfind("bpmn:exclusiveGateway", NS):
        outgoing = proc.findall(f"bpmn:sequenceFlow[@sourceRef='{gw.get('id')}']", NS)
        assert len(outgoing) >= 2
        assert gw.get("default") in {f.get("id") for f in outgoing}, gw.get("id")
        for flow in outgoing:
            has_cond = flow.find("bpmn:conditionExpression", NS) is not None
            assert has_cond == (flow.get("id") != gw.get("default")), flow.get("id")


def _bounds(shape):
    b = shape.find("dc:Bounds", NS)
    x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
    return x, y, x + w, y + h


@pytest.mark.parametrize("pid", PROCESSES)
def test_diagram_covers_every_element_without_overlap(pid):
    root = xml(pid)
    proc = process_node(pid)
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    collaboration = root.find("bpmn:collaboration", NS)
    assert collaboration is not None and plane.get("bpmnElement") == collaboration.get("id")
    participant = collaboration.find("bpmn:participant", NS)
    assert participant.get("processRef") == pid
    shapes = {s.get("bpmnElement"): s for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}

    pool = _bounds(shapes[participant.get("id")])
    assert shapes[participant.get("id")].get("isHorizontal") == "true"
    lane_box = {}
    for lane in proc.findall("bpmn:laneSet/bpmn:lane", NS):
        shape = shapes[lane.get("id")]
        assert shape.get("isHorizontal") == "true"
        lane_box[lane.get("id")] = box = _bounds(shape)
        assert pool[0] < box[0] and box[2] <= pool[2] and pool[1] <= box[1] and box[3] <= pool[3]
    # lanes stack vertically with no gaps or overlaps and fill the pool
    stacked = sorted(lane_box.values(), key=lambda b: b[1])
    assert stacked[0][1] == pool[1] and stacked[-1][3] == pool[3]
    for upper, lower in zip(stacked, stacked[1:], strict=False):
        assert upper[3] == lower[1] and upper[0] == lower[0] and upper[2] == lower[2]

    nodes = flow_nodes(proc)
    lane_of = {
        ref.text: lane.get("id")
        for lane in proc.findall("bpmn:laneSet/bpmn:lane", NS)
        for ref in lane.findall("bpmn:flowNodeRef", NS)
    }
    boxes = {}
    for node in nodes:
        nid = node.get("id")
        assert nid in shapes, f"no BPMNShape for {nid}"
        boxes[nid] = b = _bounds(shapes[nid])
        lb = lane_box[lane_of[nid]]
        assert lb[0] <= b[0] and b[2] <= lb[2] and lb[1] <= b[1] and b[3] <= lb[3], f"{nid} outside its lane"
        kind = etree.QName(node).localname
        if kind == "boundaryEvent":
            host = _bounds(shapes[node.get("attachedToRef")])
            cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
            on_edge = (host[0] <= cx <= host[2] and cy in (host[1], host[3])) or (
                host[1] <= cy <= host[3] and cx in (host[0], host[2])
            )
            assert on_edge, f"{nid} is not on the border of its task"
    attached = {n.get("id"): n.get("attachedToRef") for n in nodes if n.get("attachedToRef")}
    ids = sorted(boxes)
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if attached.get(a) == b or attached.get(b) == a:
                continue
            ba, bb = boxes[a], boxes[b]
            assert ba[2] <= bb[0] or bb[2] <= ba[0] or ba[3] <= bb[1] or bb[3] <= ba[1], f"{a} overlaps {b}"

    flows = proc.findall("bpmn:sequenceFlow", NS)
    assert flows
    for flow in flows:
        fid = flow.get("id")
        assert fid in edges, f"no BPMNEdge for {fid}"
        points = [(float(p.get("x")), float(p.get("y"))) for p in edges[fid].findall("di:waypoint", NS)]
        assert len(points) >= 2
        for (xa, ya), (xb, yb) in zip(points, points[1:], strict=False):
            assert xa == xb or ya == yb, f"{fid} has a diagonal segment"

        def near(point, box, slack=1.0):
            x, y = point
            return box[0] - slack <= x <= box[2] + slack and box[1] - slack <= y <= box[3] + slack

        assert near(points[0], boxes[flow.get("sourceRef")]), f"{fid} does not start at its source"
        assert near(points[-1], boxes[flow.get("targetRef")]), f"{fid} does not end at its target"
    dangling = (set(shapes) | set(edges)) - {el.get("id") for el in root.iter() if isinstance(el.tag, str)}
    assert not dangling


def test_messages_are_declared_where_they_are_used():
    for pid in KECAMATAN:
        root = xml(pid)
        declared = {m.get("id"): m.get("name") for m in root.findall("bpmn:message", NS)}
        assert set(declared.values()) == MESSAGES
        recv = root.find(".//bpmn:receiveTask", NS)
        assert declared[recv.get("messageRef")] == "card_printed"
        assert recv.find("bpmn:extensionElements/spiffworkflow:messageVariable", NS).text == "card_printed"
        catches = {b.get("id"): b for b in root.iterfind(".//bpmn:boundaryEvent", NS)}
        assert catches["Boundary_enrolment_problem"].get("cancelActivity") == "true"
        assert catches["Boundary_suket_issued"].get("cancelActivity") == "false"
        assert catches["Boundary_card_sla"].get("cancelActivity") == "false"
        assert catches["Boundary_documents_abandoned"].get("cancelActivity") == "true"
        assert root.find(".//bpmn:correlationKey", NS) is None
    assert xml("ektp_regency_printing").find("bpmn:message", NS) is None


# --------------------------------------------------------------------------------------------
# execution: new card
# --------------------------------------------------------------------------------------------


def _new_card_until_waiting(run):
    assert run.ready() == ["Task_document_check"]
    run.complete("Task_document_check", documents_complete=True, document_notes="")
    run.complete("Task_residence_verification", residence_verified=True, kelurahan_officer="Pak Lurah")
    run.complete("Task_biometric_recording", **BIOMETRICS)
    assert run.ready() == []
    assert run.waiting_messages() == sorted(MESSAGES)
    assert run.operators() == [("coordination.send_to_regency", None)]


def test_new_card_happy_path():
    run = Run("ektp_new_card")
    _new_card_until_waiting(run)
    assert run.completed_data("Service_send_to_regency")["sent_to_regency"] == {"ok": True}
    run.send("card_printed", {"card_serial": "X"})
    assert run.ready() == ["Task_receive_card"]  # no handover before the card reaches the office
    run.complete("Task_receive_card", card_arrived=True, batch_reference="KIRIM-01")
    handover = run.task("Task_handover")
    assert handover.data["card_printed"] == {"card_serial": "X"}  # payload lands in the messageVariable
    assert handover.data["nik"] == APPLICANT["nik"]
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti Aminah")
    assert run.workflow.completed and run.reached("End_done")
    assert not run.reached("End_suket") and not run.reached("Task_escalation")


def test_new_card_incomplete_documents_loop_then_complete():
    run = Run("ektp_new_card")
    run.complete("Task_document_check", documents_complete=False, document_notes="KK belum dibawa")
    assert run.ready() == ["Task_await_documents"]
    run.complete("Task_await_documents", missing_documents_brought=True)
    assert run.ready() == ["Task_document_check"]
    run.complete("Task_document_check", documents_complete=True)
    assert run.ready() == ["Task_residence_verification"]


def test_new_card_abandoned_after_14_days():
    with time_machine.travel(T0, tick=False) as clock:
        run = Run("ektp_new_card")
        run.complete("Task_document_check", documents_complete=False)
        # a first return visit still incomplete: the 14 days restart with each waiting period
        clock.shift(timedelta(days=10))
        run.tick()
        run.complete("Task_await_documents", missing_documents_brought=True)
        run.complete("Task_document_check", documents_complete=False)
        clock.shift(timedelta(days=13))
        run.tick()
        assert run.ready() == ["Task_await_documents"]
        clock.shift(timedelta(days=1, minutes=1))
        run.tick()
    assert run.ready() == []
    assert run.workflow.completed and run.reached("End_abandoned")
    assert not run.reached("Task_residence_verification")


def test_new_card_residence_rejected():
    run = Run("ektp_new_card")
    run.complete("Task_document_check", documents_complete=True)
    run.complete(
        "Task_residence_verification",
        residence_verified=False,
        rejection_reason="Bukan warga",
        kelurahan_officer="Pak Lurah",
    )
    assert run.workflow.completed and run.reached("End_residence_rejected")
    assert run.services.calls == []


def test_new_card_enrolment_problem_record_again():
    run = Run("ektp_new_card")
    _new_card_until_waiting(run)
    run.send("enrolment_problem", {"enrolment_result": "DUPLICATE_RECORD", "enrolment_notes": "NIK ganda"})
    assert run.waiting_messages() == []  # interrupting: the wait and its other boundary events are gone
    task = run.task("Task_enrolment_resolution")
    assert task.data["enrolment_problem"]["enrolment_result"] == "DUPLICATE_RECORD"
    run.complete("Task_enrolment_resolution", resolution="record_again", resolution_notes="Rekam ulang")
    assert run.ready() == ["Task_biometric_recording"]
    run.complete("Task_biometric_recording", **BIOMETRICS)
    assert run.operators() == [("coordination.send_to_regency", None)] * 2
    assert run.waiting_messages() == sorted(MESSAGES)  # boundary events are armed again
    run.send("card_printed", {"card_serial": "Y"})
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")


def test_new_card_enrolment_problem_close():
    run = Run("ektp_new_card")
    _new_card_until_waiting(run)
    run.send("enrolment_problem", {"enrolment_result": "ENROLL_FAILURE_AT_CENTRAL"})
    run.complete("Task_enrolment_resolution", resolution="close", resolution_notes="Pemohon pindah")
    assert run.workflow.completed and run.reached("End_enrolment_closed")
    assert not run.reached("Task_handover")


def test_new_card_temporary_certificate_then_card():
    run = Run("ektp_new_card")
    _new_card_until_waiting(run)
    run.send("temporary_certificate_issued", {"suket_number": "474/123"})
    # non-interrupting: still waiting for the card and for a problem report; the suket catch is spent
    assert run.waiting_messages() == ["card_printed", "enrolment_problem"]
    script = run.completed_data("Script_suket_issued")
    assert script["suket"] == {"suket_number": "474/123"} and script["suket_issued"] is True
    assert run.reached("End_suket")
    with pytest.raises(WorkflowException):  # a second suket message has nobody to catch it
        run.workflow.send_event(BpmnEvent(MessageEventDefinition("temporary_certificate_issued"), {}))
    run.send("card_printed", {"card_serial": "Z"})
    run.complete("Task_receive_card", card_arrived=True, batch_reference="KIRIM-01")
    handover = run.task("Task_handover")
    assert "suket_issued" not in handover.data  # branch data only merges when the workflow ends
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed
    assert run.workflow.data["suket_issued"] is True and run.workflow.data["card_printed"] == {"card_serial": "Z"}


def test_new_card_sla_escalation_uses_setting():
    with time_machine.travel(T0, tick=False) as clock:
        run = Run("ektp_new_card", settings={"card_return_sla": "P10D"})
        _new_card_until_waiting(run)
        [timer] = run.waiting_timers()
        assert timer.value.startswith((T0 + timedelta(days=10)).date().isoformat())
        clock.shift(timedelta(days=9))
        run.tick()
        assert run.ready() == []
        clock.shift(timedelta(days=1, minutes=1))
        run.tick()
        assert run.ready() == ["Task_escalation"]
        assert run.task("Task_escalation").task_spec.lane == "supervisor"
        assert run.waiting_messages() == sorted(MESSAGES)  # non-interrupting: still waiting
        run.complete("Task_escalation", escalation_action="contacted_regency", escalation_notes="Sudah ditelepon")
        assert run.reached("End_escalation") and not run.workflow.completed
        run.send("card_printed", {"card_serial": "X"})
        run.complete("Task_receive_card", card_arrived=True)
        run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")


def test_new_card_open_escalation_keeps_case_open_after_handover():
    with time_machine.travel(T0, tick=False) as clock:
        run = Run("ektp_new_card")
        _new_card_until_waiting(run)
        clock.shift(timedelta(days=15))
        run.tick()
        run.send("card_printed", {"card_serial": "X"})
        assert run.ready() == ["Task_escalation", "Task_receive_card"]
        run.complete("Task_receive_card", card_arrived=True)
        run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
        assert not run.workflow.completed  # the fired escalation branch is not cancelled by the card
        run.complete("Task_escalation", escalation_action="other", escalation_notes="Kartu sudah diserahkan")
    assert run.workflow.completed


def test_new_card_message_before_the_wait_is_refused():
    run = Run("ektp_new_card")
    with pytest.raises(WorkflowException):
        run.workflow.send_event(BpmnEvent(MessageEventDefinition("card_printed"), {"card_serial": "X"}))


def test_new_card_survives_serialization_while_waiting():
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    run = Run("ektp_new_card")
    _new_card_until_waiting(run)
    restored = serializer.deserialize_json(serializer.serialize_json(run.workflow))
    restored.script_engine = PythonScriptEngine(environment=run.services)
    run.workflow = restored
    assert run.waiting_messages() == sorted(MESSAGES)
    run.send("card_printed", {"card_serial": "X"})
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed


# --------------------------------------------------------------------------------------------
# execution: replacement
# --------------------------------------------------------------------------------------------


def _replacement(reason="lost"):
    return Run("ektp_replacement", dict(APPLICANT, reason=reason))


def test_replacement_happy_path():
    run = _replacement()
    run.complete("Task_document_check", documents_complete=True)
    run.complete("Task_identity_match", identity_matched=True)
    assert run.operators() == [("coordination.send_to_regency", None)]
    assert run.waiting_messages() == sorted(MESSAGES)
    run.send("card_printed", {"card_serial": "R1"})
    assert run.task("Task_receive_card").data["card_printed"] == {"card_serial": "R1"}
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")


def test_replacement_identity_mismatch_rejected():
    run = _replacement("damaged")
    run.complete("Task_document_check", documents_complete=True)
    run.complete("Task_identity_match", identity_matched=False, mismatch_reason="Tanggal lahir beda")
    assert run.workflow.completed and run.reached("End_identity_rejected")
    assert run.services.calls == []


def test_replacement_incomplete_loop_and_abandonment():
    with time_machine.travel(T0, tick=False) as clock:
        run = _replacement()
        run.complete("Task_document_check", documents_complete=False, document_notes="Surat polisi belum ada")
        run.complete("Task_await_documents", missing_documents_brought=True)
        assert run.ready() == ["Task_document_check"]
        run.complete("Task_document_check", documents_complete=False)
        clock.shift(timedelta(days=14, minutes=1))
        run.tick()
    assert run.workflow.completed and run.reached("End_abandoned")


def test_replacement_enrolment_problem_rerecord_then_suket_and_card():
    run = _replacement()
    run.complete("Task_document_check", documents_complete=True)
    run.complete("Task_identity_match", identity_matched=True)
    run.send("enrolment_problem", {"enrolment_result": "ENROLL_FAILURE_AT_CENTRAL"})
    run.complete("Task_enrolment_resolution", resolution="record_again", resolution_notes="Sidik jari buram")
    assert run.ready() == ["Task_rerecord_biometric"]
    assert run.task("Task_rerecord_biometric").task_spec.extensions["properties"]["formKey"] == "biometric_recording"
    run.complete("Task_rerecord_biometric", **BIOMETRICS)
    assert run.operators() == [("coordination.send_to_regency", None)] * 2
    run.send("temporary_certificate_issued", {"suket_number": "1"})
    assert run.reached("End_suket")
    run.send("card_printed", {"card_serial": "R2"})
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")


def test_replacement_enrolment_problem_close():
    run = _replacement()
    run.complete("Task_document_check", documents_complete=True)
    run.complete("Task_identity_match", identity_matched=True)
    run.send("enrolment_problem", {"enrolment_result": "DUPLICATE_RECORD"})
    run.complete("Task_enrolment_resolution", resolution="close", resolution_notes="Rekam ganda")
    assert run.workflow.completed and run.reached("End_enrolment_closed")


# --------------------------------------------------------------------------------------------
# execution: renewal / data change
# --------------------------------------------------------------------------------------------


def test_renewal_goes_straight_to_biometric_update():
    run = Run("ektp_renewal", dict(APPLICANT, request_type="renewal", old_card_expiry="2017-08-25"))
    run.complete("Task_document_check", documents_complete=True)
    assert run.ready() == ["Task_biometric_update"]
    run.complete("Task_biometric_update", **BIOMETRICS)
    assert run.waiting_messages() == sorted(MESSAGES)
    run.send("card_printed", {"card_serial": "P1"})
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")
    assert not run.reached("Task_data_change_verification")


def test_data_change_verified_then_enrolment_problem_record_again():
    run = Run("ektp_renewal", dict(APPLICANT, request_type="data_change", changed_fields="status: kawin"))
    run.complete("Task_document_check", documents_complete=True)
    assert run.ready() == ["Task_data_change_verification"]
    assert run.task("Task_data_change_verification").task_spec.lane == "verifier"
    run.complete("Task_data_change_verification", change_verified=True)
    run.complete("Task_biometric_update", **BIOMETRICS)
    run.send("enrolment_problem", {"enrolment_result": "DUPLICATE_RECORD"})
    run.complete("Task_enrolment_resolution", resolution="record_again", resolution_notes="x")
    assert run.ready() == ["Task_biometric_update"]
    run.complete("Task_biometric_update", **BIOMETRICS)
    run.send("card_printed", {"card_serial": "P2"})
    run.complete("Task_receive_card", card_arrived=True)
    run.complete("Task_handover", card_received=True, receipt_signed=True, received_by="Siti")
    assert run.workflow.completed and run.reached("End_done")


def test_data_change_rejected():
    run = Run("ektp_renewal", dict(APPLICANT, request_type="data_change", changed_fields="nama"))
    run.complete("Task_document_check", documents_complete=True)
    run.complete("Task_data_change_verification", change_verified=False, rejection_reason="Tanpa akta")
    assert run.workflow.completed and run.reached("End_change_rejected")


def test_renewal_incomplete_loop_and_abandonment():
    with time_machine.travel(T0, tick=False) as clock:
        run = Run("ektp_renewal", dict(APPLICANT, request_type="renewal"))
        run.complete("Task_document_check", documents_complete=False)
        run.complete("Task_await_documents", missing_documents_brought=True)
        run.complete("Task_document_check", documents_complete=False)
        clock.shift(timedelta(days=15))
        run.tick()
    assert run.workflow.completed and run.reached("End_abandoned")


# --------------------------------------------------------------------------------------------
# execution: regency printing
# --------------------------------------------------------------------------------------------


def _regency_until_stock(result="PRINT_READY_RECORD"):
    run = Run("ektp_regency_printing", dict(APPLICANT))
    assert run.ready() == ["Task_regency_receive"]
    assert run.task("Task_regency_receive").task_spec.lane == "regency_officer"
    run.complete("Task_regency_receive", data_complete=True)
    run.complete("Task_central_enrolment", enrolment_result=result)
    return run


def test_regency_prints_and_replies_card_printed():
    run = _regency_until_stock()
    run.complete("Task_blank_stock", blank_in_stock=True)
    run.complete("Task_print_card", card_serial="KTP-0001")
    assert run.operators() == [("coordination.reply_to_origin", "card_printed")]
    assert run.completed_data("Service_reply_card_printed")["reply_result"] == {"ok": True}
    assert run.workflow.completed and run.reached("End_card_sent")


@pytest.mark.parametrize("result", ["DUPLICATE_RECORD", "ENROLL_FAILURE_AT_CENTRAL"])
def test_regency_enrolment_problem_is_returned(result):
    run = _regency_until_stock(result)
    assert run.operators() == [("coordination.reply_to_origin", "enrolment_problem")]
    assert run.workflow.completed and run.reached("End_returned")


def test_regency_out_of_stock_with_suket_then_prints():
    run = _regency_until_stock()
    run.complete("Task_blank_stock", blank_in_stock=False, issue_suket=True)
    assert run.operators() == [("coordination.reply_to_origin", "temporary_certificate_issued")]
    assert run.ready() == ["Task_wait_blank"]
    run.complete("Task_wait_blank", blank_arrived=True)
    assert run.ready() == ["Task_blank_stock"]
    run.complete("Task_blank_stock", blank_in_stock=False, issue_suket=False)
    assert run.ready() == ["Task_wait_blank"]
    run.complete("Task_wait_blank", blank_arrived=True)
    run.complete("Task_blank_stock", blank_in_stock=True)
    run.complete("Task_print_card", card_serial="KTP-0002")
    assert run.operators() == [
        ("coordination.reply_to_origin", "temporary_certificate_issued"),
        ("coordination.reply_to_origin", "card_printed"),
    ]
    assert run.workflow.completed and run.reached("End_card_sent")


def test_regency_out_of_stock_without_suket():
    run = _regency_until_stock()
    run.complete("Task_blank_stock", blank_in_stock=False)  # issue_suket left out: counts as unticked
    assert run.ready() == ["Task_wait_blank"]
    assert run.services.calls == []


def test_kecamatan_and_regency_together():
    """The regency's replies, delivered as messages, drive the kecamatan case to the end."""
    kec = Run("ektp_new_card")
    _new_card_until_waiting(kec)
    reg = _regency_until_stock()
    reg.complete("Task_blank_stock", blank_in_stock=False, issue_suket=True)
    reg.complete("Task_wait_blank", blank_arrived=True)
    reg.complete("Task_blank_stock", blank_in_stock=True)
    reg.complete("Task_print_card", card_serial="KTP-0003")
    for _name, message in reg.operators():
        kec.send(message, {"card_serial": "KTP-0003"} if message == "card_printed" else {})
    assert kec.reached("Script_suket_issued")
    assert kec.task("Task_receive_card").data["card_printed"] == {"card_serial": "KTP-0003"}
