"""Every request is signed: a tampered body, a wrong secret, an unknown office and a replayed
or old request are refused, logged, and change nothing."""

from __future__ import annotations

import http.client
import json
import time
from uuid import uuid4

import time_machine
from flask import Flask, Response

from simpul.engine.models import InboxReceipt
from simpul.plugins.coordination import protocol as p
from simpul.plugins.coordination.status import coordination_status
from simpul.plugins.coordination.web import serve

from .conftest import SECRET
from .helpers import count, open_steps, pending, record_case, wait_for, work


def _card_printed(receipt, serial="KTP-0001"):
    return {
        "message_id": str(uuid4()),
        "kind": "message",
        "source_office": "6402",
        "destination_office": "640205",
        "created_at": None,
        "payload": {"name": "card_printed", "correlation_key": receipt, "data": {"card_serial": serial}},
    }


def _request(messages, *, secret=SECRET, source="6402", destination="640205", timestamp=None):
    body = p.encode(
        {
            "v": 1,
            "batch_id": uuid4().hex,
            "source_office": source,
            "destination_office": destination,
            "messages": messages,
        }
    )
    timestamp = timestamp or f"{time.time():.3f}"
    headers = {
        "Content-Type": "application/json",
        "Content-Encoding": "deflate",
        p.H_SOURCE: source,
        p.H_DESTINATION: destination,
        p.H_TIMESTAMP: timestamp,
        p.H_SIGNATURE: p.sign(secret, timestamp, source, destination, p.INBOX_PATH, body),
    }
    return headers, body


