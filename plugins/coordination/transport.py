"""Moving outbox messages to their destination office.

Routes, in order:

1. the destination is a configured peer (``coordination.peers`` / ``SIMPUL_PEERS``): signed,
   compressed HTTP batches to its inbox endpoint;
2. the destination is served by this node (its own office, ``coordination.local_offices``,
   or -- on a node with no peers at all, like the embedded demo where the kecamatan and the
   regency share one PC -- any office in this database): applied directly;
3. otherwise ``None``: not ours (the worker retries it with backoff as "no route").

Batching.  The engine's worker hands over one message at a time.  Over a weak link a round
trip per message is too slow (300 ms x 500 cases), so the message the worker gives us takes
along every other message that is due for the same peer and is the oldest pending of its
case (so per-case order holds), up to ``batch_size`` messages and ``batch_bytes`` of JSON.
Those companions are leased exactly as the worker leases (their next attempt pushed a lease
ahead, so no other worker takes them), and their outcome is written here, as the worker
would: delivered ones are marked sent, refused ones retried with the same backoff.  A crash
in between only means a resend after the lease, which the receiver answers ``duplicate``.

Link failures.  When a batch cannot be delivered (no connection, timeout, refusal) the peer
gets a link-level backoff (``retry_base_seconds`` doubling up to ``retry_max_seconds``, with
jitter) and all the batch's companions wait for that same moment, so the next try is one
batch again.  The first batch the peer accepts after failures wakes every message to it that
was backing off, so a returning link drains the whole backlog at once.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
import threading
import time
from datetime import timedelta
from urllib.parse import urlsplit
from uuid import uuid4

from simpul.engine import (
    book_outbox_delivery,
    defer_outbox_messages,
    lease_outbox_batch,
    note_message_event,
    office_exists,
    prune_sent_messages,
    utcnow,
    wake_outbox_destination,
)

from . import protocol as p
from .inbox import apply_envelope, ensure_peer_row
from .settings import settings_for

log = logging.getLogger("simpul.coordination")


class DeliveryFailed(Exception):
    """Raised to the worker: the message stays pending, this text is its ``last_error``;
    ``retry_at`` (when set) is its next attempt -- the peer's link-level retry."""

    def __init__(self, message: str, retry_at=None):
        super().__init__(message)
        self.retry_at = retry_at


class LinkDown(Exception):
    """The batch as a whole did not get through (connection, timeout, refusal, bad answer)."""


#: sent rows pruned at most per delivery (the rest at the next ones, or ``coordination prune``).
PRUNE_PER_DELIVERY = 200


def deliver(runtime, message: dict):
    st = settings_for(runtime)
    destination = message["destination_office"]
    peer = st.peer(destination)
    if peer is not None:
        delivered = _deliver_remote(runtime, st, peer, message)
    elif destination in st.served_offices or (not st.peers and office_exists(runtime, destination)):
        delivered = _deliver_locally(runtime, message)
    else:
        return None  # not ours to deliver
    # acknowledged rows past their retention go, a few at a time, as new ones are sent
    prune_sent_messages(runtime, utcnow() - st.sent_retention, limit=PRUNE_PER_DELIVERY)
    return delivered


def envelope(message: dict) -> dict:
    return {
        k: message.get(k)
        for k in ("message_id", "kind", "payload", "source_office", "destination_office", "created_at")
    }


def _deliver_locally(runtime, message):
    result = apply_envelope(runtime, envelope(message), message["source_office"], message["destination_office"])
    if result["status"] in p.DELIVERED:
        if result["status"] == p.DISCARDED:
            with runtime.transaction() as uow:
                _note_discarded(uow, message, result, utcnow())
        return True
    raise DeliveryFailed(result.get("error") or "not applied")


# -- remote ----------------------------------------------------------------------------------


