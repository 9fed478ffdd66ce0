"""What the inbox does with a message nobody waits for: an early one waits, a late one is
discarded with a note on both sides, a duplicate has no second effect."""

from __future__ import annotations

from uuid import uuid4

from simpul import engine
from simpul.engine.models import InboxReceipt, OutboxMessage
from simpul.plugins.coordination import protocol
from simpul.plugins.coordination.settings import Peer, settings_for
from simpul.plugins.coordination.status import coordination_status, send_now
from simpul.plugins.coordination.transport import exchange
from tests.flows import actor, complete

from .helpers import count, open_steps, pending, printing_receipt, record_case, wait_for, work


def _queue_reply(rt, printing: str, name: str, data: dict) -> str:
    """A reply written at the regency as its service task would (outbox row, same case)."""
    case = engine.get_case(rt, printing, actor(rt, "disdukcapil"))
    message_id = str(uuid4())
    with rt.transaction() as uow:
        uow.session.add(
            OutboxMessage(
                message_id=message_id,
                case_id=case["id"],
                source_office="6402",
                destination_office=case["data"]["origin_office"],
                kind="message",
                payload={"name": name, "correlation_key": case["correlation_key"], "data": data},
            )
        )
    return message_id


def _to_resolution(kec, reg, n):
    receipt = record_case(kec, n)
    work(kec)
    printing = printing_receipt(reg, receipt)
    complete(reg, printing, "disdukcapil", {"data_complete": True})
    complete(
        reg,
        printing,
        "disdukcapil",
        {"enrolment_result": "ENROLL_FAILURE_AT_CENTRAL", "enrolment_notes": "Sidik jari tidak terbaca"},
    )
    work(reg)
    assert open_steps(kec, receipt) == ["Task_enrolment_resolution"]
    return receipt, printing


def test_a_message_that_arrives_before_the_case_waits_is_kept_until_it_does(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt, printing = _to_resolution(kec, reg, 1)
    # A card_printed while the kecamatan case is not waiting for one (it is being resolved).
    _queue_reply(reg, printing, "card_printed", {"card_serial": "KTP-EARLY"})
    work(reg)
    assert pending(reg) == 1
    failure = coordination_status(reg)["failures"][0]
    assert "does not wait for message card_printed" in failure["last_error"] and failure["case"] == printing
    assert count(kec, InboxReceipt) == 1  # only the enrolment problem was applied

    # The operator records again; now the case waits for the card, and the kept message lands.
    complete(kec, receipt, "operator", {"resolution": "record_again", "resolution_notes": "Rekam ulang"})
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

    def retried():
        send_now(reg)
        work(reg)

    assert wait_for(lambda: pending(reg) == 0, timeout=10, tick=retried)
    assert open_steps(kec, receipt) == ["Task_receive_card"]
    data = engine.get_case(kec, receipt, actor(kec, "operator"))["data"]
    assert data["card_printed"]["card_serial"] == "KTP-EARLY"


def test_a_message_for_a_closed_case_is_discarded_once_and_noted_on_both_sides(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 2)
    work(kec)
    printing = printing_receipt(reg, receipt)
    engine.cancel_case(kec, receipt, "Warga pindah domisili", actor(kec, "camat"))
    for data in (
        {"data_complete": True},
        {"enrolment_result": "PRINT_READY_RECORD"},
        {"blank_in_stock": True},
        {"card_serial": "KTP-0002"},
    ):
        complete(reg, printing, "disdukcapil", data)
    work(reg)

    # Not retried forever: delivered as "discarded".
    assert pending(reg) == 0
    reg_events = engine.get_case(reg, printing, actor(reg, "disdukcapil"))["events"]
    note = [e for e in reg_events if e["kind"] == "message_undeliverable"]
    assert len(note) == 1 and "no open case" in note[0]["detail"]
    # The cancelled case shows that a card was printed for it anyway.
    kec_events = engine.get_case(kec, receipt, actor(kec, "camat"))["events"]
    discarded = [e for e in kec_events if e["kind"] == "message_discarded"]
    assert len(discarded) == 1 and discarded[0]["after"]["card_serial"] == "KTP-0002"
    assert "cancelled" in discarded[0]["detail"]
    # both timelines name the message, not just "a message"
    assert [(e["step"], e["step_name"]) for e in note + discarded] == [("card_printed", "card_printed")] * 2

    # The same message again (a lost acknowledgement): no second note.
    with reg.read() as s:
        message = (
            s.query(OutboxMessage).filter(OutboxMessage.case_id.isnot(None)).order_by(OutboxMessage.id.desc()).first()
        )
        snap = {
            "message_id": message.message_id,
            "kind": message.kind,
            "payload": message.payload,
            "source_office": "6402",
            "destination_office": "640205",
            "created_at": None,
        }
    st = settings_for(reg)
    results, _ = exchange(reg, st, st.peer("640205"), "6402", [snap])
    assert results[snap["message_id"]]["status"] == protocol.DUPLICATE
    kec_events = engine.get_case(kec, receipt, actor(kec, "camat"))["events"]
    assert len([e for e in kec_events if e["kind"] == "message_discarded"]) == 1


def test_an_office_cannot_answer_for_a_case_it_was_not_sent(nodes, caplog):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 3)
    work(kec)
    # Another regency (6403) is a peer of the kecamatan too, with its own secret.
    kec.config.settings["coordination"]["peers"]["6403"] = {"url": "http://127.0.0.1:9", "secret": "other-secret"}
    forged = {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": "6403",
        "destination_office": "640205",
        "created_at": None,
        "payload": {"name": "card_printed", "correlation_key": receipt, "data": {"card_serial": "FAKE"}},
    }
    st = settings_for(reg)
    other = Peer("640205", nodes.kecamatan.url, "other-secret")
    caplog.set_level("WARNING", logger="simpul.security")
    results, _ = exchange(reg, st, other, "6403", [forged])
    assert results[forged["message_id"]]["status"] == protocol.RETRY
    assert "may not send messages" in results[forged["message_id"]]["error"]
    assert open_steps(kec, receipt) == []  # still waiting for its own regency
    assert any("6403" in r.getMessage() for r in caplog.records if r.name == "simpul.security")
