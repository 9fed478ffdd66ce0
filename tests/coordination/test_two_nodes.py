"""A new-card case across two real nodes: separate databases, HTTP on loopback ports."""

from __future__ import annotations

from sqlalchemy import select

from simpul import engine
from simpul.engine.models import Case, InboxReceipt, OutboxMessage
from simpul.plugins.coordination.status import coordination_status
from tests.flows import CARD_ARRIVED, HANDOVER, actor, complete, open_task

from .helpers import (
    count,
    open_steps,
    pending,
    print_card,
    printing_cases,
    printing_receipt,
    receipts,
    record_case,
    wait_for,
    work,
)


def test_new_card_runs_across_two_nodes_from_application_to_handover(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 1)
    assert printing_cases(reg) == []

    done = work(kec)  # the send step writes the outbox; the worker delivers it over HTTP
    assert done["services"] == 1 and done["sent"] == 1 and pending(kec) == 0

    printing = printing_receipt(reg, receipt)
    assert printing.startswith("6402-")
    case = engine.get_case(reg, printing, actor(reg, "disdukcapil"))
    assert case["office"] == "6402" and case["data"]["origin_office"] == "640205"
    assert case["data"]["origin_receipt"] == receipt and case["nik"] == "6402054507000001"
    assert [t["step"] for t in case["open_tasks"]] == ["Task_regency_receive"]
    # Nothing was delivered into the kecamatan's own database: its regency row is only a name.
    assert printing_cases(kec) == []

    print_card(reg, printing, "KTP-0001")
    assert work(reg)["sent"] == 1  # card_printed travels back

    assert open_steps(kec, receipt) == ["Task_receive_card"]
    complete(kec, receipt, "operator", CARD_ARRIVED)
    result = complete(kec, receipt, "operator", HANDOVER)
    assert result["status"] == "completed"
    kec_case = engine.get_case(kec, receipt, actor(kec, "operator"))
    assert kec_case["data"]["card_printed"]["card_serial"] == "KTP-0001"
    assert kec_case["data"]["card_printed"]["regency_receipt"] == printing
    kinds = [e["kind"] for e in kec_case["events"]]
    assert "message_received" in kinds and kec_case["end_reason"] == "Selesai"
    assert engine.get_case(reg, printing, actor(reg, "disdukcapil"))["status"] == "completed"
    # One receipt on each side, one message each way, both sent.
    assert receipts(kec) == 1 and receipts(reg) == 1
    assert count(kec, OutboxMessage, OutboxMessage.status == "sent") == 1
    assert count(reg, OutboxMessage, OutboxMessage.status == "sent") == 1

    kec_status = coordination_status(kec)
    (peer,) = kec_status["peers"]
    assert peer["office"] == "6402" and peer["route"] == "http" and peer["waiting"] == 0
    assert peer["last_success_at"] and peer["last_received_at"] and peer["messages_sent"] == 1
    assert kec_status["waiting"] == 0 and kec_status["oldest"] is None and not kec_status["alert"]["raised"]


def test_enrolment_problem_becomes_a_task_at_the_kecamatan_and_can_be_recorded_again(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 2)
    work(kec)
    first = printing_receipt(reg, receipt)
    complete(reg, first, "disdukcapil", {"data_complete": True})
    complete(
        reg,
        first,
        "disdukcapil",
        {"enrolment_result": "DUPLICATE_RECORD", "enrolment_notes": "Rekam ganda dengan NIK lain"},
    )
    work(reg)

    task = open_task(kec, receipt, "operator")
    assert task["step"] == "Task_enrolment_resolution"
    data = engine.get_case(kec, receipt, actor(kec, "operator"))["data"]
    assert data["enrolment_problem"]["enrolment_result"] == "DUPLICATE_RECORD"
    assert data["enrolment_problem"]["enrolment_notes"] == "Rekam ganda dengan NIK lain"

    # The operator records again; the case goes to the regency a second time.
    complete(kec, receipt, "operator", {"resolution": "record_again", "resolution_notes": "Warga datang lagi"})
    complete(
        kec,
        receipt,
        "operator",
        {
            "photo_captured": True,
            "fingerprints_captured": True,
            "iris_captured": True,
            "signature_captured": True,
            "device_id": "REK-02",
        },
    )
    work(kec)
    second = printing_receipt(reg, receipt)
    assert second != first
    assert engine.get_case(reg, first, actor(reg, "disdukcapil"))["status"] == "completed"


