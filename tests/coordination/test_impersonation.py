"""A peer acts only as itself: a regency with two kecamatan peers, where the second one
(640206, signing with its own valid secret) tries to act in the name of the first (640205)."""

from __future__ import annotations

from uuid import uuid4

from simpul import engine
from simpul.engine import directory
from simpul.engine.models import CaseEvent, InboxReceipt
from simpul.plugins.coordination import protocol as p
from tests.conftest import OFFICE, OTHER_OFFICE, REGENCY
from tests.flows import actor

from .helpers import count, open_steps, printing_cases, printing_receipt, record_case, work
from .test_security import _post, _request

OTHER_SECRET = "the-secret-of-kecamatan-640206"


def _second_peer(nodes):
    """640206 becomes a peer of the regency (and the kecamatan's regency knows it)."""
    reg = nodes.regency.runtime
    reg.config.settings["coordination"]["peers"][OTHER_OFFICE] = {"url": "http://127.0.0.1:9", "secret": OTHER_SECRET}
    with reg.transaction() as uow:
        directory.ensure_office(uow.session, OTHER_OFFICE, "Kecamatan Muara Jawa", "kecamatan", parent_code=REGENCY)


def _start_case(data, key, *, source=OTHER_OFFICE, office=REGENCY):
    return {
        "message_id": str(uuid4()),
        "kind": "start_case",
        "source_office": source,
        "destination_office": REGENCY,
        "created_at": None,
        "payload": {"process": "ektp_regency_printing", "office": office, "correlation_key": key, "data": data},
    }


def _send_as_other(nodes, messages):
    status, body = _post(
        nodes.regency, *_request(messages, secret=OTHER_SECRET, source=OTHER_OFFICE, destination=REGENCY)
    )
    assert status == 200, body
    return p.decode(body, 10**7)["results"]


def _genuine_payload(nodes, n):
    """What 640205 really sent to the regency for one of its cases (from its outbox)."""
    kec = nodes.kecamatan.runtime
    receipt = record_case(kec, n)
    work(kec)
    printing = printing_receipt(nodes.regency.runtime, receipt)
    case = engine.get_case(nodes.regency.runtime, printing, actor(nodes.regency.runtime, "disdukcapil"))
    return receipt, printing, dict(case["data"])


def test_a_peer_cannot_start_a_case_in_another_offices_name(nodes, caplog):
    _second_peer(nodes)
    reg = nodes.regency.runtime
    receipt, _printing, data = _genuine_payload(nodes, 1)
    engine.cancel_case(reg, _printing, "test: make room for a second printing case", actor(reg, "disdukcapil"))
    before = len(printing_cases(reg))
    caplog.set_level("WARNING", logger="simpul.security")

    # 640206 claims the case comes from 640205, under 640205's receipt as key.
    forged = _start_case({**data, "nik": "6402064507000091"}, receipt)
    # ... or keeps the origin quiet and only borrows the key.
    borrowed = _start_case({k: v for k, v in data.items() if k != "origin_office"}, receipt)
    # ... or names 640205 as origin under a key of its own.
    named = _start_case({**data, "origin_office": OFFICE}, f"{OTHER_OFFICE}-2026-00001")
    results = _send_as_other(nodes, [forged, borrowed, named])

    assert [r["status"] for r in results] == [p.RETRY] * 3
    assert "may not start a case" in results[0]["error"]
    assert "640205" in results[1]["error"] and "640205" in results[2]["error"]
    assert len(printing_cases(reg)) == before
    assert count(reg, InboxReceipt, InboxReceipt.source_office == OTHER_OFFICE) == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "simpul.security"]
    assert sum("refused" in m for m in logged) == 3


def test_the_origin_office_is_the_office_that_signed(nodes):
    """A start_case without an origin still gets one: the signing office, so the replies go
    back to it and never to another kecamatan."""
    _second_peer(nodes)
    reg = nodes.regency.runtime
    _receipt, _printing, data = _genuine_payload(nodes, 2)
    own = {k: v for k, v in data.items() if k not in ("origin_office", "origin_receipt")}
    own.update(nik="6402064507000090", resident_name="Warga Muara Jawa")
    (result,) = _send_as_other(nodes, [_start_case(own, f"{OTHER_OFFICE}-2026-00007")])
    assert result["status"] == p.APPLIED, result
    case = engine.get_case(reg, result["receipt"], actor(reg, "disdukcapil"))
    assert case["data"]["origin_office"] == OTHER_OFFICE


