"""A notification's fate on the case's timeline: queued, not sent, sent (after retries), failed.

The staff see on the case page what the resident was told and whether it arrived, without the
resident's contact in full: ``0812•••••890``, ``w•••@example.id``.  Each line is an event of
the plugin's own kind, written through the engine's public paths only: ``note`` of
``case_event_recorded`` for "queued" (the same transaction as the step and the outbox
message), ``engine.record_case_event`` for what the worker learns later.  The event's
``after`` holds the line as a ``Message`` (``{"message": {"msgid", "params"}}``), which the
timeline shows in the reader's language; ``detail`` keeps the English line for the CLI and
the API.

A gateway that stays down is retried for ever (the outbox's backoff, capped at an hour);
its failures are written at the 1st, 2nd, 4th, 8th, ... attempt, so the timeline says that
it fails and why without a line per hour.
"""

from __future__ import annotations

from simpul.engine import N_, Message, record_case_event

BY = "socialization"

QUEUED, NOT_SENT, SENT, FAILED = (
    "notification_queued",
    "notification_not_sent",
    "notification_sent",
    "notification_failed",
)

#: event kind -> the timeline's label (``event_labels`` hook)
LABELS = {
    QUEUED: N_("Notification queued"),
    NOT_SENT: N_("Notification not sent"),
    SENT: N_("Notification sent"),
    FAILED: N_("Notification failed"),
}

#: the resident event -> what the message told, as the timeline says it
WHAT = {
    "received": N_("application received"),
    "documents_missing": N_("documents missing"),
    "ready": N_("card ready for pickup"),
    "closed": N_("application closed"),
}
CHANNELS = {"email": N_("e-mail"), "sms": N_("SMS")}

LINE = N_("{what}, by {channel} to {to}")
NO_CHANNEL_LINE = N_("{what}, by {channel} to {to}: no channel is configured")
RETRIED_LINE = N_("{what}, by {channel} to {to}, after {n} failed attempt")
RETRIED_LINE_PLURAL = N_("{what}, by {channel} to {to}, after {n} failed attempts")
FAILED_LINE = N_("{what}, by {channel} to {to}: attempt {attempt} failed ({error}); it is tried again later")


def mask_contact(address: str) -> str:
    """A phone number or e-mail address with enough left to recognise it, never in full."""
    address = str(address or "").strip()
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    digits = "".join(ch for ch in address if ch.isdigit() or ch == "+")
    if len(digits) <= 6:
        return "•" * len(digits)
    return f"{digits[:4]}{'•' * (len(digits) - 7)}{digits[-3:]}"


def _params(payload: dict, channel: str | None) -> dict:
    return {
        "what": Message(WHAT.get(payload.get("event"), payload.get("event") or "")),
        "channel": Message(CHANNELS.get(channel or "", channel or "")),
        "to": mask_contact(payload.get("to")),
    }


def _after(message: Message, payload: dict, **extra) -> dict:
    return {"message": message.to_dict(), "event": payload.get("event"), **extra}


def note_queued(note, payload: dict, channel: str, message_id: str | None) -> None:
    """In the step's transaction: the message is queued, or kept as not sent (no channel)."""
    if payload.get("channel") is None:
        message = Message(NO_CHANNEL_LINE, **_params(payload, channel))
        note(NOT_SENT, str(message), _after(message, payload, message_id=message_id))
    else:
        message = Message(LINE, **_params(payload, channel))
        note(QUEUED, str(message), _after(message, payload, message_id=message_id))


def record_sent(runtime, outbox: dict) -> None:
    payload, attempts = outbox["payload"], int(outbox.get("attempts") or 0)
    params = _params(payload, payload.get("channel"))
    if attempts:
        message = Message.plural(RETRIED_LINE, RETRIED_LINE_PLURAL, attempts, **params)
    else:
        message = Message(LINE, **params)
    extra = {"message_id": outbox.get("message_id"), "attempts": attempts + 1}
    after = _after(message, payload, **extra)
    record_case_event(runtime, payload["receipt"], SENT, detail=str(message), after=after, by=BY)


def should_record_failure(attempts_before: int) -> bool:
    """The 1st, 2nd, 4th, 8th, ... failed attempt is written (``attempts_before`` + 1 of them)."""
    n = attempts_before + 1
    return n & (n - 1) == 0


def record_failed(runtime, outbox: dict, error: str) -> None:
    payload, attempts = outbox["payload"], int(outbox.get("attempts") or 0)
    if not should_record_failure(attempts):
        return
    error = " ".join(str(error or "").split())
    if payload.get("to"):
        error = error.replace(str(payload["to"]), mask_contact(payload["to"]))  # an SMTP refusal quotes it
    error = error[:200] or "?"
    message = Message(FAILED_LINE, **_params(payload, payload.get("channel")), attempt=attempts + 1, error=error)
    extra = {"message_id": outbox.get("message_id"), "attempts": attempts + 1, "error": error}
    record_case_event(
        runtime, payload["receipt"], FAILED, detail=str(message), after=_after(message, payload, **extra), by=BY
    )
