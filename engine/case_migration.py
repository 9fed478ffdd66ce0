"""Moving running cases to another version of their process.

Deploying never touches a running case.  When a procedure changes, an administrator picks a
target version and sees, for every open case on another version, what the change means
for it (SpiffWorkflow's ``SpecDiff`` / ``WorkflowDiff``: steps added, removed, changed; where
the case stands now and where it will wait after the move).  A case that sits on a step the
target removes cannot migrate, and says so.  The move itself is SpiffWorkflow's
``migrate_workflow``; a dry run does exactly the same in memory and stores nothing.

Each case migrates in its own transaction under its case lock, with its ``case_migrated``
event in the same transaction; the inbox rows and jobs are rebuilt from the migrated state
(``CaseWorkflow.save(full_sync=True)``).  A bulk run is also recorded as a
``ProcessMigrationRun``.
"""

from __future__ import annotations

import logging
from copy import deepcopy

from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from ._specs import bpmn_specs, spec_label
from ._workflow import CaseWorkflow
from .actors import Actor
from .cases import OPEN_STATUSES, lock_case, record_event
from .drafts import require_admin
from .errors import InvalidInput, NotFound
from .i18n import N_
from .models import Case, HumanTask, ProcessVersion, utcnow
from .models_migration_runs import ProcessMigrationRun

log = logging.getLogger("simpul.migration")

#: A case "sits on" a task in one of these states.
CURRENT = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
#: The case has been through a task in one of these states.
PASSED = TaskState.COMPLETED | TaskState.CANCELLED
MAX_CASES = 5000


class MigrationRefused(Exception):
    def __init__(self, reason: str, **params):
        self.template = reason
        self.params = params
        #: the case's row in the migration report, set where the refusal is raised
        self.row: dict | None = None
        super().__init__(reason.format(**params) if params else reason)


def _target(session, process_key: str, target_version: int) -> ProcessVersion:
    version = session.scalar(
        select(ProcessVersion).where(
            ProcessVersion.process_key == process_key, ProcessVersion.version == int(target_version)
        )
    )
    if version is None:
        raise NotFound("Process {key} has no version {version}.", key=process_key, version=target_version)
    return version


