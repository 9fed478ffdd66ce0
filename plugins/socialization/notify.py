"""Telling a resident who agreed at the counter, by e-mail or SMS/WhatsApp, when the
application is received, when documents are missing, when the card is ready and when the
case is closed.

**Queued with the event.**  The ``case_event_recorded`` hook runs inside the transaction that
records the event; the message goes into the outbox there, so it exists exactly when the
event does.  The worker sends it (``deliver_outbox_message``) with the outbox's retries and
backoff; the message id is derived from the case, the event and the channel, so queueing
twice is one message.  A worker killed after the gateway accepted a message but before it
marked it sent sends it once more on restart (at most once more: the lease is taken before
sending).

**Settings** (declared through ``plugin_settings``, namespace ``notifications``; set in
``SIMPUL_SETTINGS`` under that key or by the environment variables in ``ENVIRONMENT``; see
docs/residents.md): the SMTP server as ``smtp_url`` (``smtp://host:port``,
``smtp://user:pass@host:port?starttls=1`` or ``smtps://user:pass@host:port``) or as
``smtp_host``/``smtp_port``/``smtp_security`` (``none``, ``starttls``, ``ssl``)/``smtp_user``/
``smtp_password``, the sender ``mail_from``; the SMS/WhatsApp gateway ``sms_webhook_url``
(a JSON POST ``{"to", "message", "id"}``, or a form POST with ``sms_webhook_format:
"form"``) with ``sms_webhook_token`` sent as ``Authorization: Bearer``.  ``events`` lists
which of ``received``, ``documents_missing``, ``ready``, ``closed`` notify (all four by
default).  A resident's contact for a channel that is not configured is queued as ``not
sent: no channel`` (the message is kept, visible in the outbox, and marked done without
sending).

**On the timeline** (``notify_events``): queued, not sent, sent (after how many failed
attempts), failed and why -- the contact masked.

**Ready** means the card batch reached the kecamatan (the card-arrival step
``Task_receive_card``), not the regency's "card printed" message: the resident is told to
come only when the card is at the office.  **Closed** includes a rejection (an end event with
outcome ``rejected``), with the reason in plain words (``status.plain_reason``).

A regency adds its own SMS provider by implementing ``deliver_outbox_message`` for messages of
kind ``resident_notification`` with ``tryfirst=True`` (see docs/residents.md).
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import urllib.parse
import urllib.request
from email.message import EmailMessage

from simpul.engine import N_

from .lookup import lookup_code

log = logging.getLogger("simpul.socialization")

KIND = "resident_notification"
DESTINATION = "resident"
EVENTS = ("received", "documents_missing", "ready", "closed")
NO_CHANNEL = "not sent: no channel"
NAMESPACE = "notifications"
DEFAULTS = {
    "smtp_url": "",
    "smtp_host": "",
    "smtp_port": 0,
    "smtp_security": "none",
    "smtp_user": "",
    "smtp_password": "",
    "mail_from": "",
    "sms_webhook_url": "",
    "sms_webhook_token": "",
    "sms_webhook_format": "json",
    "events": list(EVENTS),
}
ENVIRONMENT = {
    "smtp_url": "SIMPUL_SMTP_URL",
    "smtp_host": "SIMPUL_SMTP_HOST",
    "smtp_port": "SIMPUL_SMTP_PORT",
    "smtp_security": "SIMPUL_SMTP_SECURITY",
    "smtp_user": "SIMPUL_SMTP_USER",
    "smtp_password": "SIMPUL_SMTP_PASSWORD",
    "mail_from": "SIMPUL_MAIL_FROM",
    "sms_webhook_url": "SIMPUL_SMS_WEBHOOK_URL",
    "sms_webhook_token": "SIMPUL_SMS_WEBHOOK_TOKEN",
    "events": "SIMPUL_NOTIFY_EVENTS",
}

TEXTS = {
    "received": N_("{office}: your application {receipt} was received. Lookup code {code}. Follow it at {url}"),
    "documents_missing": N_(
        "{office}: documents are missing for application {receipt}. Please bring them to the office. Details: {url}"
    ),
    "ready": N_("{office}: your e-KTP ({receipt}) is ready. Pick it up at the kecamatan office with your receipt."),
    "closed": N_("{office}: your application {receipt} is closed: {reason}"),
    "rejected": N_(
        "{office}: your application {receipt} was not accepted: {reason}."
        " Please come to the office to hear what you can do."
    ),
}
SUBJECT = N_("Your e-KTP application {receipt}")


def declaration() -> dict:
    """The ``plugin_settings`` declaration of the notifications."""
    return {"namespace": NAMESPACE, "defaults": DEFAULTS, "environment": ENVIRONMENT}


def settings(runtime) -> dict:
    """The node's notification settings (``runtime.plugin_settings``), the SMTP server as one
    ``smtp_url`` whichever way it was given."""
    options = runtime.plugin_settings(NAMESPACE)
    if not options.get("smtp_url") and options.get("smtp_host"):
        security = str(options.get("smtp_security") or "none").lower()
        scheme = "smtps" if security == "ssl" else "smtp"
        user = urllib.parse.quote(str(options.get("smtp_user") or ""), safe="")
        password = urllib.parse.quote(str(options.get("smtp_password") or ""), safe="")
        auth = f"{user}:{password}@" if user else ""
        port = f":{int(options['smtp_port'])}" if options.get("smtp_port") else ""
        query = "?starttls=1" if security == "starttls" else ""
        options["smtp_url"] = f"{scheme}://{auth}{options['smtp_host']}{port}{query}"
    if not isinstance(options.get("events"), list):
        options["events"] = list(EVENTS)
    return options


def resident_event(event: dict, case) -> str | None:
    """Which of the four resident events an engine event is, if any."""
    kind, step, after = event.get("kind"), event.get("step"), event.get("after") or {}
    if kind == "case_started":
        return "received"
    if kind in ENDING_KINDS and case.status == "completed" and getattr(case, "outcome", None) == "rejected":
        return "closed"  # the step ended the case at a rejection
    if kind == "task_completed" and step == "Task_document_check" and after.get("documents_complete") is False:
        return "documents_missing"
    if kind == "task_completed" and step == CARD_ARRIVAL_STEP:
        return "ready"
    if kind == "case_cancelled" or (kind == "task_completed" and step == "Task_handover"):
        return "closed"
    if kind == "timer_fired" and case.status in ("completed", "cancelled"):
        return "closed"
    return None


#: the events of a step that can end a case
ENDING_KINDS = ("task_completed", "service_completed", "message_received", "timer_fired")
#: the card batch reached the kecamatan: the card is ready for pickup
CARD_ARRIVAL_STEP = "Task_receive_card"


def _status_url(runtime, receipt: str) -> str:
    base = (runtime.setting("public_url") or "http://127.0.0.1:5000").rstrip("/")
    query = urllib.parse.urlencode({"receipt": receipt, "code": lookup_code(runtime.config, receipt)})
    return f"{base}/cek?{query}"


def queue_notifications(runtime, event: dict, case, queue, note=None) -> None:
    """The ``case_event_recorded`` hook's work: one message per contact the resident gave."""
    which = resident_event(event, case)
    if which is None:  # most steps: no need for the settings (a fresh copy on every call)
        return
    options = settings(runtime)
    if which not in (options.get("events") or EVENTS):
        return
    from .public import PROCEDURES, Words

    data = {**(case.data or {}), **((event.get("after") or {}) if event.get("kind") == "case_started" else {})}
    # the resident's own application only: not the regency's printing case that carries its data
    if not data.get("notify_consent") or case.process_key not in PROCEDURES or data.get("origin_receipt"):
        return

    from .status import plain_reason

    words = Words("id", runtime)
    reason, template = event.get("detail") or "", TEXTS[which]
    if which == "closed" and event.get("step") == "Task_handover":
        reason = words(N_("the card was handed over"))
    elif which == "closed" and getattr(case, "outcome", None) == "rejected":
        reason, template = plain_reason(case.end_reason), TEXTS["rejected"]
        reason = words(reason) if reason else ""
    text = words(template).format(
        office=runtime.config.office_name,
        receipt=case.receipt,
        code=lookup_code(runtime.config, case.receipt),
        url=_status_url(runtime, case.receipt),
        reason=reason,
    )
    contacts = (("email", data.get("email"), "smtp_url"), ("sms", data.get("phone"), "sms_webhook_url"))
    for channel, address, setting in contacts:
        if not address:
            continue
        payload = {
            "receipt": case.receipt,
            "event": which,
            "channel": channel if options.get(setting) else None,
            "to": address,
            "subject": words(SUBJECT).format(receipt=case.receipt),
            "text": text,
        }
        if payload["channel"] is None:
            payload["note"] = NO_CHANNEL
        message_id = queue(DESTINATION, KIND, payload, f"{case.receipt}:{which}:{event.get('at')}:{channel}")
        if note is not None:
            from .notify_events import note_queued

            note_queued(note, payload, channel, message_id)


