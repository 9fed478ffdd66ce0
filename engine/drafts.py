"""Editing processes: drafts, validation at save, and deploying a draft as a new version.

An administrator edits a process in the browser; every save stores a *draft* and checks it
the way a deploy would, so each problem comes back pinned to its diagram element.  An invalid
draft is kept (work is never lost) but cannot be deployed.  Deploying a valid draft makes
the next version of its process; running cases stay on the version they began on until an
administrator migrates them (engine.case_migration).

The checks: SpiffWorkflow parses the diagram, then ``engine.specs.parse_process`` checks lanes,
forms, service operators, scripts, conditions and timers, and this module adds what the
browser editor needs on top: forms edited with the draft, every lane's role is one Simpul
knows, and every BPMN message is one the installed plugins know (``bpmn_messages`` hook) with
its correlation key.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select

from .actors import ROLES, Actor
from .decisions import checkbox_end_warnings
from .errors import Conflict, DeployError, Forbidden, InvalidInput, NotFound, PluginError
from .i18n import N_
from .models import Case, ProcessVersion, utcnow
from .models_process_admin import ProcessDraft, VersionCaseCount
from .processes import MAX_BPMN_BYTES, store_version
from .specs import BPMN_NS, NS, ParsedProcess, parse_process

log = logging.getLogger(__name__)

ADMIN_ROLE = "process_admin"
FORM_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
MAX_FORMS_BYTES = 2 * 1024 * 1024


def require_admin(actor: Actor) -> None:
    if not actor.has_role(ADMIN_ROLE):
        raise Forbidden("Process administration needs the role {role}.", role=ADMIN_ROLE)


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


def editor_catalogue(runtime) -> dict:
    """What the properties panel offers: lanes and their roles, forms, operators, messages."""
    forms = {}
    for directory in runtime.form_dirs():
        for path in sorted(Path(directory).glob("*.form.json")):
            forms.setdefault(path.name[: -len(".form.json")], str(path.parent))
    return {
        "lanes": [{"name": lane, "role": role} for lane, role in sorted(runtime.config.lane_roles.items())],
        "roles": list(ROLES),
        "forms": sorted(forms),
        "operators": sorted(runtime.operators),
        "messages": [
            {
                "name": name,
                "correlation": info.get("correlation"),
                "description": info.get("description"),
                "plugin": info.get("plugin"),
            }
            for name, info in sorted(known_messages(runtime).items())
        ],
    }


def bundled_form(runtime, form_key: str) -> dict | None:
    """A form-js schema found in the form directories (the starting point of the form editor)."""
    if not FORM_KEY.match(form_key or ""):
        return None
    for directory in runtime.form_dirs():
        path = Path(directory) / f"{form_key}.form.json"
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                return None
    return None


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


def _root(bpmn_xml: str):
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
    root = _root(bpmn_xml)
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


# -- drafts ------------------------------------------------------------------------------------


def draft_dict(d: ProcessDraft, *, with_content: bool = True) -> dict:
    result = {
        "id": d.id,
        "process_key": d.process_key,
        "name": d.name,
        "status": d.status,
        "valid": d.valid,
        "errors": list(d.errors or []),
        "base_version_id": d.base_version_id,
        "deployed_version_id": d.deployed_version_id,
        "revision": d.revision,
        "created_by": d.created_by,
        "created_at": d.created_at.isoformat(),
        "saved_by": d.saved_by,
        "saved_at": d.saved_at.isoformat(),
    }
    if with_content:
        result.update(bpmn_xml=d.bpmn_xml, forms=dict(d.forms or {}))
    return result


def save_draft(
    runtime,
    actor: Actor,
    bpmn_xml,
    *,
    forms: dict | None = None,
    draft_id: int | None = None,
    expected_revision: int | None = None,
    base_version_id: int | None = None,
) -> dict:
    """Save a diagram as a draft, checked: the result carries ``valid`` and ``errors``.

    Without ``draft_id`` a new draft is made (an import, or the first save of an edit).
    ``expected_revision`` is the revision the editor loaded; a save over a newer one (another
    administrator saved meanwhile) is refused with Conflict."""
    require_admin(actor)
    result = validate_process(runtime, bpmn_xml, forms)
    if isinstance(bpmn_xml, bytes):
        bpmn_xml = bpmn_xml.decode("utf-8", errors="replace")
    forms = dict(forms or {})  # kept as given, even when a form is wrong: a draft never loses work
    now = utcnow()
    with runtime.transaction() as uow:
        s = uow.session
        if draft_id is None:
            if base_version_id is not None and s.get(ProcessVersion, base_version_id) is None:
                raise NotFound("Process version {id} not found.", id=base_version_id)
            draft = ProcessDraft(
                created_by=actor.username, created_at=now, revision=0, status="open", base_version_id=base_version_id
            )
            s.add(draft)
        else:
            stmt = select(ProcessDraft).where(ProcessDraft.id == draft_id)
            draft = s.scalar(runtime.db.for_update(stmt))
            if draft is None:
                raise NotFound("Draft {id} not found.", id=draft_id)
            if draft.status != "open":
                raise Conflict(
                    "Draft {id} was already deployed as a version; open the process again to edit it.", id=draft_id
                )
            if expected_revision is not None and draft.revision != expected_revision:
                raise Conflict(
                    "Someone else saved this draft meanwhile ({user}, revision {revision}); reload it.",
                    user=draft.saved_by,
                    revision=draft.revision,
                )
        draft.process_key = result.process_key
        draft.name = (result.name or result.process_key or "")[:200]
        draft.bpmn_xml = bpmn_xml
        draft.forms = forms
        draft.valid = result.valid
        draft.errors = result.errors
        draft.saved_by, draft.saved_at = actor.username, now
        draft.revision = (draft.revision or 0) + 1
        s.flush()
        return {**draft_dict(draft), "warnings": result.warnings}


def get_draft(runtime, draft_id: int, actor: Actor) -> dict:
    require_admin(actor)
    with runtime.read() as s:
        draft = s.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound("Draft {id} not found.", id=draft_id)
        return draft_dict(draft)


def list_drafts(runtime, actor: Actor, process_key: str | None = None) -> list[dict]:
    require_admin(actor)
    with runtime.read() as s:
        stmt = select(ProcessDraft).where(ProcessDraft.status == "open")
        if process_key:
            stmt = stmt.where(ProcessDraft.process_key == process_key)
        return [draft_dict(d, with_content=False) for d in s.scalars(stmt.order_by(ProcessDraft.saved_at.desc()))]


def open_process(runtime, actor: Actor, process_key: str) -> dict:
    """What the modeler opens for a process: its newest open draft, else its latest version
    (with the forms frozen in it) as the start of a new draft."""
    require_admin(actor)
    with runtime.read() as s:
        draft = s.scalar(
            select(ProcessDraft)
            .where(ProcessDraft.process_key == process_key, ProcessDraft.status == "open")
            .order_by(ProcessDraft.saved_at.desc())
            .limit(1)
        )
        if draft is not None:
            return {
                "draft": draft_dict(draft),
                "bpmn_xml": draft.bpmn_xml,
                "forms": dict(draft.forms or {}),
                "version": None,
            }
        version = s.scalar(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == process_key)
            .order_by(ProcessVersion.version.desc())
            .limit(1)
        )
        if version is None:
            raise NotFound("No process {key} is deployed.", key=process_key)
        return {
            "draft": None,
            "bpmn_xml": version.bpmn_xml,
            "forms": dict(version.forms or {}),
            "version": {"id": version.id, "version": version.version},
        }


def version_xml(runtime, process_key: str, version: int | None = None) -> tuple[str, int]:
    """A deployed version's BPMN (the latest without ``version``), for download."""
    with runtime.read() as s:
        stmt = select(ProcessVersion).where(ProcessVersion.process_key == process_key)
        stmt = (
            stmt.where(ProcessVersion.version == version)
            if version
            else stmt.order_by(ProcessVersion.version.desc()).limit(1)
        )
        row = s.scalar(stmt)
        if row is None:
            raise NotFound("No process {key} is deployed.", key=process_key)
        return row.bpmn_xml, row.version


