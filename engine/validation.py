"""Checking a diagram as a deploy would: SpiffWorkflow parses it, ``specs.parse_process``
checks lanes, forms, service operators, scripts, conditions and timers, and this module adds
what the browser editor needs on top: forms edited with the draft, every lane's role is one
Simpul knows, and every BPMN message is one the installed plugins know (``bpmn_messages``
hook) with its correlation key.  Used by ``processes.check_process`` (deploys) and ``drafts``
(saves); it imports neither, so the two do not import each other."""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ._specs import BPMN_NS, NS, ParsedProcess, parse_process
from .actors import ROLES
from .decisions import checkbox_end_warnings
from .errors import DeployError, InvalidInput, PluginError
from .i18n import N_

log = logging.getLogger(__name__)

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
MAX_FORMS_BYTES = 2 * 1024 * 1024
MAX_BPMN_BYTES = 2 * 1024 * 1024
FORM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")

# -- the registry of known messages ------------------------------------------------------------


def known_messages(runtime) -> dict[str, dict]:
    """Message name -> {"correlation", "description", "plugin"} from the ``bpmn_messages`` hook."""
    merged: dict[str, dict] = {}
    for impl in runtime.hook.bpmn_messages.get_hookimpls():
        for name, info in (impl.function() or {}).items():
            info = dict(info or {})
            info["plugin"] = impl.plugin_name
            if name in merged and merged[name].get("correlation") != info.get("correlation"):
                raise PluginError(
                    "Message {name} is correlated by {a} in {pa} but by {b} in {pb}.",
                    name=name,
                    a=merged[name].get("correlation"),
                    pa=merged[name]["plugin"],
                    b=info.get("correlation"),
                    pb=impl.plugin_name,
                )
            merged.setdefault(name, info)
    return merged


# -- validation --------------------------------------------------------------------------------


@dataclass
class Validation:
    """The outcome of checking a diagram: ``errors`` are ``{element, shape, message, template, params}``
    where ``element`` is the id the rule is about and ``shape`` the diagram element to pin it on."""

    process_key: str | None
    name: str | None
    errors: list = field(default_factory=list)
    parsed: ParsedProcess | None = None
    #: problems that do not stop a deploy but would hurt an office (same shape as ``errors``)
    warnings: list = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors and self.parsed is not None


def _problem(element, template, **params) -> dict:
    try:
        message = template.format(**params)
    except (KeyError, IndexError, ValueError):
        message = template
    return {"element": element, "message": message, "template": template, "params": params}


def bpmn_root(bpmn_xml: str):
    try:
        raw = bpmn_xml.encode("utf-8") if isinstance(bpmn_xml, str) else bpmn_xml
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
    except (etree.XMLSyntaxError, ValueError):
        return None
    if etree.QName(root).namespace != BPMN_NS:
        return None
    return root


