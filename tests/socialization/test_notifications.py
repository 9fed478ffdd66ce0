"""Notifications to a resident who agreed at the counter: a real SMTP server (aiosmtpd) and a
real local HTTP gateway on loopback, a case from start to handover, each message once."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from simpul import engine
from simpul.engine.models import Case, OutboxMessage
from simpul.engine.worker import run_due

from ..flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, receive_and_hand_over, run_worker_until_quiet
from ..flows import resident as resident_data

CONSENTING = {"phone": "081234567890", "email": "warga@example.id", "notify_consent": True}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


class Gateway:
    """An SMS/WhatsApp gateway as offices use them: a JSON POST, 200 when accepted."""

    def __init__(self, port: int):
        self.port, self.received, self.server = port, [], None

    def start(self):
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b'{"status":"queued"}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def gateway():
    g = Gateway(_free_port())
    yield g
    g.stop()


def _configure(rt, smtp_port, gateway_port):
    rt.config.settings["notifications"] = {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "mail_from": "kecamatan@example.id",
        "sms_webhook_url": f"http://127.0.0.1:{gateway_port}/send",
    }
    rt.config.settings["public_url"] = "https://kec.example.id"


def _to_handover(rt, receipt):
    complete(rt, receipt, "operator", {"documents_complete": False, "documents_received": []})
    complete(rt, receipt, "operator", {"missing_documents_brought": True})
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(rt)
    printing = engine.list_tasks(rt, actor(rt, "disdukcapil"))[0]["receipt"]
    for data in ({"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True}):
        complete(rt, printing, "disdukcapil", data)
    complete(rt, printing, "disdukcapil", {"card_serial": "KTP-0001"})
    run_worker_until_quiet(rt)
    receive_and_hand_over(rt, receipt)
    run_worker_until_quiet(rt)


def _wait_for(condition, rt, timeout=15.0):
    """Run the worker until ``condition()`` holds (backoff makes retries due a moment later)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        run_due(rt)
        time.sleep(0.05)