def _message_names(bpmn_xml: str) -> set[str]:
    root = _root(bpmn_xml)
    if root is None:
        return set()
    return {m.get("name") for m in root.iterfind("bpmn:message", NS) if m.get("name")}


def _operators(bpmn_xml: str) -> dict[str, str]:
    """Service operator id -> the name of a task that calls it."""
    root = _root(bpmn_xml)
    if root is None:
        return {}
    found = {}
    for op in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS):
        owner = op.getparent()
        while owner is not None and not owner.get("id"):
            owner = owner.getparent()
        if op.get("id"):
            found.setdefault(
                op.get("id"), (owner.get("name") or owner.get("id")) if owner is not None else op.get("id")
            )
    return found


def deploy_preview(runtime, draft_id: int, actor: Actor) -> dict:
    """What deploying a draft would change, before it is deployed: the difference from the
    deployed version (SpiffWorkflow's SpecDiff, as migration computes it), the open cases and
    what they will do, and what the process would lose (service tasks, messages)."""
    require_admin(actor)
    from .case_migration import _spec_label, _visible

    with runtime.read() as s:
        draft = s.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound("Draft {id} not found.", id=draft_id)
        xml, forms = draft.bpmn_xml, dict(draft.forms or {})
    result = validate_process(runtime, xml, forms, source=f"draft {draft_id}")
    preview = {
        "draft_id": draft_id,
        "process_key": result.process_key,
        "valid": result.valid,
        "errors": result.errors,
        "warnings": result.warnings,
        "current_version": None,
        "next_version": 1,
        "added": [],
        "removed": [],
        "changed": [],
        "lost": [],
        "open_cases": [],
        "open_total": 0,
    }
    if not result.valid:
        return preview
    with runtime.read() as s:
        latest = s.scalar(
            select(ProcessVersion)
            .where(ProcessVersion.process_key == result.process_key)
            .order_by(ProcessVersion.version.desc())
            .limit(1)
        )
        if latest is None:
            return preview
        info = runtime.version_info(s, latest.id, latest)
        old_xml = latest.bpmn_xml
        counts = s.execute(
            select(ProcessVersion.version, func.count(Case.id))
            .join(Case, Case.process_version_id == ProcessVersion.id)
            .where(Case.process_key == result.process_key, Case.status.in_(("active", "incident")))
            .group_by(ProcessVersion.version)
            .order_by(ProcessVersion.version)
        ).all()
    from SpiffWorkflow.bpmn.util.diff import SpecDiff

    diff = SpecDiff(runtime.serializer.registry, info.spec[0], result.parsed.spec)
    removed = [_spec_label(ts) for ts in _visible(diff.removed)]
    lost = [
        {"kind": "service", "name": name, "operator": op}
        for op, name in _operators(old_xml).items()
        if op not in _operators(xml)
    ]
    lost += [{"kind": "message", "name": m} for m in sorted(_message_names(old_xml) - _message_names(xml))]
    preview.update(
        current_version=latest.version,
        next_version=latest.version + 1,
        added=[_spec_label(ts) for ts in _visible(diff.added)],
        removed=removed,
        changed=[
            {**_spec_label(ts), "attributes": sorted(changes)}
            for ts, changes in diff.changed.items()
            if getattr(ts, "bpmn_id", None)
        ],
        lost=lost,
        open_cases=[{"version": v, "cases": n} for v, n in counts],
        open_total=sum(n for _v, n in counts),
    )
    return preview


