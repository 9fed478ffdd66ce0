"""Finished cases keep their data, outcome, timeline and the path their diagram highlights,
but not SpiffWorkflow's task tree: small in the database, complete on the case page."""

from __future__ import annotations

import json
import re

from alembic import command
from sqlalchemy import select

from simpul import engine
from simpul.engine import slim
from simpul.engine.migrate import alembic_config, upgrade
from simpul.engine.models import Case, WorkflowState

from ..flows import DOCS_OK, actor, complete, printed_case, receive_and_hand_over, start_new_card
from .web_helpers import page_text

REJECT = {"residence_verified": False, "rejection_reason": "alamat di luar kecamatan", "kelurahan_officer": "Budi"}


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


def test_a_rejected_case_keeps_its_tree_and_can_still_be_reopened(runtime):
    receipt = start_new_card(runtime, 3)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", REJECT)
    camat = actor(runtime, "camat")
    assert engine.get_case(runtime, receipt, camat)["outcome"] == "rejected"
    assert not slim.is_slim(state_of(runtime, receipt))
    assert engine.supervision.earlier_steps(runtime, receipt, camat)
    reopened = engine.supervision.reopen_case(runtime, receipt, "alamat benar", camat)
    assert reopened["status"] == "active"


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