class _Planner:
    """Spec diffs are computed once per (source, target) pair and shared by the cases."""

    def __init__(self, runtime, session, target: ProcessVersion):
        self.runtime = runtime
        self.target = target
        self.target_info = runtime.version_info(session, target.id, target)
        self._diffs: dict[int, SpecDiff] = {}
        self._subdiffs: dict[tuple, SpecDiff | None] = {}

    @property
    def registry(self):
        return self.runtime.serializer.registry

    def spec_diff(self, session, source_version_id: int) -> SpecDiff:
        diff = self._diffs.get(source_version_id)
        if diff is None:
            source = self.runtime.version_info(session, source_version_id)
            diff = self._diffs[source_version_id] = SpecDiff(self.registry, source.spec[0], self.target_info.spec[0])
        return diff

    def summary(self, session, source_version_id: int) -> dict:
        diff = self.spec_diff(session, source_version_id)
        return {
            "added": [spec_label(ts) for ts in bpmn_specs(diff.added)],
            "removed": [spec_label(ts) for ts in bpmn_specs(diff.removed)],
            "changed": [
                {**spec_label(ts), "attributes": sorted(changes)}
                for ts, changes in diff.changed.items()
                if getattr(ts, "bpmn_id", None)
            ],
        }

    def subprocess_diff(self, sp_spec, name):
        key = (id(sp_spec), name)
        if key not in self._subdiffs:
            new = self.target_info.spec[1].get(name)
            self._subdiffs[key] = SpecDiff(self.registry, sp_spec, new) if new is not None else None
        return self._subdiffs[key]

    # -- one case ----------------------------------------------------------------------------

    def apply(self, session, cw: CaseWorkflow) -> dict:
        """Migrate ``cw`` in memory to the target (raises MigrationRefused); returns what changed."""
        wf = cw.wf
        diff = self.spec_diff(session, cw.case.process_version_id)
        wdiff = WorkflowDiff(wf, diff)
        sitting = [t for t in wdiff.removed if t.has_state(CURRENT) and t.task_spec.bpmn_id]
        if sitting:
            names = ", ".join(t.task_spec.bpmn_name or t.task_spec.bpmn_id for t in sitting)
            raise MigrationRefused(
                N_("The case is at step {steps}, which version {version} removes; finish or cancel that step first."),
                steps=names,
                version=self.target.version,
            )
        passed = [t for t in wdiff.removed if t.has_state(PASSED | CURRENT)]
        if passed:
            names = ", ".join(
                sorted({t.task_spec.bpmn_name or t.task_spec.bpmn_id or t.task_spec.name for t in passed})
            )
            raise MigrationRefused(
                N_(
                    "The case has already been through step {steps}, which version {version} "
                    "removes; its history cannot be mapped onto the new diagram."
                ),
                steps=names,
                version=self.target.version,
            )
        sub_diffs = {}
        for sp_id, sp in wf.subprocesses.items():
            sp_diff = self.subprocess_diff(sp.spec, sp.spec.name)
            if sp_diff is None:
                raise MigrationRefused(
                    N_("The case is inside subprocess {name}, which version {version} no longer has."),
                    name=sp.spec.name,
                    version=self.target.version,
                )
            sub_wdiff = WorkflowDiff(sp, sp_diff)
            if [t for t in sub_wdiff.removed if t.has_state(PASSED | CURRENT)]:
                raise MigrationRefused(
                    N_("The case is at a step of subprocess {name} that version {version} removes."),
                    name=sp.spec.name,
                    version=self.target.version,
                )
            sub_diffs[sp_id] = (sub_wdiff, self.target_info.spec[1][sp.spec.name])

        before = _where(wf)
        changed_here = sorted(
            {t.task_spec.bpmn_id for t in wdiff.changed if t.task_spec.bpmn_id and t.has_state(CURRENT)}
        )
        # A waiting timer keeps its deadline: migrate_workflow resets waiting tasks, which
        # would start an unchanged timer again from now.
        timers = {
            t.id: deepcopy(t.internal_data)
            for t in wf.get_tasks(state=TaskState.WAITING)
            if t.internal_data.get("event_value") is not None
            and "event_definition" not in diff.comparisons.get(t.task_spec, ["event_definition"])
        }
        target_spec, target_subs = self.target_info.spec
        migrate_workflow(wdiff, wf, target_spec)
        wf.subprocess_specs = target_subs
        for sp_id, (sub_wdiff, sub_spec) in sub_diffs.items():
            migrate_workflow(sub_wdiff, wf.subprocesses[sp_id], sub_spec)
        for task_id, internal in timers.items():
            task = wf.tasks.get(task_id)
            if task is not None and task.has_state(TaskState.WAITING):
                task.internal_data.update(event_value=internal["event_value"])
        cw.advance()
        if cw.incident:
            raise MigrationRefused(
                N_("On version {version} the case would fail at once: {error}"),
                version=self.target.version,
                error=cw.incident,
            )
        orphans = [
            t
            for t in wf.get_tasks(skip_subprocesses=True)
            if t.task_spec is None or target_spec.task_specs.get(t.task_spec.name) is not t.task_spec
        ]
        if orphans:
            raise MigrationRefused(
                N_("Steps of the case ({steps}) have no place in version {version}."),
                steps=", ".join(sorted({getattr(t.task_spec, "name", "?") for t in orphans})),
                version=self.target.version,
            )
        # What is stored must load again with the target spec.
        state = self.runtime.serializer.dump(wf)
        self.runtime.serializer.load(state, target_spec, target_subs)
        return {"before": before, "after": _where(wf), "changed_current": changed_here}


def _where(wf) -> list[dict]:
    """The BPMN steps a case sits on (open user and service tasks, waiting events)."""
    seen, result = set(), []
    for t in wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR):
        ts = t.task_spec
        if ts is None or not ts.bpmn_id or ts.bpmn_id in seen:
            continue
        seen.add(ts.bpmn_id)
        result.append({**spec_label(ts), "state": TaskState.get_name(t.state)})
    return result


def _open_cases(session, process_key: str, target: ProcessVersion, case_ids) -> list[Case]:
    stmt = select(Case).where(
        Case.process_key == process_key, Case.status.in_(OPEN_STATUSES), Case.process_version_id != target.id
    )
    if case_ids is not None:
        ids = [int(c) for c in case_ids]
        if not ids:
            return []
        stmt = stmt.where(Case.id.in_(ids))
    return list(session.scalars(stmt.order_by(Case.id).limit(MAX_CASES)))