def deploy_draft(
    runtime, draft_id: int, actor: Actor, *, expected_revision: int | None = None, accept_losses: bool = False
) -> dict:
    """Deploy a valid draft as the next version of its process; an invalid one is refused with
    DeployError whose ``errors`` are pinned to elements (the draft keeps them too).

    A draft that drops a service task or a message the deployed version has (a process that
    would never send the card, or never hear back) is refused with Conflict unless
    ``accept_losses``: the administrator saw ``deploy_preview`` and confirmed."""
    require_admin(actor)
    if not accept_losses:
        preview = deploy_preview(runtime, draft_id, actor)
        if preview["valid"] and preview["lost"]:
            raise Conflict(
                "This version drops {lost}, which the deployed version has; confirm the deploy to go on.",
                lost=", ".join(item["name"] for item in preview["lost"]),
                errors=preview["lost"],
            )
    with runtime.read() as s:
        draft = s.get(ProcessDraft, draft_id)
        if draft is None:
            raise NotFound("Draft {id} not found.", id=draft_id)
        xml, forms, status, revision = draft.bpmn_xml, dict(draft.forms or {}), draft.status, draft.revision
    if status != "open":
        raise Conflict("Draft {id} was already deployed.", id=draft_id)
    if expected_revision is not None and expected_revision != revision:
        raise Conflict("Someone else saved this draft meanwhile (revision {revision}); reload it.", revision=revision)
    result = validate_process(runtime, xml, forms, source=f"draft {draft_id}")
    if not result.valid:
        with runtime.transaction() as uow:
            row = uow.session.get(ProcessDraft, draft_id)
            row.valid, row.errors = False, result.errors
        raise DeployError(
            "{what} cannot be deployed: {first}",
            what=result.name or f"Draft {draft_id}",
            first=result.errors[0]["message"] if result.errors else "it does not parse",
            errors=result.errors,
        )
    parsed = result.parsed
    with runtime.transaction() as uow:
        s = uow.session
        row = s.scalar(runtime.db.for_update(select(ProcessDraft).where(ProcessDraft.id == draft_id)))
        if row.status != "open" or row.revision != revision:
            raise Conflict("The draft changed while it was being deployed; reload it.")
        version = store_version(runtime, s, parsed, actor.username, source=f"draft {draft_id} (web)")
        row.status, row.deployed_version_id, row.valid, row.errors = "deployed", version.id, True, []
        return {
            "id": version.id,
            "process_key": version.process_key,
            "version": version.version,
            "name": version.name,
            "deployed_by": version.deployed_by,
            "deployed_at": version.deployed_at.isoformat(),
            "draft_id": draft_id,
        }