def test_temporary_certificate_and_card_arrive_in_order(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 3)
    work(kec)
    printing = printing_receipt(reg, receipt)
    complete(reg, printing, "disdukcapil", {"data_complete": True})
    complete(reg, printing, "disdukcapil", {"enrolment_result": "PRINT_READY_RECORD"})
    complete(reg, printing, "disdukcapil", {"blank_in_stock": False, "issue_suket": True})
    # The link is down while the regency answers twice; the answers wait in its outbox.
    nodes.link("down")
    work(reg)  # the suket notice is sent (and fails)
    complete(reg, printing, "disdukcapil", {"blank_arrived": True})
    complete(reg, printing, "disdukcapil", {"blank_in_stock": True})
    complete(reg, printing, "disdukcapil", {"card_serial": "KTP-0003"})
    work(reg)
    assert pending(reg) == 2
    assert open_steps(kec, receipt) == []  # the kecamatan heard nothing yet

    nodes.link("pass")
    assert wait_for(lambda: pending(reg) == 0, timeout=10, tick=lambda: work(reg))
    events = engine.get_case(kec, receipt, actor(kec, "operator"))["events"]
    received = [e["step"] for e in events if e["kind"] == "message_received"]
    # Had card_printed overtaken the notice, nobody would have waited for the notice any more.
    assert received == ["temporary_certificate_issued", "card_printed"]
    assert not [e for e in events if e["kind"] in ("message_discarded", "message_undeliverable")]
    assert open_steps(kec, receipt) == ["Task_receive_card"]
    assert count(kec, InboxReceipt) == 2


def test_a_second_print_for_the_same_nik_is_refused_and_the_sender_hears_which_case(nodes):
    """Issue 14 item 7 at the regency: another kecamatan sends the same resident while her
    print is open.  No second print starts; the sending office is answered (enrolment_problem,
    duplicate_print) with the case that holds the print -- it cannot see that case itself."""
    from simpul.plugins.coordination.inbox import apply_envelope

    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 1)
    work(kec)
    printing = printing_receipt(reg, receipt)
    with reg.read() as s:
        data = dict(s.scalar(select(Case.data).where(Case.receipt == printing)))
    envelope = {
        "message_id": "second-print-0001",
        "kind": "start_case",
        "source_office": "640206",
        "destination_office": "6402",
        "payload": {
            "process": "ektp_regency_printing",
            "office": "6402",
            "correlation_key": "640206-2026-00009",
            "data": {**data, "origin_office": "640206", "origin_receipt": "640206-2026-00009"},
        },
    }
    result = apply_envelope(reg, envelope, "640206", "6402")
    assert result["status"] == "applied" and result["refused"] == "duplicate_print"
    assert result["receipt"] == printing
    assert len(printing_cases(reg)) == 1  # no second print
    with reg.read() as s:
        answer = s.scalar(select(OutboxMessage).where(OutboxMessage.destination_office == "640206"))
    assert answer.kind == "message" and answer.payload["name"] == "enrolment_problem"
    assert answer.payload["correlation_key"] == "640206-2026-00009"
    problem = answer.payload["data"]
    assert problem["enrolment_result"] == "duplicate_print" and problem["regency_receipt"] == printing
    assert problem["existing_office"] == "640205" and problem["existing_receipt"] == receipt
    assert receipt in problem["enrolment_notes"] and printing in problem["enrolment_notes"]
    # the same message again is a duplicate, not a second answer
    assert apply_envelope(reg, envelope, "640206", "6402")["status"] == "duplicate"


def test_a_print_request_with_bad_data_is_answered_retry_naming_the_fields(nodes):
    """A kecamatan whose print request the regency cannot start hears which fields are wrong
    (its outbox and status page show that answer), and nothing starts at the regency."""
    from simpul.plugins.coordination.inbox import apply_envelope

    reg = nodes.regency.runtime
    envelope = {
        "message_id": "bad-print-0001",
        "kind": "start_case",
        "source_office": "640205",
        "destination_office": "6402",
        "payload": {
            "process": "ektp_regency_printing",
            "office": "6402",
            "correlation_key": "640205-2026-00042",
            "data": {"nik": "12345", "origin_receipt": "640205-2026-00042"},
        },
    }
    result = apply_envelope(reg, envelope, "640205", "6402")
    assert result["status"] == "retry"
    assert result["error"] == (
        "Some fields need attention. (nik: A NIK is 16 digits.; resident_name: This field is required.)"
    )
    assert printing_cases(reg) == []


def test_the_regency_sends_incomplete_data_back_with_its_reason(nodes):
    """Issue 14 item 8: no required tick forces the officer to accept incomplete data; "not
    complete" needs a reason, which reaches the kecamatan's case as a task to follow up."""
    import pytest

    from simpul.engine import ValidationFailed

    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 3)
    work(kec)
    printing = printing_receipt(reg, receipt)
    with pytest.raises(ValidationFailed) as err:
        complete(reg, printing, "disdukcapil", {"data_complete": False})
    assert "enrolment_notes" in err.value.errors  # the reason is required
    complete(reg, printing, "disdukcapil", {"data_complete": False, "enrolment_notes": "Foto wajah buram"})
    work(reg)
    assert engine.get_case(reg, printing, actor(reg, "disdukcapil"))["status"] == "completed"
    assert open_task(kec, receipt, "operator")["step"] == "Task_enrolment_resolution"
    data = engine.get_case(kec, receipt, actor(kec, "operator"))["data"]
    assert data["enrolment_problem"]["enrolment_notes"] == "Foto wajah buram"