def _case_row(case: Case, version_number: int | None) -> dict:
    return {
        "case_id": case.id,
        "receipt": case.receipt,
        "resident_name": case.resident_name,
        "office": case.office_code,
        "status": case.status,
        "from_version": version_number,
    }


def _check_ids(case_ids):
    if case_ids is None:
        return None
    if not isinstance(case_ids, (list, tuple, set)):
        raise InvalidInput("case_ids must be a list of case ids.")
    try:
        return [int(c) for c in case_ids]
    except (TypeError, ValueError) as exc:
        raise InvalidInput("case_ids must be a list of case ids.") from exc


def plan_migration(runtime, process_key: str, target_version: int, actor: Actor, *, case_ids=None) -> dict:
    """The dry run: for each open case on another version, what migrating it to
    ``target_version`` changes and whether it can (with the reason when it cannot).  Nothing
    is stored."""
    require_admin(actor)
    case_ids = _check_ids(case_ids)
    with runtime.read() as s:
        target = _target(s, process_key, target_version)
        planner = _Planner(runtime, s, target)
        cases = [c for c in _open_cases(s, process_key, target, case_ids) if actor.sees_office(c.office_code)]
        numbers = dict(
            s.execute(
                select(ProcessVersion.id, ProcessVersion.version).where(ProcessVersion.process_key == process_key)
            ).all()
        )
        versions: dict[int, dict] = {}
        rows = []
        for case in cases:
            if case.process_version_id not in versions:
                versions[case.process_version_id] = {
                    "version": numbers[case.process_version_id],
                    "cases": 0,
                    **planner.summary(s, case.process_version_id),
                }
            versions[case.process_version_id]["cases"] += 1
            row = _case_row(case, numbers[case.process_version_id])
            try:
                cw = CaseWorkflow.load(runtime, s, case, cached=False)  # a dry run
                row["current"] = _where(cw.wf)
                outcome = planner.apply(s, cw)
                row.update(
                    can_migrate=True, reason=None, after=outcome["after"], changed_current=outcome["changed_current"]
                )
            except MigrationRefused as exc:
                row.update(
                    can_migrate=False,
                    reason=str(exc),
                    reason_template=exc.template,
                    reason_params=exc.params,
                    after=None,
                )
            except Exception as exc:  # a case that cannot even be simulated must not stop the others
                log.exception("migration dry run of case %s failed", case.receipt)
                failed = MigrationRefused(N_("The dry run failed: {error}"), error=f"{type(exc).__name__}: {exc}")
                row.update(
                    can_migrate=False,
                    reason=str(failed),
                    reason_template=failed.template,
                    reason_params=failed.params,
                    after=None,
                )
            rows.append(row)
        s.rollback()  # the simulation changed loaded objects in memory only; make sure none is written
        return {
            "process_key": process_key,
            "target": {"id": target.id, "version": target.version, "name": target.name},
            "versions": sorted(versions.values(), key=lambda v: v["version"]),
            "cases": rows,
            "can_migrate": sum(1 for r in rows if r["can_migrate"]),
            "refused": sum(1 for r in rows if not r["can_migrate"]),
        }


def migrate_cases(
    runtime, process_key: str, target_version: int, actor: Actor, *, case_ids=None, dry_run: bool = False
) -> dict:
    """Migrate the open cases (all of them on other versions, or ``case_ids``) to
    ``target_version``: one transaction per case, under its lock, with its ``case_migrated``
    event.  A case that cannot migrate is left as it was and listed with its reason.
    ``dry_run`` returns ``plan_migration`` and stores nothing."""
    if dry_run:
        return plan_migration(runtime, process_key, target_version, actor, case_ids=case_ids)
    require_admin(actor)
    case_ids = _check_ids(case_ids)
    with runtime.read() as s:
        target = _target(s, process_key, target_version)
        target_id, target_number = target.id, target.version
        ids = [c.id for c in _open_cases(s, process_key, target, case_ids) if actor.sees_office(c.office_code)]
        numbers = dict(
            s.execute(
                select(ProcessVersion.id, ProcessVersion.version).where(ProcessVersion.process_key == process_key)
            ).all()
        )
    results = []
    for case_id in ids:
        try:
            results.append(_migrate_one(runtime, case_id, target_id, actor, numbers))
        except MigrationRefused as exc:
            results.append(
                {
                    **getattr(exc, "row", {"case_id": case_id}),
                    "outcome": "refused",
                    "reason": str(exc),
                    "reason_template": exc.template,
                    "reason_params": exc.params,
                }
            )
        except Exception as exc:
            log.exception("migration of case %s failed", case_id)
            results.append({"case_id": case_id, "outcome": "failed", "reason": f"{type(exc).__name__}: {exc}"})
    migrated = sum(1 for r in results if r["outcome"] == "migrated")
    with runtime.transaction() as uow:
        run = ProcessMigrationRun(
            process_key=process_key,
            target_version_id=target_id,
            actor=actor.username,
            at=utcnow(),
            requested=len(ids),
            migrated=migrated,
            refused=len(results) - migrated,
            results=results,
        )
        uow.session.add(run)
        uow.session.flush()
        run_id = run.id
    return {
        "process_key": process_key,
        "target": {"id": target_id, "version": target_number},
        "run_id": run_id,
        "requested": len(ids),
        "migrated": migrated,
        "refused": len(results) - migrated,
        "cases": results,
    }