# -- the admin's list of processes --------------------------------------------------------------


def process_overview(runtime, actor: Actor) -> list[dict]:
    """Every process with each version: who deployed it, when, and how many cases run on it
    (open ones, and all), plus its open drafts."""
    require_admin(actor)
    with runtime.read() as s:
        # counted as cases start, end and migrate (process_version_counts), not on every load
        counts = {c.process_version_id: c for c in s.scalars(select(VersionCaseCount))}
        open_counts = {vid: c.open_cases for vid, c in counts.items()}
        all_counts = {vid: c.cases for vid, c in counts.items()}
        rows = s.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version)).all()
        drafts = s.scalars(
            select(ProcessDraft).where(ProcessDraft.status == "open").order_by(ProcessDraft.saved_at.desc())
        ).all()
        result: dict[str, dict] = {}
        for v in rows:
            entry = result.setdefault(v.process_key, {"key": v.process_key, "versions": [], "drafts": []})
            entry.update(name=v.name, latest=v.version)
            entry["versions"].append(
                {
                    "id": v.id,
                    "version": v.version,
                    "deployed_by": v.deployed_by,
                    "deployed_at": v.deployed_at.isoformat(),
                    "source": v.source,
                    "hash": v.content_hash[:12],
                    "open_cases": open_counts.get(v.id, 0),
                    "cases": all_counts.get(v.id, 0),
                }
            )
        for d in drafts:
            key = d.process_key or f"draft-{d.id}"
            entry = result.setdefault(
                key, {"key": key, "name": d.name or key, "latest": None, "versions": [], "drafts": []}
            )
            entry["drafts"].append(draft_dict(d, with_content=False))
        for entry in result.values():
            entry["open_cases"] = sum(v["open_cases"] for v in entry["versions"])
            entry["versions"].sort(key=lambda v: -v["version"])
        return sorted(result.values(), key=lambda e: e["key"])
