"""What became of each notification, on the case's timeline; the settings declared through
``plugin_settings``; a rejection's "closed" message; "ready" when the card is at the office.

Against a real SMTP server (aiosmtpd) and a real local HTTP gateway on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from simpul import engine
from simpul.engine.worker import run_due

from ..flows import (
    BIOMETRICS,
    CARD_ARRIVED,
    DOCS_OK,
    HANDOVER,
    VERIFIED,
    actor,
    complete,
    run_worker_until_quiet,
)
from ..flows import resident as resident_data
from ..web.web_helpers import Browser
from .test_notifications import CONSENTING, Mailbox, _free_port

PHONE, EMAIL = CONSENTING["phone"], CONSENTING["email"]
REJECT = {"residence_verified": False, "rejection_reason": "alamat di luar kecamatan", "kelurahan_officer": "Budi"}


class Gateway:
    """An SMS gateway that can be down (503) and keeps each request's headers."""

    def __init__(self):
        self.received, self.headers, self.down = [], [], False
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if gateway.down:
                    self.send_response(503, "Service Unavailable")
                    self.end_headers()
                    return
                gateway.received.append(json.loads(body))
                gateway.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def gateway():
    g = Gateway()
    yield g
    g.stop()


def _configure(rt, smtp_port, gateway_port, **extra):
    rt.config.settings["notifications"] = {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "mail_from": "kecamatan@example.id",
        "sms_webhook_url": f"http://127.0.0.1:{gateway_port}/send",
        **extra,
    }


def _start(rt, n=1):
    return engine.start_case(rt, "ektp_new_card", resident_data(n, **CONSENTING), actor(rt, "operator"))["receipt"]


def _fates(rt, receipt):
    events = engine.get_case(rt, receipt, actor(rt, "operator"))["events"]
    return [e for e in events if e["kind"].startswith("notification_")]


