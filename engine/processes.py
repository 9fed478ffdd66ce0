"""Deploying process definitions as versions; running cases stay on the version they began on."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import bindparam, func, select

from ._specs import ParsedProcess
from .errors import Conflict, DeployError, NotFound
from .i18n import N_, Message
from .models import Case, ProcessVersion, utcnow
from .refusals import refusal_message
from .resources import PROCESSES_DIR
from .validation import validate_process


def check_process(runtime, bpmn_xml, source: str = "", forms: dict | None = None) -> ParsedProcess:
    """Every deploy-time check (SpiffWorkflow's parse, lanes, forms, operators, sandbox,
    timers, messages), the same for the CLI, bundled processes and the browser's modeler.
    Raises DeployError listing each problem pinned to its element; stores nothing."""
    result = validate_process(runtime, bpmn_xml, forms, source=source)
    if result.errors:
        raise DeployError(
            "{what} cannot be deployed: {first}",
            what=source or result.name or Message(N_("The BPMN file")),
            first=refusal_message(result.errors[0]),
            errors=result.errors,
        )
    assert result.parsed is not None  # no errors: parsed
    return result.parsed


def deploy_process(runtime, bpmn_xml, *, deployed_by: str, source: str = "") -> ProcessVersion:
    """Store a checked diagram as the next version of its process.

    The same content (diagram and forms) deployed again is refused with Conflict, naming
    the version that already has it; nothing is written."""
    parsed = check_process(runtime, bpmn_xml, source)
    with runtime.transaction() as uow:
        return store_version(runtime, uow.session, parsed, deployed_by, source)


def store_version(runtime, session, parsed: ParsedProcess, deployed_by: str, source: str) -> ProcessVersion:
    """Write a checked process as its next version, in the caller's transaction."""
    digest = parsed.content_hash
    same = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_key == parsed.process_key, ProcessVersion.content_hash == digest
        )
    )
    if same is not None:
        raise Conflict(
            "This content is already deployed as {key} version {version}.", key=parsed.process_key, version=same.version
        )
    last = (
        session.scalar(select(func.max(ProcessVersion.version)).where(ProcessVersion.process_key == parsed.process_key))
        or 0
    )
    version = ProcessVersion(
        process_key=parsed.process_key,
        name=parsed.name,
        version=last + 1,
        bpmn_xml=parsed.bpmn_xml,
        forms=parsed.forms,
        content_hash=digest,
        spec_json=runtime.serializer.dump_spec(parsed.spec, parsed.subprocess_specs),
        source=source[:200],
        deployed_by=deployed_by,
        deployed_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def bundled_process_files(runtime) -> list[Path]:
    """The BPMN files shipped in processes/ and by plugins (``processes`` hook)."""
    paths = sorted(PROCESSES_DIR.glob("*.bpmn"))
    for result in runtime.hook.processes():
        for item in result or []:
            p = Path(item)
            paths.extend(sorted(p.glob("*.bpmn")) if p.is_dir() else [p])
    return paths


def deploy_bundled(runtime, deployed_by: str = "system") -> list[tuple[str, ProcessVersion | None, str]]:
    """Deploy every shipped process whose content changed; returns (file, version, outcome)."""
    results: list[tuple[str, ProcessVersion | None, str]] = []
    for path in bundled_process_files(runtime):
        try:
            version = deploy_process(runtime, path.read_bytes(), deployed_by=deployed_by, source=path.name)
            results.append((str(path), version, "deployed"))
        except Conflict:
            results.append((str(path), None, "unchanged"))
    return results


def latest_version(session, process_key: str) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion)
        .where(ProcessVersion.process_key == process_key)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    if version is None:
        raise NotFound("No process {key} is deployed.", key=process_key)
    return version


def latest_version_id(session, process_key: str) -> int:
    """The id of the newest version of a process (its spec and forms come from the runtime's cache)."""
    version_id = session.connection().execute(_LATEST_VERSION_ID, {"key": process_key}).scalar()
    if version_id is None:
        raise NotFound("No process {key} is deployed.", key=process_key)
    return version_id


_LATEST_VERSION_ID = (
    select(ProcessVersion.__table__.c.id)
    .where(ProcessVersion.__table__.c.process_key == bindparam("key"))
    .order_by(ProcessVersion.__table__.c.version.desc())
    .limit(1)
)


def list_processes(runtime) -> list[dict]:
    """Every process with its latest version and how many cases run on each version."""
    with runtime.read() as s:
        counts = dict(
            s.execute(
                select(Case.process_version_id, func.count())
                .where(Case.status.in_(("active", "incident")))
                .group_by(Case.process_version_id)
            ).all()
        )
        rows = s.scalars(select(ProcessVersion).order_by(ProcessVersion.process_key, ProcessVersion.version)).all()
        result: dict[str, dict] = {}
        for v in rows:
            entry = result.setdefault(v.process_key, {"key": v.process_key, "versions": []})
            entry.update(name=v.name, latest=v.version)
            entry["versions"].append(
                {
                    "version": v.version,
                    "deployed_by": v.deployed_by,
                    "deployed_at": v.deployed_at.isoformat(),
                    "hash": v.content_hash[:12],
                    "source": v.source,
                    "open_cases": counts.get(v.id, 0),
                }
            )
        return list(result.values())
