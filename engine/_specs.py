"""Parsing, checking and serialising BPMN process definitions.

Everything a deploy needs to refuse a bad diagram before it reaches a running office:
SpiffWorkflow parses it, then Simpul checks lanes, forms, service operators, scripts,
conditions, timers and field names, and reports each problem pinned to its element id.
"""

from __future__ import annotations

import ast
import hashlib
import json
import keyword
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from . import _sandbox as sandbox
from .errors import DeployError
from .forms import FIELD_NAME, field_keys, load_form_file
from .i18n import N_, Message

READY = TaskState.READY

#: Helpers the engine gives every script and expression (see workflow._script_engine).
SCRIPT_HELPERS = frozenset({"setting"})
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

#: SpiffWorkflow names its own task specs so; a BPMN element with such an id vanishes silently.
RESERVED_IDS = {"Start", "End"}

#: BPMN elements Simpul runs; anything else in an imported diagram is reported.
SUPPORTED_ELEMENTS = {
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "manualTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "receiveTask",
    "sendTask",
    "subProcess",
    "callActivity",
    "sequenceFlow",
    "laneSet",
    "lane",
    "dataObject",
    "dataObjectReference",
    "dataStoreReference",
    "textAnnotation",
    "association",
    "extensionElements",
    "documentation",
    "ioSpecification",
    "dataInputAssociation",
    "dataOutputAssociation",
    "property",
    "multiInstanceLoopCharacteristics",
    "standardLoopCharacteristics",
    "incoming",
    "outgoing",
    "conditionExpression",
    "timerEventDefinition",
    "messageEventDefinition",
    "signalEventDefinition",
    "errorEventDefinition",
    "escalationEventDefinition",
    "terminateEventDefinition",
    "timeDuration",
    "timeDate",
    "timeCycle",
    "flowNodeRef",
    "script",
    "group",
    "category",
}