def test_each_configured_message_arrives_once_with_the_right_text(runtime, smtp, gateway):
    controller, mailbox = smtp
    gateway.start()
    _configure(runtime, controller.port, gateway.port)
    receipt = engine.start_case(runtime, "ektp_new_card", resident_data(1, **CONSENTING), actor(runtime, "operator"))[
        "receipt"
    ]
    code = engine.get_case(runtime, receipt, actor(runtime, "operator"))["lookup_code"]
    _to_handover(runtime, receipt)
    run_worker_until_quiet(runtime)

    texts = [m["message"] for m in gateway.received]
    assert len(texts) == 4, texts
    assert texts[0] == (
        f"Kecamatan Sangasanga: permohonan Anda {receipt} sudah diterima. Kode cek {code}."
        f" Pantau di https://kec.example.id/cek?receipt={receipt}&code={code}"
    )
    assert "berkas permohonan" in texts[1] and "belum lengkap" in texts[1]
    assert "sudah jadi" in texts[2]
    assert texts[3].endswith("ditutup: kartu sudah diserahkan")
    assert {m["to"] for m in gateway.received} == {"081234567890"}
    assert len({m["id"] for m in gateway.received}) == 4
    assert len(mailbox.messages) == 4
    assert all(rcpt == ["warga@example.id"] for rcpt, _ in mailbox.messages)
    assert "Subject: Permohonan e-KTP Anda" in mailbox.messages[0][1]
    with runtime.read() as s:
        statuses = s.scalars(select(OutboxMessage.status).where(OutboxMessage.kind == "resident_notification")).all()
    assert statuses == ["sent"] * 8


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_with_the_gateway_down_the_messages_wait_and_arrive_once_it_is_back(runtime, smtp, gateway):
    controller, mailbox = smtp
    _configure(runtime, controller.port, gateway.port)  # the gateway is not listening yet
    receipt = engine.start_case(runtime, "ektp_new_card", resident_data(1, **CONSENTING), actor(runtime, "operator"))[
        "receipt"
    ]
    run_due(runtime)
    with runtime.read() as s:
        waiting = s.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == "resident_notification", OutboxMessage.status == "pending"
            )
        ).all()
    assert len(waiting) == 1 and waiting[0].payload["channel"] == "sms" and waiting[0].last_error
    assert len(mailbox.messages) == 1  # e-mail went out meanwhile
    gateway.start()
    _wait_for(lambda: len(gateway.received) == 1, runtime)
    run_worker_until_quiet(runtime)
    assert len(gateway.received) == 1 and receipt in gateway.received[0]["message"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_no_consent_no_message_and_no_channel_is_recorded_not_failed(runtime, smtp):
    engine.start_case(
        runtime,
        "ektp_new_card",
        resident_data(1, phone="081234567890", notify_consent=False),
        actor(runtime, "operator"),
    )
    runtime.config.settings["notifications"] = {}  # nothing configured
    engine.start_case(runtime, "ektp_new_card", resident_data(2, **CONSENTING), actor(runtime, "operator"))
    run_worker_until_quiet(runtime)
    with runtime.read() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "resident_notification")).all()
    assert {r.payload["receipt"] for r in rows} == {"640205-2026-00002"} or all(
        "-00002" in r.payload["receipt"] for r in rows
    )
    assert [r.payload["note"] for r in rows] == ["not sent: no channel"] * 2
    assert [r.status for r in rows] == ["sent"] * 2  # done with, not retried for ever


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_message_is_queued_in_the_events_transaction(runtime):
    from simpul.engine.cases import _start

    runtime.config.settings["notifications"] = {"sms_webhook_url": "http://127.0.0.1:9/"}
    with pytest.raises(RuntimeError), runtime.transaction() as uow:
        _start(
            runtime,
            uow,
            "ektp_new_card",
            resident_data(1, **CONSENTING),
            actor(runtime, "operator"),
            "640205",
            None,
            False,
        )
        pending_in_transaction = uow.session.scalars(select(OutboxMessage)).all()
        assert len(pending_in_transaction) == 2  # SMS and e-mail, written by this transaction before its commit
        raise RuntimeError("power cut before the commit")
    with runtime.read() as s:
        assert s.scalars(select(Case)).all() == []
        assert s.scalars(select(OutboxMessage)).all() == []  # no message about a case that does not exist
    engine.start_case(runtime, "ektp_new_card", resident_data(1, **CONSENTING), actor(runtime, "operator"))
    with runtime.read() as s:
        assert len(s.scalars(select(OutboxMessage)).all()) == 2  # the SMS, and the e-mail (no channel)


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_kill_9_of_the_worker_during_sending_loses_none_and_resends_at_most_the_one_in_flight(runtime, db, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    in_flight = threading.Event()
    release = threading.Event()
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            if len(received) == 1:  # the gateway takes the first message, then the worker dies
                in_flight.set()
                release.wait(30)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings = {"notifications": {"sms_webhook_url": f"http://127.0.0.1:{server.server_port}/send"}}
    runtime.config.settings.update(settings)
    receipts = [
        engine.start_case(
            runtime,
            "ektp_new_card",
            resident_data(n, phone=f"0812000000{n:02d}", notify_consent=True),
            actor(runtime, "operator"),
        )["receipt"]
        for n in range(1, 4)
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_DATABASE_URL=db,
        SIMPUL_INSTANCE_PATH=str(tmp_path / "instance"),
        SIMPUL_OFFICE_CODE="640205",
        SIMPUL_REGENCY_CODE="6402",
        SIMPUL_SETTINGS=json.dumps(settings),
        SIMPUL_JOB_BACKOFF_SECONDS="0.05",
        SIMPUL_WORKER_POLL_SECONDS="0.1",
        COORD_TEST_LEASE="1.0",
    )
    root = Path(__file__).resolve().parents[2]

    def worker():
        return subprocess.Popen([sys.executable, "-m", "tests.coordination.worker_driver"], cwd=root, env=env)

    first = worker()
    try:
        assert in_flight.wait(60), "the worker never reached the gateway"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        release.set()
    second = worker()
    try:
        deadline = time.monotonic() + 60
        while True:
            with runtime.read() as s:
                statuses = s.scalars(
                    select(OutboxMessage.status).where(OutboxMessage.kind == "resident_notification")
                ).all()
            if statuses == ["sent"] * 3:
                break
            assert time.monotonic() < deadline, statuses
            time.sleep(0.1)
    finally:
        second.kill()
        second.wait(10)
        server.shutdown()
    per_message = {}
    for body in received:
        per_message.setdefault(body["id"], []).append(body)
    assert len(per_message) == 3  # none lost
    counts = sorted(len(v) for v in per_message.values())
    assert counts == [1, 1, 2], counts  # only the message in flight at the kill went twice
    assert per_message[received[0]["id"]] == [received[0], received[0]]
    assert {b["to"] for b in received} == {"081200000001", "081200000002", "081200000003"}
    assert all(any(r in b["message"] for b in received) for r in receipts)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_which_events_notify_is_a_setting(runtime):
    runtime.config.settings["notifications"] = {"sms_webhook_url": "http://127.0.0.1:9/", "events": ["closed"]}
    receipt = engine.start_case(
        runtime,
        "ektp_new_card",
        resident_data(1, phone="081234567890", notify_consent=True),
        actor(runtime, "operator"),
    )["receipt"]
    with runtime.read() as s:
        assert s.scalars(select(OutboxMessage)).all() == []  # "received" is not among the events
    engine.cancel_case(runtime, receipt, "Pemohon meninggal dunia", actor(runtime, "camat"))
    with runtime.read() as s:
        (message,) = s.scalars(select(OutboxMessage)).all()
    assert message.payload["event"] == "closed" and message.payload["text"].endswith("ditutup: Pemohon meninggal dunia")
