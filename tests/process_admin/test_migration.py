"""Deploying a new version and migrating running cases to it (dry run, bulk, refusal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from simpul.engine import Actor, Forbidden, NotFound, case_migration, drafts, get_case, list_tasks
from simpul.engine.models import Case, Job
from simpul.engine.models_migration_runs import ProcessMigrationRun

from ..flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, open_task, run_worker_until_quiet, start_new_card
from .diagrams import add_user_task, bypass, new_card_xml, set_property

ADMIN = Actor("admin", "640205", frozenset({"process_admin"}))
KEY = "ektp_new_card"


def deploy(runtime, xml, forms=None) -> int:
    draft = drafts.save_draft(runtime, ADMIN, xml, forms=forms)
    assert draft["valid"], draft["errors"]
    return drafts.deploy_draft(runtime, draft["id"], ADMIN)["version"]


def case_version(runtime, receipt) -> int:
    with runtime.read() as s:
        case = s.scalar(select(Case).where(Case.receipt == receipt))
        return case.process_version.version


def steps(runtime, receipt, user="camat"):
    return sorted(t["step"] for t in list_tasks(runtime, actor(runtime, user), case_receipt=receipt))


def test_deploy_makes_a_new_version_and_running_cases_stay_on_theirs(runtime):
    case = start_new_card(runtime, 1)
    assert deploy(runtime, add_user_task(new_card_xml())) == 2
    assert case_version(runtime, case["receipt"]) == 1
    complete(runtime, case["receipt"], "operator", DOCS_OK)
    assert steps(runtime, case["receipt"]) == ["Task_residence_verification"]  # v1 has no field check
    later = start_new_card(runtime, 2)
    assert case_version(runtime, later["receipt"]) == 2
    overview = {p["key"]: p for p in drafts.process_overview(runtime, ADMIN)}[KEY]
    assert [(v["version"], v["open_cases"], v["deployed_by"]) for v in overview["versions"]] == [
        (2, 1, "admin"),
        (1, 1, "test"),
    ]


def test_dry_run_shows_what_changes_for_each_case_and_stores_nothing(runtime):
    at_check = start_new_card(runtime, 1)
    at_verification = start_new_card(runtime, 2)
    complete(runtime, at_verification["receipt"], "operator", DOCS_OK)
    deploy(runtime, add_user_task(new_card_xml()))
    plan = case_migration.migrate_cases(runtime, KEY, 2, ADMIN, dry_run=True)
    assert plan["target"]["version"] == 2 and plan["can_migrate"] == 2 and plan["refused"] == 0
    (v1,) = plan["versions"]
    assert v1["version"] == 1 and v1["cases"] == 2
    assert [a["id"] for a in v1["added"]] == ["Task_field_check"] and v1["removed"] == []
    changed = {c["id"]: c["attributes"] for c in v1["changed"]}
    assert "outputs" in changed["Gateway_documents_complete"] and changed["Task_residence_verification"] == ["inputs"]
    rows = {r["receipt"]: r for r in plan["cases"]}
    assert [w["id"] for w in rows[at_check["receipt"]]["current"]] == ["Task_document_check"]
    assert [w["id"] for w in rows[at_verification["receipt"]]["after"]] == ["Task_residence_verification"]
    assert case_version(runtime, at_check["receipt"]) == 1  # nothing stored
    assert get_case(runtime, at_check["receipt"], Actor.system())["events"][-1]["kind"] == "case_started"


def test_bulk_migration_moves_cases_rebuilds_the_inbox_and_records_the_event(runtime):
    cases = [start_new_card(runtime, n) for n in range(1, 4)]
    deploy(runtime, add_user_task(new_card_xml()))
    result = case_migration.migrate_cases(runtime, KEY, 2, ADMIN)
    assert result["migrated"] == 3 and result["refused"] == 0
    for case in cases:
        assert case_version(runtime, case["receipt"]) == 2
        events = get_case(runtime, case["receipt"], Actor.system())["events"]
        migrated = [e for e in events if e["kind"] == "case_migrated"]
        assert len(migrated) == 1 and migrated[0]["actor"] == "admin" and migrated[0]["detail"] == "v1 → v2"
        assert migrated[0]["after"]["added"] == ["Task_field_check"]
    # the migrated case takes the new step: the verifier's field check comes after the document check
    complete(runtime, cases[0]["receipt"], "operator", DOCS_OK)
    task = open_task(runtime, cases[0]["receipt"], "verifier")
    assert task["step"] == "Task_field_check" and task["role"] == "verifier"
    complete(runtime, cases[0]["receipt"], "verifier", VERIFIED, step="Task_field_check")
    assert steps(runtime, cases[0]["receipt"]) == ["Task_residence_verification"]
    with runtime.read() as s:
        run = s.scalar(select(ProcessMigrationRun))
        assert (run.requested, run.migrated, run.actor) == (3, 3, "admin")
    # nothing left to migrate
    assert case_migration.migrate_cases(runtime, KEY, 2, ADMIN)["requested"] == 0


def test_selected_cases_only(runtime):
    first, second = start_new_card(runtime, 1), start_new_card(runtime, 2)
    deploy(runtime, add_user_task(new_card_xml()))
    result = case_migration.migrate_cases(runtime, KEY, 2, ADMIN, case_ids=[second["id"]])
    assert [c["receipt"] for c in result["cases"]] == [second["receipt"]]
    assert case_version(runtime, first["receipt"]) == 1 and case_version(runtime, second["receipt"]) == 2


def test_case_on_a_removed_task_is_refused_with_the_reason(runtime):
    at_verification = start_new_card(runtime, 1)
    complete(runtime, at_verification["receipt"], "operator", DOCS_OK)
    at_check = start_new_card(runtime, 2)
    deploy(runtime, bypass(new_card_xml(), "Task_residence_verification"))
    plan = case_migration.plan_migration(runtime, KEY, 2, ADMIN)
    rows = {r["receipt"]: r for r in plan["cases"]}
    refused = rows[at_verification["receipt"]]
    assert refused["can_migrate"] is False
    assert refused["reason"] == (
        "The case is at step Verifikasi domisili, which version 2 removes; finish or cancel that step first."
    )
    assert rows[at_check["receipt"]]["can_migrate"] is True
    assert [r["id"] for r in plan["versions"][0]["removed"]] == ["Task_residence_verification"]

    result = case_migration.migrate_cases(runtime, KEY, 2, ADMIN)
    outcome = {c["receipt"]: c for c in result["cases"]}
    assert outcome[at_verification["receipt"]]["outcome"] == "refused"
    assert "which version 2 removes" in outcome[at_verification["receipt"]]["reason"]
    assert outcome[at_check["receipt"]]["outcome"] == "migrated"
    # the refused case is untouched: same version, same open task, no event
    assert case_version(runtime, at_verification["receipt"]) == 1
    assert steps(runtime, at_verification["receipt"]) == ["Task_residence_verification"]
    assert all(
        e["kind"] != "case_migrated" for e in get_case(runtime, at_verification["receipt"], Actor.system())["events"]
    )
    # the migrated one no longer has the removed step ahead of it
    complete(runtime, at_check["receipt"], "operator", DOCS_OK)
    assert "Task_residence_verification" not in steps(runtime, at_check["receipt"])


def test_case_that_passed_a_removed_task_is_refused(runtime):
    case = start_new_card(runtime, 1)
    complete(runtime, case["receipt"], "operator", DOCS_OK)
    complete(runtime, case["receipt"], "verifier", VERIFIED)
    deploy(runtime, bypass(new_card_xml(), "Task_residence_verification"))
    (row,) = case_migration.plan_migration(runtime, KEY, 2, ADMIN)["cases"]
    assert row["can_migrate"] is False and "has already been through step Verifikasi domisili" in row["reason"]


def test_changed_current_step_updates_the_inbox_row(runtime):
    case = start_new_card(runtime, 1)
    task = open_task(runtime, case["receipt"], "operator")
    deploy(runtime, set_property(new_card_xml(), "Task_document_check", "name_en", "Check the papers"))
    case_migration.migrate_cases(runtime, KEY, 2, ADMIN)
    after = open_task(runtime, case["receipt"], "operator")
    assert after["id"] == task["id"] and after["name_en"] == "Check the papers"
    assert after["version"] == task["version"] + 1  # a clerk holding the old page gets a conflict, not a surprise


def test_waiting_case_keeps_its_timer_deadline_and_jobs(runtime):
    case = start_new_card(runtime, 1)
    complete(runtime, case["receipt"], "operator", DOCS_OK)
    complete(runtime, case["receipt"], "verifier", VERIFIED)
    complete(runtime, case["receipt"], "operator", BIOMETRICS)
    run_worker_until_quiet(runtime)  # sends to the regency; now waiting for card_printed with its SLA timer
    with runtime.read() as s:
        cid = s.scalar(select(Case.id).where(Case.receipt == case["receipt"]))
        due_before = s.scalar(select(Job.due_at).where(Job.case_id == cid, Job.kind == "timer"))
    assert due_before is not None
    deploy(runtime, add_user_task(new_card_xml()))
    with time_machine.travel(datetime.now(UTC) + timedelta(days=3)):  # migrated three days later
        result = case_migration.migrate_cases(runtime, KEY, 2, ADMIN)
    assert result["migrated"] == 1, result
    with runtime.read() as s:
        due_after = s.scalar(select(Job.due_at).where(Job.case_id == cid, Job.kind == "timer"))
    assert abs((due_after - due_before).total_seconds()) < 1


def test_migration_needs_a_process_admin_and_an_existing_version(runtime):
    start_new_card(runtime, 1)
    with pytest.raises(Forbidden):
        case_migration.plan_migration(runtime, KEY, 1, actor(runtime, "camat"))
    with pytest.raises(NotFound):
        case_migration.migrate_cases(runtime, KEY, 9, ADMIN)


def test_a_deploy_that_drops_the_send_to_the_regency_is_previewed_and_needs_confirming(runtime):
    """Issue 14 item 4 in the engine: the preview is the SpecDiff against the deployed
    version, with the open cases; dropping a service task is refused unless confirmed."""
    from simpul.engine.errors import Conflict

    start_new_card(runtime, 1)
    draft = drafts.save_draft(runtime, ADMIN, bypass(new_card_xml(), "Service_send_to_regency"))
    assert draft["valid"], draft["errors"]
    preview = drafts.deploy_preview(runtime, draft["id"], ADMIN)
    assert (preview["draft_id"], preview["process_key"]) == (draft["id"], KEY)  # the API answer says which
    assert (preview["current_version"], preview["next_version"]) == (1, 2)
    assert [r["id"] for r in preview["removed"]] == ["Service_send_to_regency"]
    assert preview["lost"] == [
        {"kind": "service", "name": "Kirim ke Disdukcapil", "operator": "coordination.send_to_regency"}
    ]
    assert preview["open_cases"] == [{"version": 1, "cases": 1}] and preview["open_total"] == 1
    with pytest.raises(Conflict) as refused:
        drafts.deploy_draft(runtime, draft["id"], ADMIN)
    assert "Kirim ke Disdukcapil" in str(refused.value)
    assert drafts.version_xml(runtime, KEY)[1] == 1  # nothing deployed
    assert drafts.deploy_draft(runtime, draft["id"], ADMIN, accept_losses=True)["version"] == 2