def content_hash(bpmn_xml: str, forms: dict) -> str:
    digest = hashlib.sha256()
    digest.update(bpmn_xml.encode("utf-8"))
    digest.update(json.dumps(forms, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


@dataclass
class ParsedProcess:
    """A checked process, ready to store as a version."""

    process_key: str
    name: str
    bpmn_xml: str
    forms: dict
    spec: object
    subprocess_specs: dict
    warnings: list = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return content_hash(self.bpmn_xml, self.forms)


def _problem(element, template, **params) -> dict:
    """One problem: ``message`` is the English text, ``template`` and ``params`` let the web
    layer show it in the user's language."""
    try:
        message = template.format(**params) if params else template
    except (KeyError, IndexError, ValueError):
        message = template
    return {"element": element, "message": message, "template": template, "params": params}


class _Problems:
    def __init__(self):
        self.items: list[dict] = []

    def add(self, element, message, **params):
        self.items.append(_problem(element, message, **params))

    def raise_if_any(self, what):
        if self.items:
            raise DeployError(
                "{what} cannot be deployed: {first}",
                what=what,
                first=Message(self.items[0]["template"], **self.items[0]["params"]),
                errors=self.items,
            )


def _find_form(form_key: str, form_dirs) -> Path | None:
    for directory in form_dirs:
        path = Path(directory) / f"{form_key}.form.json"
        if path.is_file():
            return path
    return None


MSG_NOT_XML = N_("The file is not well-formed XML: {error}")
MSG_NOT_BPMN = N_("The file is not a BPMN 2.0 file (no bpmn:definitions root).")
MSG_NOT_EXECUTABLE = N_(
    "This process is not executable (isExecutable is false): Simpul runs only an executable process."
)
MSG_ONE_PROCESS = N_("A file must hold exactly one executable process (found {n}).")

#: The words a sandbox problem names its script by.
SCRIPT_WORDS = {"prescript": N_("Pre-script"), "postscript": N_("Post-script")}


def _check_expression(problems, element, source, mode, what, param=None):
    """``what`` is an N_-marked word (Script, Condition...), translated where it is shown."""
    for message in sandbox.check_source(source or "", mode):
        if param is not None:
            problems.add(
                element, N_("Parameter {param} does not compile in the sandbox: {error}"), param=param, error=message
            )
        else:
            problems.add(element, N_("{what} does not compile in the sandbox: {error}"), what=what, error=message)


def _check_timer(problems, element, source):
    errors = sandbox.check_source(source or "", "eval")
    if errors:
        problems.add(element, N_("Timer expression does not compile in the sandbox: {error}"), error=errors[0])
        return
    try:
        literal = ast.literal_eval(source.strip())
    except (ValueError, SyntaxError):
        return  # computed at run time (e.g. setting("card_return_sla", "P14D"))
    if not isinstance(literal, str):
        problems.add(element, N_('Timer expression must give an ISO 8601 text such as "P14D".'))
        return
    try:
        if literal.upper().startswith("R"):
            TimerEventDefinition.parse_iso_recurring_interval(literal)
        else:
            TimerEventDefinition.parse_time_or_duration(literal)
    except Exception:
        problems.add(element, N_("Timer value {value} is not an ISO 8601 date, duration or cycle."), value=literal)


def _element_id(node) -> str | None:
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _refuse_documentation_only(root, ids, what) -> None:
    """A collaboration drawn in another tool: every pool is a documentation-only process."""
    if not ids and root.find("bpmn:process", NS) is not None:
        raise DeployError(
            "{what} cannot be deployed: {first}",
            what=what,
            first=MSG_NOT_EXECUTABLE,
            errors=[_problem(p.get("id"), MSG_NOT_EXECUTABLE) for p in root.iterfind("bpmn:process", NS)],
        )


def parse_process(bpmn_xml: str | bytes, *, form_dirs, operators, lane_roles, source="", helpers=()) -> ParsedProcess:
    """Parse and check one BPMN document; raise DeployError listing every problem found.

    The steps: read the XML, refuse elements Simpul does not run, let SpiffWorkflow parse the
    one process, then check lanes, tasks (forms, operators, scripts), end-event outcomes, form
    field names and the diagram's expressions, collecting every problem before raising."""
    problems = _Problems()
    what = source or "The BPMN file"
    raw = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
    root = _read_root(raw, what)
    _check_elements(root, problems)
    problems.raise_if_any(what)
    process_key, spec, subprocess_specs = _spiff_parse(root, source, what)
    if not FIELD_NAME.match(process_key):
        problems.add(process_key, N_("Process id {key} must be letters, digits and underscores."), key=process_key)
    process_node = root.find(f"bpmn:process[@id='{process_key}']", NS)
    name = (process_node.get("name") if process_node is not None else None) or process_key
    _check_lanes(root, lane_roles, problems)
    forms: dict[str, dict] = {}
    for wf_spec in (spec, *subprocess_specs.values()):
        for ts in wf_spec.task_specs.values():
            if getattr(ts, "bpmn_id", None) is not None:
                _check_task_spec(ts, forms, form_dirs, operators, problems)

    from .outcomes import check_end_events

    check_end_events(problems, root)
    _check_field_names(forms, helpers, problems)
    _check_diagram_expressions(root, problems)
    problems.raise_if_any(what)
    return ParsedProcess(
        process_key=process_key,
        name=name,
        bpmn_xml=raw.decode("utf-8"),
        forms=forms,
        spec=spec,
        subprocess_specs=subprocess_specs,
    )


def _read_root(raw: bytes, what: str):
    try:
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except etree.XMLSyntaxError as exc:
        raise DeployError(
            "{what} is not well-formed XML: {error}",
            what=what,
            error=str(exc),
            errors=[_problem(None, MSG_NOT_XML, error=str(exc))],
        ) from exc
    if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
        raise DeployError(
            "{what} is not a BPMN 2.0 file (no bpmn:definitions root).",
            what=what,
            errors=[_problem(None, MSG_NOT_BPMN)],
        )
    return root


def _check_elements(root, problems: _Problems) -> None:
    """Elements Simpul does not run (diagrams imported from other modelers), reserved ids."""
    for process in root.iterfind("bpmn:process", NS):
        for node in process.iterdescendants():
            if not isinstance(node.tag, str):
                continue
            qn = etree.QName(node)
            if qn.namespace == BPMN_NS and qn.localname not in SUPPORTED_ELEMENTS:
                problems.add(_element_id(node), N_("Simpul does not run BPMN element {tag}."), tag=qn.localname)
    for node in root.iter():
        if isinstance(node.tag, str) and node.get("id") in RESERVED_IDS:
            problems.add(
                node.get("id"), N_("Element id {id} is reserved by the workflow engine; rename it."), id=node.get("id")
            )


def _spiff_parse(root, source: str, what: str):
    """SpiffWorkflow's parse of the one executable process: (process key, spec, subprocess specs)."""
    parser = SpiffBpmnParser()
    try:
        parser.add_bpmn_xml(root, filename=source or None)
        ids = parser.get_process_ids()
        _refuse_documentation_only(root, ids, what)
        if len(ids) != 1:
            raise DeployError(
                "{what} must hold exactly one executable process (found {n}).",
                what=what,
                n=len(ids),
                errors=[_problem(None, MSG_ONE_PROCESS, n=len(ids))],
            )
        process_key = ids[0]
        return process_key, parser.get_spec(process_key), parser.get_subprocess_specs(process_key)
    except (ValidationException, SpiffWorkflowException) as exc:
        first = str(exc).splitlines()[0]
        element = (getattr(exc, "id", None) or None) if isinstance(exc, ValidationException) else None
        raise DeployError(
            "{what}: {error}", what=what, error=first, errors=[{"element": element, "message": first}]
        ) from exc


def _check_lanes(root, lane_roles, problems: _Problems) -> None:
    for lane in root.iterfind(".//bpmn:lane", NS):
        lane_name = lane.get("name")
        if lane_name not in lane_roles:
            problems.add(
                lane.get("id"),
                N_("Lane {lane} is not mapped to a role (known: {roles})."),
                lane=lane_name or N_("(no name)"),
                roles=", ".join(sorted(lane_roles)),
            )


def _check_task_spec(ts, forms: dict[str, dict], form_dirs, operators, problems: _Problems) -> None:
    """One task of the process: its lane and form, due time, service operator and scripts.
    Forms it names are loaded into ``forms`` (each once)."""
    bpmn_id = ts.bpmn_id
    cls = type(ts).__name__
    props = (getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}
    form_key = props.get("formKey")
    if cls == "UserTask":
        _check_user_task(ts, form_key, problems)
    if form_key and form_key not in forms:
        _load_form(bpmn_id, form_key, form_dirs, forms, problems)
    if due := props.get("dueIn"):
        try:
            TimerEventDefinition.parse_iso_duration(due)
        except Exception:
            problems.add(bpmn_id, N_("dueIn {value} is not an ISO 8601 duration."), value=due)
    if cls == "ServiceTask":
        _check_service_task(ts, operators, problems)
    if cls == "ScriptTask":
        _check_expression(problems, bpmn_id, ts.script, "exec", N_("Script"))
    for attr in ("prescript", "postscript"):
        if getattr(ts, attr, None):
            _check_expression(problems, bpmn_id, getattr(ts, attr), "exec", SCRIPT_WORDS[attr])


def _check_user_task(ts, form_key: str | None, problems: _Problems) -> None:
    if ts.lane is None:
        problems.add(
            ts.bpmn_id,
            N_("User task {name} is not in a lane, so no role can do it."),
            name=ts.bpmn_name or ts.bpmn_id,
        )
    if not form_key:
        problems.add(ts.bpmn_id, N_("User task {name} has no form (formKey)."), name=ts.bpmn_name or ts.bpmn_id)


def _load_form(bpmn_id: str, form_key: str, form_dirs, forms: dict[str, dict], problems: _Problems) -> None:
    path = _find_form(form_key, form_dirs)
    if path is None:
        problems.add(bpmn_id, N_("Form {form} is not found."), form=form_key)
        return
    try:
        forms[form_key] = load_form_file(path)
    except Exception as exc:  # InvalidInput from load_form_file
        template = getattr(exc, "template", None)
        params = getattr(exc, "params", None) or {}
        if template and "path" in params:
            params = {**params, "path": Path(params["path"]).name}
        problems.add(bpmn_id, template or str(exc), **(params if template else {}))


def _check_service_task(ts, operators, problems: _Problems) -> None:
    op = getattr(ts, "operation_name", None)
    if op not in operators:
        problems.add(
            ts.bpmn_id,
            N_("Service operator {op} is not provided by any installed plugin."),
            op=op or N_("(none)"),
        )
    for pname, param in (getattr(ts, "operation_params", None) or {}).items():
        _check_expression(problems, ts.bpmn_id, param.get("value"), "eval", None, param=pname)


def _check_field_names(forms: dict[str, dict], helpers, problems: _Problems) -> None:
    """Form fields become script variables: refuse names that would shadow or break one."""
    for key, form in forms.items():
        for fkey in field_keys(form):
            if (
                fkey.startswith("_")
                or fkey in sandbox.RESERVED_NAMES
                or fkey in SCRIPT_HELPERS
                or fkey in helpers  # a plugin's expression helper (expression_helpers hook)
                or keyword.iskeyword(fkey)
                or not FIELD_NAME.match(fkey)
            ):
                problems.add(
                    key,
                    N_(
                        "Form {form}: field name {field} is not allowed (it starts with '_', is not "
                        "a plain name, or shadows a script helper)."
                    ),
                    form=key,
                    field=fkey,
                )


def _check_diagram_expressions(root, problems: _Problems) -> None:
    """Conditions, timers and message payloads written in the diagram itself."""
    for cond in root.iterfind(".//bpmn:conditionExpression", NS):
        _check_expression(problems, _element_id(cond), cond.text, "eval", N_("Condition"))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iterfind(f".//bpmn:{tag}", NS):
            _check_timer(problems, _element_id(node), node.text)
    for node in root.iterfind(".//spiffworkflow:messagePayload", NS):
        _check_expression(problems, _element_id(node), node.text, "eval", N_("Message payload"))


class SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Serialises a workflow without its spec; the spec is stored once per process version."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        if spec is None:
            raise ValueError("the process spec must be given when restoring a workflow")
        workflow = self.target_class(spec, subprocess_specs or {}, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class StateSerializer:
    """Workflow <-> JSON text.  Not thread-safe (SpiffWorkflow's registry is not): one per thread."""

    def __init__(self):
        config = dict(SPIFF_CONFIG)
        config[BpmnWorkflow] = SpecFreeWorkflowConverter
        self.registry = BpmnWorkflowSerializer.configure(config)
        self.serializer = BpmnWorkflowSerializer(self.registry)

    def dump_spec(self, spec, subprocess_specs) -> str:
        return json.dumps(
            {
                "spec": self.registry.convert(spec),
                "subprocess_specs": {k: self.registry.convert(v) for k, v in subprocess_specs.items()},
            },
            separators=(",", ":"),
        )

    def load_spec(self, spec_json: str):
        dct = json.loads(spec_json)
        spec = self.registry.restore(dct["spec"])
        subs = {k: self.registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs

    def dump(self, workflow) -> str:
        self.registry._encoder_mode = True
        try:
            dct = self.registry.convert(workflow)
            dct[self.serializer.VERSION_KEY] = self.serializer.VERSION
            return json.dumps(dct, separators=(",", ":"), cls=self.serializer._encoder_cls)
        finally:
            self.registry._encoder_mode = False

    def load(self, state: str, spec, subprocess_specs):
        return self.load_with_ready(state, spec, subprocess_specs)[0]

    def load_with_ready(self, state: str, spec, subprocess_specs):
        """The workflow, and the ids of its READY tasks by spec (read off the stored dict,
        cheaper than walking the restored tree; None when subprocesses make that unsafe)."""
        dct = json.loads(state)
        self.serializer.migrate(dct)
        ready = None
        if not dct.get("subprocesses"):
            ready = [
                (tid, spec.task_specs.get(t["task_spec"])) for tid, t in dct["tasks"].items() if t["state"] == READY
            ]
        return self.registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs), ready


def spec_label(ts) -> dict:
    """How a task spec is named in a version diff: its BPMN id, name (and English name), type."""
    props = (getattr(ts, "extensions", None) or {}).get("properties") or {}
    return {
        "id": ts.bpmn_id,
        "name": ts.bpmn_name or ts.bpmn_id,
        "name_en": props.get("name_en"),
        "type": type(ts).__name__,
    }


def bpmn_specs(specs) -> list:
    """Only BPMN elements: SpiffWorkflow's own helper specs (Start, End, boundary splits) have no bpmn_id."""
    return [ts for ts in specs if getattr(ts, "bpmn_id", None)]
