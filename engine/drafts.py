"""Editing processes: drafts, validation at save, and deploying a draft as a new version.

An administrator edits a process in the browser; every save stores a *draft* and checks it
the way a deploy would, so each problem comes back pinned to its diagram element.  An invalid
draft is kept (work is never lost) but cannot be deployed.  Deploying a valid draft makes
the next version of its process; running cases stay on the version they began on until an
administrator migrates them (engine.case_migration).

The checks are in ``engine.validation`` (shared with deploys from the CLI and bundled files).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ._specs import NS, bpmn_specs, spec_label
from .actors import ROLES, Actor
from .errors import Conflict, DeployError, Forbidden, NotFound
from .models import Case, ProcessVersion, utcnow
from .models_drafts import ProcessDraft, VersionCaseCount
from .processes import store_version
from .validation import FORM_KEY, bpmn_root, known_messages, validate_process

log = logging.getLogger(__name__)

ADMIN_ROLE = "process_admin"


def require_admin(actor: Actor) -> None:
    if not actor.has_role(ADMIN_ROLE):
        raise Forbidden("Process administration needs the role {role}.", role=ADMIN_ROLE)


def editor_catalogue(runtime) -> dict:
    """What the properties panel offers: lanes and their roles, forms, operators, messages."""
    forms: dict[str, str] = {}
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


# -- drafts ------------------------------------------------------------------------------------


def draft_dict(d: ProcessDraft, *, with_content: bool = True) -> dict:
    result: dict[str, Any] = {
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
    """One saved draft of a process, with its diagram, forms and problems (process admins)."""
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
    root = bpmn_root(bpmn_xml)
    if root is None:
        return set()
    return {m.get("name") for m in root.iterfind("bpmn:message", NS) if m.get("name")}


def _operators(bpmn_xml: str) -> dict[str, str]:
    """Service operator id -> the name of a task that calls it."""
    root = bpmn_root(bpmn_xml)
    if root is None:
        return {}
    found: dict[str, str] = {}
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

    assert result.parsed is not None  # a valid result has its parse
    diff = SpecDiff(runtime.serializer.registry, info.spec[0], result.parsed.spec)
    removed = [spec_label(ts) for ts in bpmn_specs(diff.removed)]
    lost = [
        {"kind": "service", "name": name, "operator": op}
        for op, name in _operators(old_xml).items()
        if op not in _operators(xml)
    ]
    lost += [{"kind": "message", "name": m} for m in sorted(_message_names(old_xml) - _message_names(xml))]
    preview.update(
        current_version=latest.version,
        next_version=latest.version + 1,
        added=[spec_label(ts) for ts in bpmn_specs(diff.added)],
        removed=removed,
        changed=[
            {**spec_label(ts), "attributes": sorted(changes)}
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
    assert parsed is not None  # a valid result has its parse
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
