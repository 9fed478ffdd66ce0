"""Finished cases keep their data, outcome, timeline and the path their diagram highlights,
but not SpiffWorkflow's task tree: small in the database, complete on the case page."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
import time_machine
from alembic import command
from sqlalchemy import func, select, text

from simpul import engine
from simpul.engine import slim
from simpul.engine.errors import Conflict, NotFound
from simpul.engine.migrate import alembic_config, upgrade
from simpul.engine.models import Case, PendingSlim, WorkflowState, utcnow
from simpul.engine.worker import run_due

from ..flows import REJECTED, actor, complete, printed_case, receive_and_hand_over, rejected_case
from .web_helpers import page_text


def finished_case(rt, n=1) -> str:
    receipt = printed_case(rt, n)
    receive_and_hand_over(rt, receipt)
    return receipt


def state_of(rt, receipt) -> str:
    with rt.read() as s:
        case_id = s.scalar(select(Case.id).where(Case.receipt == receipt))
        return s.scalar(select(WorkflowState.state).where(WorkflowState.case_id == case_id))


def regency_receipt(rt) -> str:
    with rt.read() as s:
        return s.scalar(select(Case.receipt).where(Case.office_code == "6402"))


def test_a_finished_case_keeps_its_page_timeline_and_diagram_path(runtime, make_browser):
    receipt = finished_case(runtime)
    state = state_of(runtime, receipt)
    assert slim.is_slim(state) and len(state) < 1000  # the task tree was ~6 KB
    assert slim.is_slim(state_of(runtime, regency_receipt(runtime)))  # the regency's case too
    case = engine.get_case(runtime, receipt, actor(runtime, "camat"))
    assert case["status"] == "completed" and case["data"]["received_by"]
    assert [e["kind"] for e in case["events"]][:1] == ["case_started"] and len(case["events"]) >= 7

    browser = make_browser()
    browser.login("camat")
    page = browser.get(f"/cases/{receipt}")
    assert page.status_code == 200
    text, html = page_text(page), page.get_data(as_text=True)
    timeline = text.split("Riwayat")[1].split("Komentar")[0]
    assert "Permohonan dibuat" in timeline and "Langkah selesai: Penyerahan KTP-el" in timeline
    assert "Langkah selesai: Pemeriksaan berkas" in text
    data = json.loads(re.search(r'<script type="application/json" id="diagram-data">(.*?)</script>', html, re.S)[1])
    passed = {"StartEvent_application", "Task_document_check", "Task_biometric_recording", "Task_handover"}
    assert passed <= set(data["completed"]) and data["current"] == []
    diagram = browser.get(f"/cases/{receipt}/diagram.json").get_json()
    assert passed <= set(diagram["completed"]) and diagram["current"] == []
    # a finished case goes back to no step, and nothing that needs its task tree is offered
    assert engine.supervision.earlier_steps(runtime, receipt, actor(runtime, "camat")) == []


def pending_slims(rt) -> int:
    with rt.read() as s:
        return s.scalar(select(func.count()).select_from(PendingSlim))


def after_the_reopen_period():
    return time_machine.travel(utcnow() + timedelta(days=31), tick=False)


def test_a_rejected_case_keeps_its_tree_and_can_still_be_reopened(runtime):
    receipt = rejected_case(runtime)
    camat = actor(runtime, "camat")
    assert engine.get_case(runtime, receipt, camat)["outcome"] == "rejected"
    assert not slim.is_slim(state_of(runtime, receipt))
    assert engine.supervision.earlier_steps(runtime, receipt, camat)
    # a supervisor of another kecamatan is told the case is not found, as for any other case
    with pytest.raises(NotFound) as err:
        engine.supervision.reopen_case(runtime, receipt, "alamat benar", actor(runtime, "other"))
    assert err.value.render() == "Case not found."
    reopened = engine.supervision.reopen_case(runtime, receipt, "alamat benar", camat)
    assert reopened["status"] == "active"
    # the timeline says which step the case went back to
    (event,) = [e for e in engine.get_case(runtime, receipt, camat)["events"] if e["kind"] == "case_reopened"]
    assert event["after"] == {"status": "active", "step": event["step"]}
    assert [t["step"] for t in reopened["open_tasks"]] == [event["step"]]


def test_the_migration_slims_cases_finished_before_it_and_keeps_their_path(runtime, monkeypatch):
    monkeypatch.setattr("simpul.engine._workflow.may_slim", lambda status, outcome: False)  # the old engine
    receipt = finished_case(runtime)
    full = state_of(runtime, receipt)
    assert not slim.is_slim(full)
    camat = actor(runtime, "camat")
    before = engine.case_diagram(runtime, receipt, camat)
    with runtime.db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "scale2_0002_outbox_pruning")
    upgrade(runtime)
    after_state = state_of(runtime, receipt)
    assert slim.is_slim(after_state) and len(after_state) < len(full) / 5
    after = engine.case_diagram(runtime, receipt, camat)
    assert after["completed"] == before["completed"] and after["current"] == before["current"] == []
    assert engine.get_case(runtime, receipt, camat)["events"]  # the timeline is untouched


def test_the_worker_slims_a_rejected_case_once_its_reopen_period_has_passed(runtime, make_browser):
    receipt = rejected_case(runtime)
    camat = actor(runtime, "camat")
    full = state_of(runtime, receipt)
    before_diagram = engine.case_diagram(runtime, receipt, camat)
    before_events = engine.get_case(runtime, receipt, camat)["events"]
    assert run_due(runtime)["slimmed"] == 0  # within the 30 days it may still be reopened
    assert state_of(runtime, receipt) == full and engine.supervision.earlier_steps(runtime, receipt, camat)

    with after_the_reopen_period():
        assert run_due(runtime)["slimmed"] == 1
        assert run_due(runtime)["slimmed"] == 0  # done once
        slimmed = state_of(runtime, receipt)
        assert slim.is_slim(slimmed) and len(slimmed) < len(full) / 5
        case = engine.get_case(runtime, receipt, camat)
        assert case["status"] == "completed" and case["outcome"] == "rejected" and case["jobs"] == []
        assert case["data"]["rejection_reason"] == "alamat di luar kecamatan"
        assert case["events"] == before_events  # the timeline is whole
        after_diagram = engine.case_diagram(runtime, receipt, camat)
        assert after_diagram["completed"] == before_diagram["completed"] and after_diagram["current"] == []
        assert "Task_document_check" in after_diagram["completed"]
        assert engine.supervision.earlier_steps(runtime, receipt, camat) == []
        with pytest.raises(Conflict):
            engine.supervision.reopen_case(runtime, receipt, "alamat benar", camat)
        runtime.config.settings["reopen_days"] = 90  # a longer period now cannot bring the tree back
        with pytest.raises(Conflict):
            engine.supervision.reopen_case(runtime, receipt, "alamat benar", camat)
        assert state_of(runtime, receipt) == slimmed

        browser = make_browser()
        browser.login("camat")
        page = browser.get(f"/cases/{receipt}")
        assert page.status_code == 200
        text_, html = page_text(page), page.get_data(as_text=True)
        assert "Langkah selesai: Pemeriksaan berkas" in text_.split("Riwayat")[1]
        data = json.loads(re.search(r'<script type="application/json" id="diagram-data">(.*?)</script>', html, re.S)[1])
        assert data["completed"] == before_diagram["completed"] and data["current"] == []


def test_a_rejection_reopened_in_time_is_not_slimmed_and_a_second_rejection_waits_its_own_period(runtime):
    receipt = rejected_case(runtime)
    camat = actor(runtime, "camat")
    assert pending_slims(runtime) == 1
    engine.supervision.reopen_case(runtime, receipt, "alamat benar", camat)
    assert pending_slims(runtime) == 0
    with after_the_reopen_period():
        assert run_due(runtime)["slimmed"] == 0
        assert not slim.is_slim(state_of(runtime, receipt))
        assert engine.get_case(runtime, receipt, camat)["status"] == "active"
        complete(runtime, receipt, "verifier", REJECTED)  # rejected again, a month later
        assert run_due(runtime)["slimmed"] == 0  # its new period has only begun
        engine.supervision.reopen_case(runtime, receipt, "sekali lagi", camat)


def test_rejected_cases_are_slimmed_in_bounded_batches_skipping_a_locked_case(runtime):
    receipts = [rejected_case(runtime, n) for n in range(3, 8)]
    with after_the_reopen_period():
        if runtime.db.dialect == "postgresql":
            # a supervisor holds one case (reopening it): the worker passes it by, without waiting
            with runtime.db.engine.connect() as other:
                held = other.execute(
                    text("SELECT id FROM cases WHERE receipt = :r FOR UPDATE"), {"r": receipts[0]}
                ).scalar()
                assert [engine.slim_rejected_cases(runtime, limit=2) for _ in range(3)] == [2, 2, 0]
                assert not slim.is_slim(state_of(runtime, receipts[0])) and held
                other.rollback()
            assert engine.slim_rejected_cases(runtime, limit=2) == 1
        else:
            assert [engine.slim_rejected_cases(runtime, limit=2) for _ in range(4)] == [2, 2, 1, 0]
    assert all(slim.is_slim(state_of(runtime, r)) for r in receipts) and pending_slims(runtime) == 0


def test_several_workers_slim_each_rejected_case_once(runtime):
    for n in range(3, 9):
        rejected_case(runtime, n)
    counts, errors = [], []

    def worker():
        try:
            for _ in range(20):  # bounded: six cases, three workers
                done = engine.slim_rejected_cases(runtime, limit=1, now=utcnow() + timedelta(days=31))
                if not done and not pending_slims(runtime):
                    return
                counts.append(done)
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and sum(counts) == 6 and pending_slims(runtime) == 0


def test_the_migration_queues_rejected_cases_from_before_it(runtime):
    receipt = rejected_case(runtime)
    with runtime.db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "residents2_0001_marks_backfill")  # before rejected cases were queued
    upgrade(runtime)
    assert pending_slims(runtime) == 1
    with after_the_reopen_period():
        assert run_due(runtime)["slimmed"] == 1
    assert slim.is_slim(state_of(runtime, receipt))