def _clean_forms(forms, problems: list) -> dict:
    if forms is None:
        return {}
    if not isinstance(forms, dict):
        raise InvalidInput("Forms must be a JSON object mapping form keys to form-js schemas.")
    if len(json.dumps(forms)) > MAX_FORMS_BYTES:
        raise InvalidInput("The forms are larger than {limit} MB.", limit=MAX_FORMS_BYTES // (1024 * 1024))
    cleaned = {}
    for key, schema in forms.items():
        if not FORM_KEY.match(str(key)):
            problems.append(_problem(key, N_("Form key {form} must be letters, digits and underscores."), form=key))
            continue
        if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
            problems.append(_problem(key, N_("Form {form} is not a form-js schema (no components)."), form=key))
            continue
        cleaned[key] = schema
    return cleaned


def _check_lanes(root, lane_roles: dict) -> list:
    problems = []
    for lane in root.iterfind(".//bpmn:lane", NS):
        name = lane.get("name")
        if name not in lane_roles:
            problems.append(
                _problem(
                    lane.get("id"),
                    N_("Lane {lane} is not mapped to a role (known: {roles})."),
                    lane=name or N_("(no name)"),
                    roles=", ".join(sorted(lane_roles)),
                )
            )
        elif lane_roles[name] not in ROLES:
            problems.append(
                _problem(
                    lane.get("id"),
                    N_("Lane {lane} maps to role {role}, which Simpul does not know (known: {roles})."),
                    lane=name,
                    role=lane_roles[name],
                    roles=", ".join(ROLES),
                )
            )
    return problems


_MESSAGE_USERS = ("messageEventDefinition", "receiveTask", "sendTask")


def _check_messages(root, known: dict) -> list:
    """Every message caught or thrown is one the plugins know, with its correlation key; a
    correlation the diagram declares itself must be the one Simpul matches cases by."""
    problems = []
    messages = {m.get("id"): m.get("name") for m in root.iterfind("bpmn:message", NS)}
    # correlation declared in the diagram: message id -> property names
    declared: dict[str, set] = {}
    for prop in root.iterfind("bpmn:correlationProperty", NS):
        pname = prop.get("name") or prop.get("id")
        for expr in prop.iterfind("bpmn:correlationPropertyRetrievalExpression", NS):
            declared.setdefault(expr.get("messageRef"), set()).add(pname)
    known_list = ", ".join(sorted(known)) or N_("(none)")
    for process in root.iterfind("bpmn:process", NS):
        for node in process.iter(*[f"{{{BPMN_NS}}}{tag}" for tag in _MESSAGE_USERS]):
            local = etree.QName(node).localname
            owner = node.getparent() if local == "messageEventDefinition" else node
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            element = owner.get("id") if owner is not None else None
            label = (owner.get("name") if owner is not None else None) or element
            ref = node.get("messageRef")
            if not ref:
                if local == "sendTask":  # a send task may call a service instead of throwing a message
                    continue
                problems.append(
                    _problem(
                        element,
                        N_("{name} waits for or sends a message but names none (known: {known})."),
                        name=label,
                        known=known_list,
                    )
                )
                continue
            if ref not in messages:
                problems.append(
                    _problem(
                        element,
                        N_("{name} refers to message {ref}, which the diagram does not define."),
                        name=label,
                        ref=ref,
                    )
                )
                continue
            name = messages[ref]
            if not name:
                problems.append(_problem(element, N_("Message {ref} used by {name} has no name."), ref=ref, name=label))
                continue
            info = known.get(name)
            if info is None:
                problems.append(
                    _problem(
                        element,
                        N_(
                            "Message {message} is not known to Simpul: no installed plugin "
                            "delivers it (known: {known})."
                        ),
                        message=name,
                        known=known_list,
                    )
                )
                continue
            key = info.get("correlation")
            if not key:
                problems.append(
                    _problem(
                        element,
                        N_("Message {message} has no correlation key, so no case can be found for it."),
                        message=name,
                    )
                )
                continue
            other = declared.get(ref, set()) - {key}
            if other:
                problems.append(
                    _problem(
                        element,
                        N_(
                            "Message {message} is correlated by {declared} in the diagram, but "
                            "Simpul matches it to a case by {key}."
                        ),
                        message=name,
                        declared=", ".join(sorted(other)),
                        key=key,
                    )
                )
    return problems


_BARE_ISO = re.compile(r"^\s*(R\d*/)?P(?=\d|T\d)[0-9YMWDTHS.]*\s*$")


def _check_timer_quotes(root) -> list:
    """A timer is a Python expression: a bare P14D is a variable name that fails when the
    timer starts, so say it must be quoted."""
    problems = []
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in root.iterfind(f".//bpmn:{tag}", NS):
            if node.text and _BARE_ISO.match(node.text):
                owner = node.getparent()
                while owner is not None and not owner.get("id"):
                    owner = owner.getparent()
                problems.append(
                    _problem(
                        owner.get("id") if owner is not None else None,
                        N_('Timer value {value} must be quoted, as "{value}": a timer is an expression.'),
                        value=node.text.strip(),
                    )
                )
    return problems


def _form_users(root) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for prop in root.iterfind(".//spiffworkflow:property[@name='formKey']", NS):
        node = prop
        while node is not None and etree.QName(node).localname in ("property", "properties", "extensionElements"):
            node = node.getparent()
        if node is not None and node.get("id"):
            users.setdefault(prop.get("value"), []).append(node.get("id"))
    return users


MSG_UNREADABLE = N_("The diagram could not be read: {error}")


def _name_elements(root, problems: list) -> None:
    """Each problem names its element as the modeler shows it (``element_name``), and its
    English ``message`` is one short line (a parser's text can be a multi-line dump)."""
    from .refusals import refusal_line

    by_id = (
        {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")} if root is not None else {}
    )
    for p in problems:
        node = by_id.get(p.get("element"))
        p.setdefault("element_name", node.get("name") if node is not None else None)
        p["message"] = refusal_line({**p, "element": None})


def _pin(root, problems: list) -> list:
    """Give each problem the diagram element it shows on (``shape``), and drop duplicates."""
    if root is None:
        for p in problems:
            p.setdefault("shape", None)
        return problems
    shown = {el.get("bpmnElement") for el in root.iter(f"{{{DI_NS}}}BPMNShape", f"{{{DI_NS}}}BPMNEdge")}
    by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
    participants = {p.get("processRef"): p.get("id") for p in root.iterfind(".//bpmn:participant", NS)}
    forms = _form_users(root)
    pinned, seen = [], set()
    for p in problems:
        element, shape = p.get("element"), None
        if element in shown:
            shape = element
        elif element in participants and participants[element] in shown:
            shape = participants[element]
        elif element in by_id:
            node = by_id[element].getparent()
            while node is not None and shape is None:
                if isinstance(node.tag, str) and node.get("id") in shown:
                    shape = node.get("id")
                node = node.getparent()
        elif element in forms:  # a problem of a form: show it on the tasks that use the form
            targets = [t for t in forms[element] if t in shown]
            for target in targets[1:]:
                extra = dict(p, shape=target)
                if (target, p["message"]) not in seen:
                    seen.add((target, p["message"]))
                    pinned.append(extra)
            shape = targets[0] if targets else None
        if (shape or element, p["message"]) in seen:
            continue
        seen.add((shape or element, p["message"]))
        pinned.append({**p, "shape": shape})
    return pinned


def validate_process(runtime, bpmn_xml, forms: dict | None = None, source: str = "") -> Validation:
    """Check a diagram (and the forms edited with it) as a deploy would; never raises for a
    problem of the diagram itself: every problem is in ``errors``."""
    if isinstance(bpmn_xml, bytes):
        bpmn_xml = bpmn_xml.decode("utf-8", errors="replace")
    if not isinstance(bpmn_xml, str) or not bpmn_xml.strip():
        raise InvalidInput("The diagram is empty.")
    if len(bpmn_xml) > MAX_BPMN_BYTES:
        raise InvalidInput("The BPMN file is larger than {limit} MB.", limit=MAX_BPMN_BYTES // (1024 * 1024))
    problems: list = []
    forms = _clean_forms(forms, problems)
    root = bpmn_root(bpmn_xml)
    process_key = name = None
    if root is not None:
        processes = root.findall("bpmn:process", NS)
        executable = [p for p in processes if p.get("isExecutable", "true") != "false"] or processes
        if executable:
            process_key = executable[0].get("id")
            name = executable[0].get("name") or process_key
    parsed = None
    with tempfile.TemporaryDirectory(prefix="simpul-forms-") as tmp:
        for key, schema in forms.items():
            (Path(tmp) / f"{key}.form.json").write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
        try:
            parsed = parse_process(
                bpmn_xml,
                form_dirs=[Path(tmp), *runtime.form_dirs()],
                operators=runtime.operators,
                lane_roles=runtime.config.lane_roles,
                source=source,
                helpers=frozenset(runtime.expression_helpers),
            )
        except DeployError as exc:
            problems.extend(dict(e) for e in (exc.errors or [{"element": None, "message": str(exc)}]))
        except InvalidInput as exc:
            problems.append(_problem(None, exc.template, **exc.params))
        except Exception as exc:  # noqa: BLE001 - a parser's crash on a foreign diagram is a refusal too
            log.warning("the diagram %s could not be parsed", source or "", exc_info=True)
            problems.append(_problem(None, MSG_UNREADABLE, error=f"{type(exc).__name__}: {exc}"))
    if root is not None:
        problems.extend(_check_lanes(root, runtime.config.lane_roles))
        problems.extend(_check_messages(root, known_messages(runtime)))
        problems.extend(_check_timer_quotes(root))
    for p in problems:
        p.setdefault("template", p.get("message"))
        p.setdefault("params", {})
    problems = _pin(root, problems)
    _name_elements(root, problems)
    warnings: list = []
    if root is not None:
        used = parsed.forms if parsed is not None else {}
        warnings = _pin(root, checkbox_end_warnings(bpmn_xml, {**used, **forms}))
    if parsed is not None:
        process_key, name = parsed.process_key, parsed.name
        parsed.warnings = warnings
    return Validation(
        process_key=process_key,
        name=name,
        errors=problems,
        parsed=parsed if not problems else None,
        warnings=warnings,
    )