def test_a_peer_cannot_answer_for_a_case_of_another_office(nodes, caplog):
    """640206 sends the regency's kind of message about 640205's case to the kecamatan: the
    kecamatan case deals only with the regency."""
    kec = nodes.kecamatan.runtime
    kec.config.settings["coordination"]["peers"][OTHER_OFFICE] = {"url": "http://127.0.0.1:9", "secret": OTHER_SECRET}
    receipt = record_case(kec, 3)
    work(kec)
    message = {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": OTHER_OFFICE,
        "destination_office": OFFICE,
        "created_at": None,
        "payload": {"name": "card_printed", "correlation_key": receipt, "data": {"card_serial": "FAKE"}},
    }
    caplog.set_level("WARNING", logger="simpul.security")
    status, body = _post(
        nodes.kecamatan, *_request([message], secret=OTHER_SECRET, source=OTHER_OFFICE, destination=OFFICE)
    )
    (result,) = p.decode(body, 10**7)["results"]
    assert status == 200 and result["status"] == p.RETRY
    assert open_steps(kec, receipt) == []
    assert count(kec, InboxReceipt) == 0


def test_a_case_that_was_never_sent_takes_no_message(nodes):
    """Before the kecamatan sends the case anywhere, not even its own regency can answer it."""
    kec = nodes.kecamatan.runtime
    receipt = record_case(kec, 4)  # recorded, not yet sent (no worker run)
    message = {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": REGENCY,
        "destination_office": OFFICE,
        "created_at": None,
        "payload": {"name": "card_printed", "correlation_key": receipt, "data": {"card_serial": "EARLY"}},
    }
    status, body = _post(nodes.kecamatan, *_request([message]))
    (result,) = p.decode(body, 10**7)["results"]
    assert result["status"] == p.RETRY and "may not send messages" in result["error"]
    assert count(kec, InboxReceipt) == 0


def test_no_event_goes_into_another_offices_closed_case(nodes):
    kec = nodes.kecamatan.runtime
    kec.config.settings["coordination"]["peers"][OTHER_OFFICE] = {"url": "http://127.0.0.1:9", "secret": OTHER_SECRET}
    receipt = record_case(kec, 5)
    work(kec)
    engine.cancel_case(kec, receipt, "Warga pindah domisili", actor(kec, "camat"))
    events = count(kec, CaseEvent)
    message = {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": OTHER_OFFICE,
        "destination_office": OFFICE,
        "created_at": None,
        "payload": {"name": "card_printed", "correlation_key": receipt, "data": {"card_serial": "NOTE"}},
    }
    status, body = _post(
        nodes.kecamatan, *_request([message], secret=OTHER_SECRET, source=OTHER_OFFICE, destination=OFFICE)
    )
    (result,) = p.decode(body, 10**7)["results"]
    assert result["status"] == p.RETRY and "may not send messages" in result["error"]
    assert count(kec, CaseEvent) == events and count(kec, InboxReceipt) == 0


def test_a_message_id_of_another_office_is_not_answered_as_a_duplicate(nodes):
    _second_peer(nodes)
    reg = nodes.regency.runtime
    _genuine_payload(nodes, 6)
    with reg.read() as s:
        taken = s.query(InboxReceipt).filter(InboxReceipt.source_office == OFFICE).first().message_id
    data = {"nik": "6402064507000092", "resident_name": "Warga Lain"}
    message = {**_start_case(data, f"{OTHER_OFFICE}-2026-00009"), "message_id": taken}
    (result,) = _send_as_other(nodes, [message])
    assert result["status"] == p.RETRY and "another office" in result["error"]


def test_two_peers_with_one_secret_are_both_refused(nodes):
    """One secret for two offices would let each sign as the other."""
    reg = nodes.regency.runtime
    reg.config.settings["coordination"]["peers"][OTHER_OFFICE] = {
        "url": "http://127.0.0.1:9",
        "secret": reg.config.settings["coordination"]["peers"][OFFICE]["secret"],
    }
    status, body = _post(nodes.regency, *_request([], source=OFFICE, destination=REGENCY))
    assert status == 403 and b"shared_secret" in body


def test_a_message_about_another_offices_case_is_refused_not_discarded(nodes):
    """Even when no case of that key is here (any more), 640206 cannot speak about 640205's
    receipt: refused, so not even a discard is recorded in 640205's name."""
    _second_peer(nodes)
    reg = nodes.regency.runtime
    message = {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": OTHER_OFFICE,
        "destination_office": REGENCY,
        "created_at": None,
        "payload": {"name": "scan_added", "correlation_key": f"{OFFICE}-2026-00001", "data": {}},
    }
    (result,) = _send_as_other(nodes, [message])
    assert result["status"] == p.RETRY and "of office 640205" in result["error"]
    assert count(reg, InboxReceipt) == 0