def _deliver_remote(runtime, st, peer, message):
    companions = _lease_companions(runtime, st, message)
    batch = [message, *companions]
    try:
        results, sent_bytes = exchange(runtime, st, peer, message["source_office"], batch)
    except LinkDown as exc:
        error = f"office {peer.office_code} not reached: {exc}"
        retry_at = _record_link_failure(runtime, st, peer.office_code, companions, error)
        log.info("%s (%d message(s) wait)", error, len(batch))
        raise DeliveryFailed(error, retry_at) from None
    _record_answers(runtime, peer.office_code, message, companions, results, sent_bytes)
    mine = results.get(message["message_id"]) or {"status": p.RETRY, "error": "no answer for this message"}
    if mine["status"] in p.DELIVERED:
        return True
    raise DeliveryFailed(f"office {peer.office_code}: {mine.get('error') or 'not applied'}")


def _lease_companions(runtime, st, message) -> list[dict]:
    """Lease other due messages for the same peer: each the oldest pending of its case."""
    if st.batch_size <= 1:
        return []
    budget = st.batch_bytes - len(json.dumps(message.get("payload"), default=str))
    return lease_outbox_batch(runtime, message, limit=st.batch_size - 1, byte_budget=budget)


def _record_link_failure(runtime, st, office, companions, error):
    now = utcnow()
    with runtime.transaction() as uow:
        s = uow.session
        row = ensure_peer_row(s, office)
        row.failures_in_row += 1
        row.last_failure_at, row.last_error = now, error[:1000]
        ceiling = st.retry_base_seconds * (2 ** min(row.failures_in_row - 1, 32))
        row.retry_at = now + timedelta(seconds=min(ceiling, st.retry_max_seconds) * (0.5 + random.random() / 2))
        defer_outbox_messages(uow, [c["message_id"] for c in companions], error, row.retry_at)
        return row.retry_at


def _record_answers(runtime, office, message, companions, results, sent_bytes):
    now = utcnow()
    delivered = 0
    with runtime.transaction() as uow:
        s = uow.session
        row = ensure_peer_row(s, office)
        was_down = row.failures_in_row > 0
        row.last_success_at, row.failures_in_row, row.retry_at = now, 0, None
        for snap in (message, *companions):
            result = results.get(snap["message_id"]) or {"status": p.RETRY, "error": "no answer for this message"}
            if result["status"] in p.DELIVERED:
                delivered += 1
            if result["status"] == p.DISCARDED:
                _note_discarded(uow, snap, result, now)
            if snap is message:
                continue  # the worker books its own message
            error = f"office {office}: {result.get('error') or 'not applied'}"
            book_outbox_delivery(uow, snap["message_id"], result["status"] in p.DELIVERED, error, now)
        row.messages_sent += delivered
        row.bytes_sent += sent_bytes
        if was_down:  # the link is back: whatever was backing off goes now
            batch_ids = [message["message_id"], *(c["message_id"] for c in companions)]
            wake_outbox_destination(uow, office, now, except_ids=batch_ids)


def _note_discarded(uow, snap, result, now):
    """The receiver could not apply the message and never will: say so on the sending case."""
    note_message_event(
        uow,
        snap,
        "message_undeliverable",
        f"office {snap['destination_office']}: {result.get('error')}",
        now,
        actor="coordination",
        office_code=snap.get("source_office"),
        after={"message_id": snap["message_id"]},
    )


# -- HTTP --------------------------------------------------------------------------------------

_local = threading.local()


class _StaleConnection(Exception):
    pass


def _connection(st, url: str, fresh: bool):
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(url)
    if conn is not None and fresh:
        conn.close()
        conn = None
    if conn is None:
        parts = urlsplit(url)
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.hostname, parts.port or 443, timeout=st.connect_timeout, context=ssl.create_default_context()
            )
        elif parts.scheme == "http":
            conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=st.connect_timeout)
        else:
            raise LinkDown(f"unsupported peer URL {url!r}")
        conns[url] = conn
    return conn


def _drop(url):
    conn = getattr(_local, "conns", {}).pop(url, None)
    if conn is not None:
        conn.close()


