"""The case API on both databases: a full new-card case, conflicts, isolation, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Conflict, Forbidden, InvalidInput, NotFound, ValidationFailed
from simpul.engine.models import Case, CaseEvent, HumanTask, WorkflowState

from .flows import (
    BIOMETRICS,
    CARD_ARRIVED,
    DOCS_OK,
    HANDOVER,
    VERIFIED,
    actor,
    all_documents,
    complete,
    open_task,
    resident,
    run_worker_until_quiet,
    start_new_card,
)


def test_new_card_runs_from_counter_to_handover(runtime):
    started = start_new_card(runtime)
    receipt = started["receipt"]
    assert receipt.startswith("640205-") and receipt.endswith("-00001")
    assert [t["step"] for t in started["open_tasks"]] == ["Task_document_check"]

    complete(runtime, receipt, "operator", DOCS_OK)
    verify = open_task(runtime, receipt, "verifier")
    assert verify["role"] == "verifier"
    complete(runtime, receipt, "verifier", VERIFIED)
    result = complete(runtime, receipt, "operator", BIOMETRICS)
    assert result["open_tasks"] == []  # the send-to-regency service task waits for the worker

    counts = run_worker_until_quiet(runtime)
    assert counts["services"] >= 1 and counts["sent"] >= 1
    regency = engine.list_tasks(runtime, actor(runtime, "disdukcapil"))
    assert len(regency) == 1 and regency[0]["process"] == "ektp_regency_printing"
    printing = regency[0]["receipt"]
    assert printing.startswith("6402-")

    complete(runtime, printing, "disdukcapil", {"data_complete": True})
    complete(runtime, printing, "disdukcapil", {"enrolment_result": "PRINT_READY_RECORD"})
    complete(runtime, printing, "disdukcapil", {"blank_in_stock": True})
    complete(runtime, printing, "disdukcapil", {"card_serial": "KTP-0001"})
    run_worker_until_quiet(runtime)

    arrival = open_task(runtime, receipt, "operator")
    assert arrival["name"] == "Terima kartu dari Disdukcapil"  # the card reaches the office first
    complete(runtime, receipt, "operator", CARD_ARRIVED)
    handover = open_task(runtime, receipt, "operator")
    assert handover["name"] == "Penyerahan KTP-el"
    done = complete(runtime, receipt, "operator", HANDOVER)
    assert done["status"] == "completed"

    case = engine.get_case(runtime, receipt, actor(runtime, "operator"))
    kinds = [e["kind"] for e in case["events"]]
    assert kinds[0] == "case_started" and kinds.count("task_completed") == 5
    assert "message_received" in kinds and case["end_reason"] == "Selesai"
    assert case["data"]["card_printed"]["card_serial"] == "KTP-0001"
    printing_case = engine.get_case(runtime, printing, actor(runtime, "disdukcapil"))
    assert printing_case["status"] == "completed"
    # both messages (print request, card printed) were applied on this node: no timeline says otherwise
    for events in (case["events"], printing_case["events"]):
        assert "message_undeliverable" not in [e["kind"] for e in events]


def test_the_diagram_shows_a_case_waiting_for_its_card_at_the_wait_not_its_deadlines(runtime):
    """Waiting for the printed card is a step of its own (a receive task) on the case's
    diagram; the deadline and problem events on its edge are not where the case stands."""
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    complete(runtime, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(runtime)
    diagram = engine.case_diagram(runtime, receipt, actor(runtime, "camat"))
    assert diagram["current"] == ["Receive_card_printed"]
    assert {"Task_document_check", "Task_biometric_recording"} <= set(diagram["completed"])
    assert not any(step.startswith("Boundary_") for step in diagram["completed"] + diagram["current"])


def test_second_and_stale_completion_conflict_and_change_nothing(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    docs = all_documents(runtime, task)
    engine.claim_task(runtime, task["id"], actor(runtime, "operator"), expected_version=task["version"])
    with pytest.raises(Conflict, match="changed this step since you opened it"):
        engine.complete_task(
            runtime,
            task["id"],
            docs,
            actor(runtime, "operator"),
            expected_version=task["version"],
        )
    engine.complete_task(
        runtime,
        task["id"],
        docs,
        actor(runtime, "operator"),
        expected_version=task["version"] + 1,
    )
    with runtime.read() as s:
        events_before = s.scalar(select(func.count()).select_from(CaseEvent))
        state_before = s.scalar(select(WorkflowState.state))
    with pytest.raises(Conflict, match="already completed by Siti"):
        engine.complete_task(runtime, task["id"], docs, actor(runtime, "operator"))
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == events_before
        assert s.scalar(select(WorkflowState.state)) == state_before


def test_claimed_task_cannot_be_completed_by_someone_else(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    engine.claim_task(runtime, task["id"], actor(runtime, "operator"))
    with pytest.raises(Conflict, match="already claimed by Siti"):
        engine.claim_task(runtime, task["id"], actor(runtime, "operator2"))
    with pytest.raises(Conflict, match="claimed by Siti"):
        engine.complete_task(runtime, task["id"], all_documents(runtime, task), actor(runtime, "operator2"))
    engine.unclaim_task(runtime, task["id"], actor(runtime, "operator"))
    claimed = engine.claim_task(runtime, task["id"], actor(runtime, "operator2"))
    assert claimed["assignee"] == "operator2"


def test_other_office_can_neither_list_nor_open_nor_act(runtime, caplog):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    other = actor(runtime, "other")
    assert engine.list_tasks(runtime, other) == []
    assert engine.list_cases(runtime, other) == []
    with caplog.at_level("WARNING", logger="simpul.security"):
        with pytest.raises(NotFound):
            engine.get_case(runtime, receipt, other)
        with pytest.raises(NotFound):
            engine.claim_task(runtime, task["id"], other)
        with pytest.raises(NotFound):
            engine.complete_task(runtime, task["id"], all_documents(runtime, task), other)
        with pytest.raises(NotFound):
            engine.cancel_case(runtime, receipt, "test", other)
    assert sum("office isolation" in r.message for r in caplog.records) == 4
    assert open_task(runtime, receipt, "operator")["version"] == task["version"]


def test_wrong_role_is_forbidden(runtime):
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    verify = open_task(runtime, receipt, "verifier")
    with pytest.raises(Forbidden, match="role verifier"):
        engine.complete_task(runtime, verify["id"], VERIFIED, actor(runtime, "operator"))


def test_form_validation_refuses_and_writes_nothing(runtime):
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    task = open_task(runtime, receipt, "operator")
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(
            runtime,
            task["id"],
            {**BIOMETRICS, "iris_captured": False, "device_id": "", "__class__": 1},
            actor(runtime, "operator"),
        )
    assert set(err.value.errors) == {"iris_captured", "device_id", "__class__"}
    assert open_task(runtime, receipt, "operator")["id"] == task["id"]


@pytest.mark.parametrize("subtype", [{}, {"subtype": "date"}])
def test_a_date_field_refuses_what_is_not_a_date_even_without_a_subtype(subtype):
    """form-js makes a datetime field a date when its schema names no subtype (a plugin's form
    drawn in the editor): the engine checks it as a date too, not as free text."""
    from simpul.engine.forms import MSG_DATE, validate_form_data

    form = {"components": [{"type": "datetime", "key": "letter_date", "dateLabel": "Tanggal surat", **subtype}]}
    assert validate_form_data(form, {"letter_date": "2026-03-02"}) == {"letter_date": "2026-03-02"}
    with pytest.raises(ValidationFailed) as err:
        validate_form_data(form, {"letter_date": "kemarin"})
    assert err.value.errors == {"letter_date": [MSG_DATE]}


@pytest.mark.national_checklist
def test_document_check_needs_every_required_document(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    assert [r["key"] for r in engine.get_task(runtime, task["id"], actor(runtime, "operator"))["requirements"]] == [
        "family_card"
    ]
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(
            runtime, task["id"], {"documents_complete": True, "documents_received": []}, actor(runtime, "operator")
        )
    assert "Family card" in err.value.errors["documents_received"][0]


def test_incomplete_documents_go_back_to_the_resident(runtime):
    receipt = start_new_card(runtime)["receipt"]
    result = complete(runtime, receipt, "operator", {"documents_complete": False, "document_notes": "KK kurang"})
    assert result["open_tasks"][0]["name"] == "Menunggu kelengkapan berkas"


def test_open_case_for_same_nik_is_refused_naming_it(runtime):
    first = start_new_card(runtime, 7)["receipt"]
    with pytest.raises(Conflict, match=first):
        start_new_card(runtime, 7)
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1


@pytest.mark.parametrize(
    "data, field",
    [
        ({"nik": "123", "resident_name": "X"}, "nik"),
        ({**resident(1), "birth_date": "2000-13-45"}, "birth_date"),
        ({**resident(1), "sex": "X"}, "sex"),
    ],
)
def test_bad_start_data_is_refused(runtime, data, field):
    with pytest.raises(ValidationFailed) as err:
        engine.start_case(runtime, "ektp_new_card", data, actor(runtime, "operator"))
    assert field in err.value.errors
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_data_must_be_an_object(runtime):
    with pytest.raises(InvalidInput):
        engine.start_case(runtime, "ektp_new_card", ["not", "an", "object"], actor(runtime, "operator"))


def test_cancel_needs_a_reason_and_closes_the_inbox(runtime):
    receipt = start_new_card(runtime)["receipt"]
    with pytest.raises(ValidationFailed):
        engine.cancel_case(runtime, receipt, "  ", actor(runtime, "camat"))
    result = engine.cancel_case(runtime, receipt, "Pemohon pindah domisili", actor(runtime, "camat"))
    assert result["status"] == "cancelled"
    assert engine.list_tasks(runtime, actor(runtime, "camat")) == []
    case = engine.get_case(runtime, receipt, actor(runtime, "camat"))
    assert case["events"][-1]["kind"] == "case_cancelled" and case["events"][-1]["detail"] == "Pemohon pindah domisili"
    with pytest.raises(Conflict):
        engine.cancel_case(runtime, receipt, "again", actor(runtime, "camat"))


def test_message_for_nobody_waiting_is_refused(runtime):
    receipt = start_new_card(runtime)["receipt"]
    with pytest.raises(NotFound, match="waiting for message card_printed"):
        engine.deliver_message(runtime, "card_printed", receipt, {}, engine.Actor.system())


def test_receipts_count_per_office_and_year(runtime):
    receipts = [start_new_card(runtime, n)["receipt"] for n in range(1, 4)]
    assert [r.rsplit("-", 1)[1] for r in receipts] == ["00001", "00002", "00003"]
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(HumanTask)) == 3


def test_a_list_of_one_step_or_of_held_tasks_is_cut_after_the_filter(runtime):
    """The card pages ask for one step and the supervision page for held tasks: filtered in
    the query, so a task of that step (or held) comes back even when ``limit`` other open
    tasks come before it in the inbox order."""
    first, second = start_new_card(runtime, 1)["receipt"], start_new_card(runtime, 2)["receipt"]
    complete(runtime, second, "operator", DOCS_OK)  # the second case is now at verification
    operator, verifier = actor(runtime, "operator"), actor(runtime, "verifier")
    everything = engine.list_tasks(runtime, verifier, limit=1)
    assert [t["receipt"] for t in everything] == [first]  # the document check comes first
    at_verification = engine.list_tasks(runtime, verifier, step="Task_residence_verification", limit=1)
    assert [(t["receipt"], t["step"]) for t in at_verification] == [(second, "Task_residence_verification")]
    assert engine.list_tasks(runtime, verifier, step="Task_print_card") == []

    held = open_task(runtime, second, "verifier")
    engine.claim_task(runtime, held["id"], verifier)
    assert [t["receipt"] for t in engine.list_tasks(runtime, operator, claimed=True, limit=1)] == [second]
    assert [t["receipt"] for t in engine.list_tasks(runtime, operator, claimed=False)] == [first]
