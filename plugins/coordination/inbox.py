"""Receiving messages from other offices: authenticate a request, then apply each message once.

``handle_request`` is the whole inbox endpoint without the web framework (the Flask view in
``web.py`` only hands it the headers and the body), so it is the same code whether the
request comes over HTTP or from the local transport.

What a message gets as an answer, and why:

``applied``
    The case was started (or correlated to the open printing case of the same kecamatan
    case), or the waiting case took the message.
``duplicate``
    Its message id was applied before: a resend after a lost acknowledgement has no second
    effect.  The sender marks it delivered.
``discarded``
    A BPMN message for which no open case exists any more (the kecamatan case was cancelled
    or closed).  Nobody will ever wait for it, so retrying would never end.  It is recorded
    (an inbox receipt with the reason, and a ``message_discarded`` event in the timeline of
    the closed case, so a clerk sees that a card was printed for a cancelled application);
    the sender marks it delivered and notes it on its own case.
``retry``
    Not applied now, may be later: the case exists and is open but does not wait for this
    message yet (an early message is therefore never lost: it stays in the sender's outbox
    and is retried with backoff until the case waits, or closes and it is discarded), the
    process is not deployed, the resident has another open case, the data is refused, or
    the node failed.  The sender keeps it pending, with the reason shown on its status page.

Who may say what: the sending office is the one whose secret signed the request (two peers
with one secret are refused, since a signature would no longer tell them apart).  Every office
a message names must be that office (a ``start_case`` names it as the case's origin, whatever
the payload said), and a message about a case comes only from the office that case deals
with: the regency case's origin, or the office the kecamatan case was sent to.  Anything else
is refused (``retry``, so nothing is written) and logged on ``simpul.security``.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from simpul.engine import (
    Actor,
    CaseView,
    Conflict,
    NotFound,
    SimpulError,
    case_context,
    correlated_cases,
    discard_inbox_message,
    inbox_receipt,
    receive_message,
    record_inbox_receipt,
    utcnow,
)

from . import protocol as p
from .models import PeerContact
from .settings import settings_for

SUMMARY_KIND = "dashboard_summary"

log = logging.getLogger("simpul.coordination")
security_log = logging.getLogger("simpul.security")

OPEN = ("active", "incident")
#: a correlation key that is a receipt names its office: ``640205-2026-00042``
RECEIPT_KEY = re.compile(r"^(\d+)-\d{4}-\d+$")
_guards: dict[int, p.ReplayGuard] = {}


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict

    @classmethod
    def error(cls, status: int, code: str, message: str, **extra) -> Answer:
        import json

        body = json.dumps({"error": code, "message": message, **extra}).encode()
        return cls(status, body, {"Content-Type": "application/json", p.H_SERVER_TIME: f"{time.time():.3f}"})


def _guard(runtime) -> p.ReplayGuard:
    guard = _guards.get(id(runtime))
    if guard is None:
        guard = _guards[id(runtime)] = p.ReplayGuard()
    return guard


def ensure_peer_row(session, office_code: str) -> PeerContact:
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(PeerContact.__table__)
        .values(
            office_code=office_code,
            failures_in_row=0,
            clock_offset=0.0,
            messages_sent=0,
            bytes_sent=0,
            messages_received=0,
            refused=0,
        )
        .on_conflict_do_nothing()
    )
    stmt = select(PeerContact).where(PeerContact.office_code == office_code)
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


def _refuse(
    runtime, status: int, code: str, message: str, source: str | None, remote: str | None, known_peer: bool, **extra
) -> Answer:
    security_log.warning(
        "coordination inbox refused a request from %s claiming office %s: %s", remote or "?", source or "?", message
    )
    if known_peer:  # only configured peers get a row: an unknown sender cannot make us write
        try:
            with runtime.transaction() as uow:
                row = ensure_peer_row(uow.session, source)
                row.refused += 1
                row.last_refused_at = utcnow()
                row.last_refusal = message[:500]
        except Exception:  # pragma: no cover - never let bookkeeping hide the refusal
            log.exception("could not record the refusal")
    return Answer.error(status, code, message, **extra)


@dataclass
class Authenticated:
    """A request whose signature, sender, timestamp and freshness were checked."""

    peer: object
    source: str
    destination: str
    signature: str
    document: dict

    def answer(self, document: dict) -> Answer:
        body = p.encode({"v": p.VERSION, **document, "server_time": time.time()})
        return Answer(
            200,
            body,
            {
                "Content-Type": "application/json",
                "Content-Encoding": "deflate",
                p.H_SIGNATURE: p.sign_answer(self.peer.secret, self.signature, body),
                p.H_SERVER_TIME: f"{time.time():.3f}",
            },
        )


def authenticate(runtime, headers, body: bytes, path: str, remote: str | None) -> Authenticated | Answer:
    """Check a signed request from a peer office; the refusal to send back when it fails."""
    st = settings_for(runtime)
    source = headers.get(p.H_SOURCE)
    destination = headers.get(p.H_DESTINATION)
    timestamp = headers.get(p.H_TIMESTAMP)
    signature = headers.get(p.H_SIGNATURE)
    if not (source and destination and timestamp and signature):
        return _refuse(runtime, 400, "unsigned", "request without the signature headers", source, remote, False)
    peer = st.peer(source)
    if peer is None:
        return _refuse(
            runtime, 403, "unknown_office", f"office {source} is not a peer of this node", source, remote, False
        )
    if destination not in st.served_offices:
        return _refuse(
            runtime, 403, "wrong_office", f"this node does not serve office {destination}", source, remote, True
        )
    if len(body) > st.max_request_bytes:
        return _refuse(runtime, 413, "too_large", f"request of {len(body)} bytes is too large", source, remote, True)
    if _secret_shared(st, peer):
        # With one secret for two peers a signature no longer says which office sent it, and
        # one could act in the other's name: refuse both until each has its own secret.
        return _refuse(
            runtime,
            403,
            "shared_secret",
            f"office {source} shares its secret with another peer; give every peer its own secret",
            source,
            remote,
            True,
        )
    if not p.verify(peer.secret, signature, timestamp, source, destination, path, body):
        return _refuse(
            runtime, 401, "bad_signature", f"bad signature on a request from office {source}", source, remote, True
        )
    try:
        sent_at = float(timestamp)
    except ValueError:
        return _refuse(runtime, 400, "bad_timestamp", "the timestamp is not a number", source, remote, True)
    now = time.time()
    if abs(now - sent_at) > st.max_clock_skew:
        return _refuse(
            runtime,
            401,
            "stale",
            f"request timestamp {sent_at:.0f} is {now - sent_at:+.0f} s off "
            f"(allowed {st.max_clock_skew:.0f} s): an old or replayed request, or a wrong clock",
            source,
            remote,
            True,
            server_time=now,
        )
    if not _guard(runtime).first_time(signature, st.max_clock_skew):
        return _refuse(
            runtime,
            401,
            "replayed",
            f"request from office {source} was already received (replay)",
            source,
            remote,
            True,
        )
    try:
        document = p.decode(body, st.max_inflated_bytes)
    except p.ProtocolError as exc:
        return Answer.error(400, "unreadable", str(exc))
    if document.get("source_office") != source or document.get("destination_office") != destination:
        return Answer.error(400, "malformed", "the body does not match its signed headers")
    return Authenticated(peer, source, destination, signature, document)


def _secret_shared(st, peer) -> bool:
    return any(other.secret == peer.secret for code, other in st.peers.items() if code != peer.office_code)


def handle_request(runtime, headers, body: bytes, path: str = p.INBOX_PATH, remote: str | None = None) -> Answer:
    """Authenticate one inbox request and apply its messages; the answer to send back."""
    request = authenticate(runtime, headers, body, path, remote)
    if isinstance(request, Answer):
        return request
    messages = request.document.get("messages")
    if not isinstance(messages, list):
        return Answer.error(400, "malformed", "the batch has no list of messages")
    results = [apply_envelope(runtime, m, request.source, request.destination) for m in messages]
    try:
        with runtime.transaction() as uow:
            row = ensure_peer_row(uow.session, request.source)
            row.last_received_at = utcnow()
            row.messages_received += sum(1 for r in results if r["status"] in (p.APPLIED, p.DISCARDED))
    except Exception:  # pragma: no cover
        log.exception("could not record the contact with %s", request.source)
    return request.answer({"batch_id": request.document.get("batch_id"), "results": results})


# -- applying one message --------------------------------------------------------------------


def _result(message_id, status, error=None, **extra) -> dict:
    result = {"message_id": message_id, "status": status, **extra}
    if error:
        result["error"] = str(error)[:1000]
    return result


def _counterparts(data: dict) -> set:
    """The offices a case exchanges messages with: where it came from, where it was sent."""
    offices = set()
    if data.get("origin_office"):
        offices.add(str(data["origin_office"]))
    for value in data.values():
        if isinstance(value, dict) and value.get("sent_to") and value.get("message_id"):
            offices.add(str(value["sent_to"]))
    return offices


def _key_office(key) -> str | None:
    """The office a correlation key names, when the key is a receipt (``640205-2026-00042``)."""
    match = RECEIPT_KEY.match(str(key or ""))
    return match.group(1) if match else None


def _foreign(case: CaseView, sender: str) -> bool:
    """True when ``case`` deals with other offices than ``sender``: the case belongs to the
    office it came from (a regency case) or the office it was sent to (a kecamatan case),
    and a case that never dealt with any office takes no message from one."""
    return sender not in _counterparts(case.data or {})


def _impersonation(runtime, kind, payload, sender, destination) -> str | None:
    """Why a message claims to act for another office than the one that signed it, if it does.

    The sender is the office whose secret signed the request: every office named in the
    payload must be that office (or this one, as the destination), and a message about a
    case may only come from the office the case deals with."""
    key = payload.get("correlation_key")
    if key is not None and not isinstance(key, str):
        return "the correlation key must be text"
    key_office = _key_office(key)
    if kind == "start_case":
        if payload.get("office") not in (None, destination):
            return f"office {sender} may only start cases of office {destination}"
        data = payload.get("data")
        if data is not None and not isinstance(data, dict):
            return "the case data must be an object"
        if (data or {}).get("origin_office") not in (None, sender):
            return f"office {sender} may not start a case in the name of office {data['origin_office']}"
        if key_office not in (None, sender):
            return f"office {sender} may not start a case for case {key} of office {key_office}"
        for case in correlated_cases(runtime, key, destination):
            if _foreign(case, sender):
                return f"office {sender} may not start a case for case {key}, which deals with another office"
        return None
    if key_office not in (None, sender, destination):
        return f"office {sender} may not send messages about case {key} of office {key_office}"
    return None


def _seen_before(runtime, message_id, sender) -> dict | None:
    """The answer for a message id applied before: a duplicate, or refused when the id was
    another office's (a peer cannot learn or pre-empt another's messages)."""
    seen = inbox_receipt(runtime, message_id)
    if seen is None:
        return None
    if seen["source_office"] != sender:
        security_log.warning("office %s reused message id %s of office %s", sender, message_id, seen["source_office"])
        return _result(message_id, p.RETRY, f"message id {message_id} belongs to another office")
    return _result(message_id, p.DUPLICATE)


def _other_kind(runtime, message_id, kind, payload, sender, destination) -> dict:
    """A message that is no case's: a kecamatan node's figures (summaries.py), or unknown."""
    if kind == SUMMARY_KIND and isinstance(payload, dict):
        from .summaries import apply_summary

        return apply_summary(runtime, message_id, payload, sender, destination)
    return _result(message_id, p.RETRY, f"unknown message kind {kind!r}")


def apply_envelope(runtime, envelope, sender: str, destination: str) -> dict:
    """Apply one message from ``sender`` (already authenticated) to office ``destination``."""
    if not isinstance(envelope, dict):
        return _result(None, p.RETRY, "not a message object")
    message_id = envelope.get("message_id")
    kind = envelope.get("kind")
    payload = envelope.get("payload")
    if not isinstance(message_id, str) or not 0 < len(message_id) <= 36:
        return _result(None, p.RETRY, "a message needs a message_id of at most 36 characters")
    if envelope.get("source_office") != sender or envelope.get("destination_office") != destination:
        return _result(message_id, p.RETRY, f"the message's offices do not match the request from {sender}")
    if kind not in ("start_case", "message") or not isinstance(payload, dict):
        return _other_kind(runtime, message_id, kind, payload, sender, destination)
    refusal = _impersonation(runtime, kind, payload, sender, destination)
    if refusal:
        security_log.warning("message %s refused: %s", message_id, refusal)
        return _result(message_id, p.RETRY, refusal)
    key = payload.get("correlation_key")
    seen = _seen_before(runtime, message_id, sender)
    if seen:
        return seen
    if kind == "message":
        refusal = _check_counterpart(runtime, sender, destination, key)
        if refusal:
            return _result(message_id, p.RETRY, refusal)
    else:
        # The origin office is the one that signed, whatever the payload said.
        payload = {**payload, "data": {**(payload.get("data") or {}), "origin_office": sender}}
    clean = {
        "message_id": message_id,
        "kind": kind,
        "payload": payload,
        "source_office": sender,
        "destination_office": destination,
    }
    actor = Actor.system(f"office:{sender}")
    try:
        result = receive_message(runtime, clean, actor)
    except IntegrityError:
        return _duplicate_or_retry(runtime, message_id, "a concurrent copy of this message is being applied")
    except NotFound as exc:
        if kind == "message":
            return _not_waiting(runtime, message_id, sender, destination, payload, exc)
        return _result(message_id, p.RETRY, exc.render())
    except Conflict as exc:
        correlated = _correlate(runtime, message_id, sender, destination, key, exc) if kind == "start_case" else None
        return correlated or _result(message_id, p.RETRY, exc.render())
    except SimpulError as exc:
        log.warning("message %s from %s not applied: %s", message_id, sender, exc.render())
        return _result(message_id, p.RETRY, exc.render() + _field_errors(exc))
    except Exception as exc:
        log.exception("message %s from %s failed", message_id, sender)
        return _result(message_id, p.RETRY, f"{type(exc).__name__}: {exc}")
    status = p.DUPLICATE if result.get("duplicate") else p.APPLIED
    return _result(message_id, status, receipt=result.get("receipt"))


def _field_errors(exc: SimpulError) -> str:
    if isinstance(exc.errors, dict) and exc.errors:
        return (
            " ("
            + "; ".join(f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in exc.errors.items())
            + ")"
        )
    return ""


def _duplicate_or_retry(runtime, message_id, error) -> dict:
    if inbox_receipt(runtime, message_id) is not None:
        return _result(message_id, p.DUPLICATE)
    return _result(message_id, p.RETRY, error)


def _open_cases(runtime, destination, key) -> list[CaseView]:
    return correlated_cases(runtime, key, destination, open_only=True)


def _check_counterpart(runtime, sender, destination, key) -> str | None:
    """A kecamatan case takes messages only from the office it sent the case to, and a
    regency case only from its origin: a message about a case from any other peer (or
    about a case that deals with no office at all) is refused and logged."""
    cases = _open_cases(runtime, destination, key)
    if not cases or any(not _foreign(case, sender) for case in cases):
        return None
    security_log.warning(
        "office %s sent a message for case %s, which deals only with %s",
        sender,
        cases[0].receipt,
        ", ".join(sorted(_counterparts(cases[0].data or {}))) or "no other office",
    )
    return f"office {sender} may not send messages to case {cases[0].receipt}"


def _not_waiting(runtime, message_id, sender, destination, payload, exc) -> dict:
    name = payload.get("name")
    key = payload.get("correlation_key")
    open_cases = _open_cases(runtime, destination, key)
    if open_cases:
        # Early (or the case is in an incident): keep it at the sender, retried with backoff.
        return _result(
            message_id,
            p.RETRY,
            f"case {open_cases[0].receipt} is open but does not wait for message {name} now; it will be retried",
        )
    reason = f"no open case {key} of office {destination} waits for message {name}"
    for closed in correlated_cases(runtime, key, destination, newest=True):
        if _foreign(closed, sender):
            security_log.warning("office %s sent a message for closed case %s, not its own", sender, closed.receipt)
            return _result(message_id, p.RETRY, f"office {sender} may not send messages to case {closed.receipt}")
    try:
        discard_inbox_message(runtime, message_id, sender, destination, key, name, reason, payload.get("data") or {})
    except IntegrityError:
        return _duplicate_or_retry(runtime, message_id, reason)
    log.warning("discarded message %s (%s) from %s: %s", message_id, name, sender, reason)
    return _result(message_id, p.DISCARDED, reason)


def _refuse_second_print(uow, ctx, message_id: str, sender: str, key: str) -> dict:
    """Another kecamatan case asks to print a card for a NIK whose print is already open here:
    one resident, one card.  Nothing is started; the sending case hears back
    (``enrolment_problem``, ``duplicate_print``) naming the case that holds the print, since
    the kecamatan offices cannot see each other's cases."""
    case = ctx.case
    data = dict(case.data or {})
    origin = data.get("origin_office")
    notes = (
        f"Disdukcapil sudah memproses pencetakan KTP-el untuk NIK {case.nik} pada permohonan "
        f"{case.receipt}"
        + (f" (dari kantor {origin}, tanda terima {data.get('origin_receipt') or '-'})" if origin else "")
        + ". Satu penduduk, satu kartu: hubungi kantor tersebut atau ajukan penggantian bila kartu hilang."
    )
    ctx.send(
        sender,
        "message",
        {
            "name": "enrolment_problem",
            "correlation_key": key,
            "data": {
                "enrolment_result": "duplicate_print",
                "enrolment_notes": notes,
                "regency_receipt": case.receipt,
                "existing_office": origin,
                "existing_receipt": data.get("origin_receipt"),
            },
        },
    )
    record_inbox_receipt(uow, message_id, sender, {"refused": "duplicate_print", "receipt": case.receipt})
    return _result(message_id, p.APPLIED, receipt=case.receipt, refused="duplicate_print")


def _correlate(runtime, message_id, sender, destination, key, exc: Conflict) -> dict | None:
    """A second ``start_case`` for a kecamatan case whose printing case is still open: the
    open case is that case (same correlation key), so the message is applied to it."""
    receipt = (exc.errors or {}).get("case") if isinstance(exc.errors, dict) else None
    if not receipt or not key:
        return None
    try:
        with runtime.transaction() as uow:
            ctx = case_context(uow, receipt)
            if ctx is None or ctx.case.office_code != destination:
                return None
            case = ctx.case
            if case.correlation_key != key:
                return _refuse_second_print(uow, ctx, message_id, sender, key)
            if _foreign(case, sender):
                return None
            record_inbox_receipt(
                uow,
                message_id,
                sender,
                {"id": case.id, "receipt": case.receipt, "status": case.status, "correlated": True},
            )
    except IntegrityError:
        return _duplicate_or_retry(runtime, message_id, "a concurrent copy of this message is being applied")
    return _result(message_id, p.APPLIED, receipt=receipt, correlated=True)