def deliver(runtime, message: dict) -> bool | None:
    """Send one queued notification; ``None`` for any other outbox message."""
    if message.get("kind") != KIND:
        return None
    payload = message["payload"]
    if payload.get("channel") is None:
        log.info("%s %s to %s: %s", payload.get("receipt"), payload.get("event"), payload.get("to"), NO_CHANNEL)
        return True
    from .notify_events import record_failed, record_sent

    options = settings(runtime)
    try:
        if payload["channel"] == "email":
            send_mail(options, payload, message["message_id"])
        else:
            send_sms(options, payload, message["message_id"])
    except Exception as exc:
        _on_timeline(record_failed, runtime, message, str(exc) or type(exc).__name__)
        raise
    _on_timeline(record_sent, runtime, message)
    return True


def _on_timeline(record, runtime, message, *args) -> None:
    """Write the fate on the timeline; a case gone (or a database hiccup) never turns a message
    the resident got into one sent again."""
    try:
        record(runtime, message, *args)
    except Exception:
        log.exception("could not note notification %s on the timeline", message.get("message_id"))


def send_mail(options: dict, payload: dict, message_id: str) -> None:
    url = urllib.parse.urlsplit(options["smtp_url"])
    mail = EmailMessage()
    mail["From"] = options.get("mail_from") or "simpul@localhost"
    mail["To"] = payload["to"]
    mail["Subject"] = payload["subject"]
    mail["Message-ID"] = f"<{message_id}@simpul>"  # the same id on a resend: a mail client can tell
    mail.set_content(payload["text"])
    port = url.port or (465 if url.scheme == "smtps" else 25)
    context = ssl.create_default_context()
    if url.scheme == "smtps":
        client = smtplib.SMTP_SSL(url.hostname, port, timeout=20, context=context)
    else:
        client = smtplib.SMTP(url.hostname, port, timeout=20)
    with client:
        if url.scheme == "smtp" and urllib.parse.parse_qs(url.query).get("starttls", ["0"])[0] in ("1", "true"):
            client.starttls(context=context)
        if url.username:
            client.login(urllib.parse.unquote(url.username), urllib.parse.unquote(url.password or ""))
        client.send_message(mail)


def send_sms(options: dict, payload: dict, message_id: str) -> None:
    body = {"to": payload["to"], "message": payload["text"], "id": message_id}
    if options.get("sms_webhook_format") == "form":
        data, content_type = urllib.parse.urlencode(body).encode(), "application/x-www-form-urlencoded"
    else:
        data, content_type = json.dumps(body).encode(), "application/json"
    headers = {"Content-Type": content_type}
    if options.get("sms_webhook_token"):
        headers["Authorization"] = f"Bearer {options['sms_webhook_token']}"
    request = urllib.request.Request(options["sms_webhook_url"], data=data, method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=20) as response:  # noqa: S310 (an operator-configured URL)
        if not 200 <= response.status < 300:
            raise RuntimeError(f"SMS gateway answered {response.status}")
