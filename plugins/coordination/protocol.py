"""The wire format between two office nodes.

A request is ``POST <peer url>/coordination/inbox`` whose body is a batch of outbox
messages as JSON, compressed with zlib (``Content-Encoding: deflate``)::

    {"v": 1, "batch_id": "...", "source_office": "640205", "destination_office": "6402",
     "messages": [{"message_id", "kind", "payload", "source_office", "destination_office",
                   "created_at"}, ...]}

It is signed with the secret the two offices share: HMAC-SHA256 over the protocol tag, the
timestamp, both office codes, the path and the SHA-256 of the (compressed) body, sent as::

    X-Simpul-Source: 640205          X-Simpul-Timestamp: 1796000000
    X-Simpul-Destination: 6402       X-Simpul-Signature: v1=<hex>

The receiver checks the signature before it inflates anything, refuses a timestamp outside
the allowed clock skew and a signature it has already seen (a replay), and answers each
message with ``applied``, ``duplicate``, ``discarded`` or ``retry``.  The answer is signed
too, bound to the request's signature, so a forged "accepted" cannot make a sender drop
messages that never arrived.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import zlib

VERSION = 1
INBOX_PATH = "/coordination/inbox"
H_SOURCE = "X-Simpul-Source"
H_DESTINATION = "X-Simpul-Destination"
H_TIMESTAMP = "X-Simpul-Timestamp"
H_SIGNATURE = "X-Simpul-Signature"
H_SERVER_TIME = "X-Simpul-Server-Time"

#: what the receiver answers for each message
APPLIED, DUPLICATE, DISCARDED, RETRY = "applied", "duplicate", "discarded", "retry"
DELIVERED = frozenset({APPLIED, DUPLICATE, DISCARDED})


class ProtocolError(Exception):
    """A request or an answer that cannot be trusted or read."""


def _canonical(timestamp: str, source: str, destination: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join(("simpul-v1", timestamp, source, destination, path, digest)).encode()


def sign(secret: str, timestamp: str, source: str, destination: str, path: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), _canonical(timestamp, source, destination, path, body), hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify(secret: str, signature: str, timestamp: str, source: str, destination: str, path: str, body: bytes) -> bool:
    expected = sign(secret, timestamp, source, destination, path, body)
    return hmac.compare_digest(expected.encode(), (signature or "").encode())


def sign_answer(secret: str, request_signature: str, body: bytes) -> str:
    """The answer's signature: the request's signature and the answer's body."""
    return sign(secret, "answer", request_signature, "", "", body)


def encode(document: dict) -> bytes:
    return zlib.compress(
        json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8"), 6
    )


def decode(body: bytes, max_inflated: int) -> dict:
    """Inflate and parse a body, refusing one that inflates beyond ``max_inflated`` bytes."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(body, max_inflated)
        if inflater.unconsumed_tail:
            raise ProtocolError("the body inflates beyond the allowed size")
        raw += inflater.flush()
        document = json.loads(raw.decode("utf-8"))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"unreadable body: {exc}") from exc
    if not isinstance(document, dict):
        raise ProtocolError("the body is not a JSON object")
    return document


class ReplayGuard:
    """Signatures seen within the clock-skew window: the same request twice is refused.

    (Outside the window the timestamp check refuses it; whatever slips past both -- another
    process of the same node -- is still applied at most once, by message id.)"""

    def __init__(self):
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_time(self, signature: str, window: float) -> bool:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {s: t for s, t in self._seen.items() if t > now}
            expires = self._seen.get(signature)
            if expires is not None and expires > now:
                return False
            self._seen[signature] = now + 2 * window
            return True