def _post(st, url, path, body, headers):
    conn = _connection(st, url, fresh=False)
    reused = conn.sock is not None
    try:
        if conn.sock is None:
            conn.connect()
            conn.sock.settimeout(st.read_timeout)
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
    except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
        _drop(url)
        if reused:  # a keep-alive connection the peer had closed: once more on a new one
            raise _StaleConnection() from exc
        raise LinkDown(_describe(exc)) from None
    except (OSError, http.client.HTTPException) as exc:
        _drop(url)
        raise LinkDown(_describe(exc)) from None
    if response.will_close:
        _drop(url)
    return response.status, response.headers, data


def _describe(exc) -> str:
    """A line an office clerk or administrator can act on."""
    import socket

    if isinstance(exc, TimeoutError) or "timed out" in str(exc):
        return "no answer in time (timeout)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the other node running?)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the connection was closed without an answer"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "the connection was cut"
    if isinstance(exc, socket.gaierror):
        return f"address not found ({exc.strerror})"
    if isinstance(exc, ssl.SSLError):
        return f"secure connection failed ({exc.reason or exc})"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _clock_offset(runtime, office) -> float:
    from .models import PeerContact

    with runtime.read() as s:
        row = s.get(PeerContact, office)
        return float(row.clock_offset or 0.0) if row is not None else 0.0


def _save_clock_offset(runtime, office, offset):
    with runtime.transaction() as uow:
        ensure_peer_row(uow.session, office).clock_offset = offset


def exchange(runtime, st, peer, source: str, batch: list[dict]) -> tuple[dict, int]:
    """Send one signed batch; the answers by message id, and the bytes sent."""
    answer, sent = signed_request(
        runtime, st, peer, source, p.INBOX_PATH, {"batch_id": uuid4().hex, "messages": [envelope(m) for m in batch]}
    )
    results = {r.get("message_id"): r for r in answer.get("results") or [] if isinstance(r, dict)}
    return results, sent


def signed_request(runtime, st, peer, source: str, endpoint: str, document: dict) -> tuple[dict, int]:
    """POST a signed, compressed document to a peer's ``endpoint``; its verified answer and
    the bytes sent.  Raises LinkDown when the peer is not reached or refuses."""
    path = urlsplit(peer.url).path.rstrip("/") + endpoint
    body = p.encode({"v": p.VERSION, "source_office": source, "destination_office": peer.office_code, **document})
    offset = _clock_offset(runtime, peer.office_code)
    sent, corrected = 0, False
    for _attempt in range(3):
        timestamp = f"{time.time() + offset:.3f}"
        signature = p.sign(peer.secret, timestamp, source, peer.office_code, path, body)
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "deflate",
            p.H_SOURCE: source,
            p.H_DESTINATION: peer.office_code,
            p.H_TIMESTAMP: timestamp,
            p.H_SIGNATURE: signature,
        }
        try:
            status, answer_headers, data = _post(st, peer.url, path, body, headers)
        except _StaleConnection:
            continue
        sent += len(body)
        if status == 200:
            if not p.verify(peer.secret, answer_headers.get(p.H_SIGNATURE, ""), "answer", signature, "", "", data):
                raise LinkDown("the answer is not signed with our shared secret")
            try:
                return p.decode(data, st.max_inflated_bytes), sent
            except p.ProtocolError as exc:
                raise LinkDown(f"unreadable answer: {exc}") from None
        try:
            info = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            info = {"message": data[:200].decode("utf-8", "replace")}
        if status == 401 and info.get("error") == "stale" and info.get("server_time") and not corrected:
            corrected = True
            offset = float(info["server_time"]) - time.time()
            _save_clock_offset(runtime, peer.office_code, offset)
            log.warning("office %s's clock differs from ours by %+.0f s; correcting", peer.office_code, offset)
            continue
        raise LinkDown(f"refused (HTTP {status} {info.get('error') or ''}): {info.get('message') or ''}".strip())
    raise LinkDown("the connection kept closing")