def _to_printed(rt, receipt):
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(rt)
    printing = engine.list_tasks(rt, actor(rt, "disdukcapil"))[0]["receipt"]
    for data in ({"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True}):
        complete(rt, printing, "disdukcapil", data)
    complete(rt, printing, "disdukcapil", {"card_serial": "KTP-0001"})
    run_worker_until_quiet(rt)


def page_text_of(html: str) -> str:
    import html as html_lib
    import re

    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())


# -- a. the fate on the timeline -----------------------------------------------------------


def test_queued_failed_and_why_then_sent_after_retry_on_the_timeline_masked(runtime, smtp, gateway):
    controller, mailbox = smtp
    gateway.down = True
    _configure(runtime, controller.port, gateway.port)
    receipt = _start(runtime)
    fates = _fates(runtime, receipt)
    assert [(e["kind"], e["after"]["event"]) for e in fates] == [
        ("notification_queued", "received"),
        ("notification_queued", "received"),
    ]  # written with the case start itself

    run_due(runtime)
    failed = [e for e in _fates(runtime, receipt) if e["kind"] == "notification_failed"]
    assert len(failed) == 1
    assert "SMS" in failed[0]["detail"] and "503" in failed[0]["detail"] and "attempt 1 failed" in failed[0]["detail"]
    assert len(mailbox.messages) == 1  # the e-mail went out meanwhile

    gateway.down = False
    deadline_rounds = 200
    while not gateway.received and deadline_rounds:
        run_due(runtime)
        deadline_rounds -= 1
    assert len(gateway.received) == 1
    sent = [e for e in _fates(runtime, receipt) if e["kind"] == "notification_sent"]
    by_channel = {e["after"]["message"]["params"]["channel"]["msgid"]: e for e in sent}
    assert set(by_channel) == {"SMS", "e-mail"}
    assert by_channel["SMS"]["detail"].endswith("after 1 failed attempt")
    assert by_channel["e-mail"]["detail"] == "application received, by e-mail to w•••@example.id"
    assert by_channel["SMS"]["detail"].startswith("application received, by SMS to 0812•••••890")

    for event in _fates(runtime, receipt):  # never the contact in full, in any field
        assert PHONE not in json.dumps(event) and EMAIL not in json.dumps(event)


def test_the_case_page_shows_the_fate_in_indonesian_and_in_english(runtime, app, smtp, gateway):
    controller, _mailbox = smtp
    _configure(runtime, controller.port, gateway.port)
    receipt = _start(runtime)
    run_worker_until_quiet(runtime)
    browser = Browser(app)
    browser.login("operator")

    def timeline():
        html = browser.get(f"/cases/{receipt}").get_data(as_text=True)
        return page_text_of(html[html.index('id="timeline"') : html.index("</ol>", html.index('id="timeline"'))])

    text = timeline()
    assert "Notifikasi dikirim" in text and "permohonan diterima, lewat SMS ke 0812•••••890" in text
    assert "Notifikasi diantrekan" in text
    assert PHONE not in text and EMAIL not in text  # the case's data shows them to the staff; the timeline not
    browser.language("en")
    text = timeline()
    assert "Notification sent" in text and "application received, by e-mail to w•••@example.id" in text


def test_no_channel_is_written_as_not_sent(runtime):
    runtime.config.settings["notifications"] = {}
    receipt = _start(runtime)
    fates = _fates(runtime, receipt)
    assert [e["kind"] for e in fates] == ["notification_not_sent"] * 2
    assert all(e["detail"].endswith("no channel is configured") for e in fates)


# -- b. settings through plugin_settings -----------------------------------------------------


def test_the_settings_are_declared_with_their_defaults(runtime):
    options = runtime.plugin_settings("notifications")
    assert options["events"] == ["received", "documents_missing", "ready", "closed"]
    assert options["smtp_host"] == "" and options["sms_webhook_url"] == "" and options["sms_webhook_token"] == ""


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_host_port_sender_and_gateway_token_from_the_declared_environment(runtime, smtp, gateway):
    controller, mailbox = smtp
    runtime.config.settings.pop("notifications", None)
    runtime.config.environment.update(
        {
            "SIMPUL_SMTP_HOST": "127.0.0.1",
            "SIMPUL_SMTP_PORT": str(controller.port),
            "SIMPUL_MAIL_FROM": "kec@example.id",
            "SIMPUL_SMS_WEBHOOK_URL": f"http://127.0.0.1:{gateway.port}/send",
            "SIMPUL_SMS_WEBHOOK_TOKEN": "rahasia-gateway",
            "SIMPUL_NOTIFY_EVENTS": '["received"]',
        }
    )
    _start(runtime)
    run_worker_until_quiet(runtime)
    assert len(gateway.received) == 1 and gateway.headers[0]["Authorization"] == "Bearer rahasia-gateway"
    assert len(mailbox.messages) == 1 and "From: kec@example.id" in mailbox.messages[0][1]


# -- c. a rejection closes with its reason in plain words --------------------------------------


def test_a_rejection_sends_closed_with_the_reason_in_plain_words(runtime, smtp, gateway):
    controller, mailbox = smtp
    _configure(runtime, controller.port, gateway.port)
    receipt = _start(runtime)
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", REJECT)
    run_worker_until_quiet(runtime)
    assert engine.get_case(runtime, receipt, actor(runtime, "operator"))["outcome"] == "rejected"
    texts = [m["message"] for m in gateway.received]
    assert len(texts) == 2, texts  # received, then closed
    assert texts[1] == (
        f"Kecamatan Sangasanga: permohonan Anda {receipt} tidak dapat diterima: alamat Anda tidak sesuai dengan"
        " data domisili kelurahan. Silakan datang ke kantor untuk mengetahui langkah selanjutnya."
    )
    assert "Ditolak:" not in texts[1]
    assert len(mailbox.messages) == 2
    closed = [e for e in _fates(runtime, receipt) if e["after"]["event"] == "closed"]
    assert {e["kind"] for e in closed} == {"notification_queued", "notification_sent"}


# -- d. ready for pickup follows the card's arrival at the kecamatan ---------------------------


def test_ready_follows_the_card_arrival_not_the_printed_message(runtime, app, gateway):
    _configure(runtime, 9, gateway.port, events=["ready"])
    receipt = _start(runtime)
    code = engine.get_case(runtime, receipt, actor(runtime, "operator"))["lookup_code"]
    client = app.test_client()

    def stage():
        return client.get("/api/v1/public/status", query_string={"receipt": receipt, "code": code}).json["stage"]

    _to_printed(runtime, receipt)
    assert gateway.received == []  # printed at the regency: not at the office yet
    assert stage() == "printing"
    complete(runtime, receipt, "operator", CARD_ARRIVED, step="Task_receive_card")
    run_worker_until_quiet(runtime)
    assert stage() == "ready"
    assert len(gateway.received) == 1 and "sudah jadi" in gateway.received[0]["message"]
    complete(runtime, receipt, "operator", HANDOVER, step="Task_handover")
    assert stage() == "handed_over"


class Refusing:
    """An SMTP server that refuses the recipient, quoting the address back (as servers do)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        return f"550 5.1.1 <{address}>: Recipient address rejected"


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_refusal_that_quotes_the_address_is_shown_masked(runtime, gateway):
    from aiosmtpd.controller import Controller

    controller = Controller(Refusing(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        _configure(runtime, controller.port, gateway.port)
        receipt = _start(runtime)
        run_due(runtime)
    finally:
        controller.stop()
    (failed,) = [e for e in _fates(runtime, receipt) if e["kind"] == "notification_failed"]
    assert "550" in failed["detail"] and "w•••@example.id" in failed["detail"]
    assert EMAIL not in json.dumps(failed)