def _post(node, headers, body):
    conn = http.client.HTTPConnection("127.0.0.1", node.server.port, timeout=10)
    conn.request("POST", p.INBOX_PATH, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _error(data):
    return json.loads(data)["error"]


def test_a_correctly_signed_message_is_applied(nodes):
    kec = nodes.kecamatan.runtime
    receipt = record_case(kec, 1)
    work(kec)
    status, data = _post(nodes.kecamatan, *_request([_card_printed(receipt)]))
    assert status == 200
    assert [r["status"] for r in p.decode(data, 10**6)["results"]] == [p.APPLIED]
    assert open_steps(kec, receipt) == ["Task_receive_card"]


def test_an_applied_message_is_counted_and_the_answer_tells_the_receiver_s_clock(nodes):
    """The answer carries the receiver's time (header and body), so an office whose clock is
    off can see by how much (a kecamatan PC's clock after a power cut)."""
    kec = nodes.kecamatan.runtime
    receipt = record_case(kec, 1)
    work(kec)
    headers, body = _request([_card_printed(receipt)])
    conn = http.client.HTTPConnection("127.0.0.1", nodes.kecamatan.server.port, timeout=10)
    before = time.time()
    conn.request("POST", p.INBOX_PATH, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    assert response.status == 200
    for told in (float(response.getheader(p.H_SERVER_TIME)), p.decode(data, 10**6)["server_time"]):
        assert before - 1 <= told <= time.time() + 1
    (peer,) = coordination_status(kec)["peers"]
    assert peer["messages_received"] == 1  # the status page counts what the office applied


def test_tampered_wrong_secret_unknown_and_unsigned_requests_are_refused_and_logged(nodes, caplog):
    kec = nodes.kecamatan.runtime
    receipt = record_case(kec, 1)
    work(kec)
    caplog.set_level("WARNING", logger="simpul.security")

    headers, body = _request([_card_printed(receipt)])
    tampered = p.encode({**p.decode(body, 10**6), "messages": [_card_printed(receipt, "KTP-FORGED")]})
    status, data = _post(nodes.kecamatan, headers, tampered)
    assert (status, _error(data)) == (401, "bad_signature")

    status, data = _post(nodes.kecamatan, *_request([_card_printed(receipt)], secret="not-our-secret"))
    assert (status, _error(data)) == (401, "bad_signature")

    status, data = _post(nodes.kecamatan, *_request([_card_printed(receipt)], source="9999", secret="x"))
    assert (status, _error(data)) == (403, "unknown_office")

    headers, body = _request([_card_printed(receipt)])
    del headers[p.H_SIGNATURE]
    status, data = _post(nodes.kecamatan, headers, body)
    assert (status, _error(data)) == (400, "unsigned")

    # Nothing happened to the case, nothing was received.
    assert open_steps(kec, receipt) == [] and count(kec, InboxReceipt) == 0
    logged = [r.getMessage() for r in caplog.records if r.name == "simpul.security"]
    assert sum("bad signature" in m for m in logged) == 2
    assert any("9999" in m and "not a peer" in m for m in logged)
    (peer,) = coordination_status(kec)["peers"]
    assert peer["refused_requests"] == 2 and "bad signature" in peer["last_refusal"]


def test_a_refusal_naming_a_long_office_is_kept_short_on_the_status_page(nodes):
    """The reason shown for the last refusal quotes what the peer sent (here the destination
    office), so a peer cannot fill the status page and the database with it: 500 characters."""
    kec = nodes.kecamatan.runtime
    status, data = _post(nodes.kecamatan, *_request([], destination="6" * 1000))
    assert (status, _error(data)) == (403, "wrong_office")
    (peer,) = coordination_status(kec)["peers"]
    assert peer["refused_requests"] == 1
    assert peer["last_refusal"] == f"this node does not serve office {'6' * 1000}"[:500]


def test_a_replayed_request_is_refused_now_and_later(nodes, caplog):
    kec = nodes.kecamatan.runtime
    first, second = record_case(kec, 1), record_case(kec, 2)
    work(kec)
    caplog.set_level("WARNING", logger="simpul.security")
    headers, body = _request([_card_printed(first)])
    assert _post(nodes.kecamatan, headers, body)[0] == 200

    status, data = _post(nodes.kecamatan, headers, body)  # the same bytes again, at once
    assert (status, _error(data)) == (401, "replayed")

    # An old recorded request, re-signed timestamp and all, played back an hour later.
    old_headers, old_body = _request([_card_printed(second)])
    with time_machine.travel(time.time() + 3600, tick=True):
        status, data = _post(nodes.kecamatan, old_headers, old_body)
    assert (status, _error(data)) == (401, "stale")
    assert open_steps(kec, second) == [] and count(kec, InboxReceipt) == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "simpul.security"]
    assert any("replay" in m for m in logged) and any("old or replayed" in m for m in logged)


def test_a_sender_with_the_wrong_secret_keeps_its_messages_and_shows_why(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    kec.config.settings["coordination"]["peers"]["6402"]["secret"] = "a-typo-in-the-secret"
    record_case(kec, 1)
    work(kec)
    assert pending(kec) == 1 and count(reg, InboxReceipt) == 0
    status = coordination_status(kec)
    assert "HTTP 401 bad_signature" in status["failures"][0]["last_error"]
    assert "HTTP 401 bad_signature" in status["peers"][0]["last_error"]
    assert coordination_status(reg)["peers"][0]["refused_requests"] >= 1

    kec.config.settings["coordination"]["peers"]["6402"]["secret"] = SECRET  # fixed
    assert wait_for(lambda: pending(kec) == 0, timeout=10, tick=lambda: work(kec))
    assert count(reg, InboxReceipt) == 1


def test_an_unsigned_or_forged_answer_does_not_count_as_delivered(nodes):
    """A man in the middle answering "applied" cannot make the kecamatan drop a message."""
    kec = nodes.kecamatan.runtime
    liar = Flask("liar")

    @liar.post(p.INBOX_PATH)
    def _answer():
        from flask import request

        batch = p.decode(request.get_data(), 10**6)
        body = p.encode({"results": [{"message_id": m["message_id"], "status": p.APPLIED} for m in batch["messages"]]})
        return Response(body, headers={p.H_SIGNATURE: "v1=" + "0" * 64})

    server = serve(liar)
    try:
        nodes.regency.proxy.retarget(server.port)
        record_case(kec, 1)
        work(kec)
        assert pending(kec) == 1
        assert "not signed with our shared secret" in coordination_status(kec)["failures"][0]["last_error"]
    finally:
        server.shutdown()


def test_a_clock_that_is_off_is_corrected_from_the_peers_answer(nodes, caplog):
    """A kecamatan PC whose clock runs two hours ahead (after a power cut, say): its first
    request is refused as stale, it learns the regency's time from the refusal and resends."""
    from simpul.plugins.coordination.inbox import ensure_peer_row

    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    with kec.transaction() as uow:
        ensure_peer_row(uow.session, "6402").clock_offset = 7200.0
    caplog.set_level("WARNING")
    record_case(kec, 1)
    work(kec)
    assert pending(kec) == 0 and count(reg, InboxReceipt) == 1
    assert abs(coordination_status(kec)["peers"][0]["clock_offset_seconds"]) < 5
    assert any("stale" in r.getMessage() or "old or replayed" in r.getMessage() for r in caplog.records)


def test_a_signature_counts_only_in_full():
    """Not up to the length of what was sent: ``v1=`` alone, or any prefix, is a forgery."""
    args = ("1767225600", "640205", "6402", "/coordination/v1/messages", b'{"messages": []}')
    signature = p.sign(SECRET, *args)
    assert p.verify(SECRET, signature, *args)
    last = "1" if signature[-1] == "0" else "0"
    for forged in ("", None, "v1=", signature[:4], signature[:-1], signature + "0", signature[:-1] + last):
        assert not p.verify(SECRET, forged, *args), forged
    assert not p.verify(SECRET + "x", signature, *args)
    assert not p.verify(SECRET, signature, "1767225601", *args[1:])