def _migrate_one(runtime, case_id: int, target_id: int, actor: Actor, numbers: dict) -> dict:
    with runtime.transaction() as uow:
        s = uow.session
        case = lock_case(uow, case_id)
        row = _case_row(case, numbers.get(case.process_version_id))
        if case.status not in OPEN_STATUSES or case.process_version_id == target_id:
            exc = MigrationRefused(
                N_("The case is {status} on version {version} now; nothing to migrate."),
                status=case.status,
                version=row["from_version"],
            )
            exc.row = row
            raise exc
        target = s.get(ProcessVersion, target_id)
        planner = _Planner(runtime, s, target)
        cw = CaseWorkflow.load(runtime, s, case)
        try:
            outcome = planner.apply(s, cw)
        except MigrationRefused as exc:
            exc.row = row
            raise
        summary = planner.summary(s, case.process_version_id)
        from_version = row["from_version"]
        case.process_version_id = target.id
        case.process_version = target
        cw.save(full_sync=True)
        _refresh_inbox_rows(s, cw)
        record_event(
            uow,
            case,
            "case_migrated",
            actor,
            detail=f"v{from_version} → v{target.version}",
            before={"version": from_version, "at": [w["id"] for w in outcome["before"]]},
            after={
                "version": target.version,
                "at": [w["id"] for w in outcome["after"]],
                "added": [a["id"] for a in summary["added"]],
                "removed": [r["id"] for r in summary["removed"]],
                "changed": [c["id"] for c in summary["changed"]],
            },
        )
        return {**row, "outcome": "migrated", "to_version": target.version, "after": outcome["after"]}


def _refresh_inbox_rows(session, cw: CaseWorkflow) -> None:
    """An open user task that kept its id keeps its inbox row; make the row say what the new
    version says (name, form, lane, role, instructions).  A claim survives unless the role changed."""
    now = utcnow()
    for task in cw.ready_user_tasks():
        row = session.get(HumanTask, str(task.id))
        if row is None:
            continue
        fresh = cw.inbox_row(task, now)
        changed = False
        for attr in ("step", "name", "name_en", "lane", "role", "form_key", "instructions"):
            if getattr(row, attr) != fresh[attr]:
                setattr(row, attr, fresh[attr])
                changed = True
        if changed:
            if row.assignee is not None and row.role != fresh["role"]:
                row.assignee = None
            row.version += 1


def migration_runs(runtime, actor: Actor, process_key: str | None = None, limit: int = 50) -> list[dict]:
    """The latest bulk migrations of cases between versions, newest first (process admins)."""
    require_admin(actor)
    with runtime.read() as s:
        stmt = select(ProcessMigrationRun, ProcessVersion.version).join(
            ProcessVersion, ProcessVersion.id == ProcessMigrationRun.target_version_id
        )
        if process_key:
            stmt = stmt.where(ProcessMigrationRun.process_key == process_key)
        return [
            {
                "id": r.id,
                "process_key": r.process_key,
                "target_version": v,
                "actor": r.actor,
                "at": r.at.isoformat(),
                "requested": r.requested,
                "migrated": r.migrated,
                "refused": r.refused,
                "results": r.results,
            }
            for r, v in s.execute(stmt.order_by(ProcessMigrationRun.id.desc()).limit(limit))
        ]
