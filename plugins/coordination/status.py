"""What the coordination status page and ``simpul coordination status`` show, and the two
things an administrator may do about a stuck outbox: send now, or discard a message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from simpul.engine import (
    N_,
    discard_outbox_message,
    office_names,
    outbox_overview,
    prune_sent_messages,
    retry_outbox_now,
    utcnow,
)

from .models import PeerContact, PeerSummary
from .settings import settings_for

ALERT_TEXT = N_(
    "Messages are not getting through: the oldest has waited {age} (longer than {limit}) for office {office}."
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def human_duration(seconds: float | None) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``40 s``: short and language-neutral."""
    if seconds is None:
        return ""
    seconds = int(max(0, seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def _message_row(m: dict, now) -> dict:
    payload = m["payload"] or {}
    return {
        "message_id": m["message_id"],
        "case": m["case"],
        "destination": m["destination_office"],
        "kind": m["kind"],
        "name": payload.get("name") or payload.get("process"),
        "attempts": m["attempts"],
        "last_error": m["last_error"],
        "created_at": _iso(m["created_at"]),
        "age_seconds": round((now - m["created_at"]).total_seconds(), 1),
        "next_attempt_at": _iso(m["next_attempt_at"]),
        "status": m["status"],
    }


def coordination_status(runtime) -> dict:
    """The status page's figures: per peer from the plugin's summary rows (kept by the
    writing transactions, see models.PeerSummary), the waiting messages from the engine's
    outbox overview (pending and discarded rows only, never the sent history)."""
    st = settings_for(runtime)
    now = utcnow()
    overview = outbox_overview(runtime)
    with runtime.read() as s:
        summaries = {row.office_code: row for row in s.scalars(select(PeerSummary))}
        contacts = {row.office_code: row for row in s.scalars(select(PeerContact))}
    names = office_names(runtime)
    waiting = sum(row.waiting for row in summaries.values())
    per_peer = {
        code: (row.waiting, overview["oldest_per_destination"].get(code))
        for code, row in summaries.items()
        if row.waiting
    }
    last_sent = {code: row.last_sent_at for code, row in summaries.items()}
    last_received = {code: row.last_received_at for code, row in summaries.items()}
    oldest = overview["oldest"]
    failing = overview["failing"]
    discarded = overview["discarded"]

    offices = sorted(set(st.peers) | set(per_peer) | set(contacts) | {c for c, r in summaries.items() if r.waiting})
    peers = []
    for code in offices:
        peer = st.peer(code)
        row = contacts.get(code)
        count, first = per_peer.get(code, (0, None))
        success = max(
            [t for t in (row.last_success_at if row else None, last_sent.get(code)) if t is not None], default=None
        )
        received = max(
            [t for t in (row.last_received_at if row else None, last_received.get(code)) if t is not None], default=None
        )
        sent_messages = row.messages_sent if row else 0
        peers.append(
            {
                "office": code,
                "name": names.get(code),
                "url": peer.url if peer else None,
                "route": "http" if peer else ("local" if code in st.served_offices or not st.peers else "none"),
                "waiting": count,
                "oldest_waiting_since": _iso(first),
                "last_success_at": _iso(success),
                "last_received_at": _iso(received),
                "last_contact_at": _iso(max([t for t in (success, received) if t is not None], default=None)),
                "last_failure_at": _iso(row.last_failure_at) if row else None,
                "last_error": row.last_error if row else None,
                "failures_in_row": row.failures_in_row if row else 0,
                "next_try_at": _iso(row.retry_at) if row and row.failures_in_row else None,
                "messages_sent": sent_messages,
                "bytes_sent": row.bytes_sent if row else 0,
                "bytes_per_message": round(row.bytes_sent / sent_messages) if row and sent_messages else None,
                "messages_received": row.messages_received if row else 0,
                "refused_requests": row.refused if row else 0,
                "last_refused_at": _iso(row.last_refused_at) if row else None,
                "last_refusal": row.last_refusal if row else None,
                "clock_offset_seconds": round(row.clock_offset, 1) if row and row.clock_offset else 0.0,
            }
        )

    oldest_row = _message_row(oldest, now) if oldest else None
    limit = st.alert_after.total_seconds()
    raised = bool(oldest_row and oldest_row["age_seconds"] > limit)
    alert = {
        "raised": raised,
        "after_seconds": limit,
        "after": human_duration(limit),
        "text": ALERT_TEXT if raised else None,
        "params": (
            {
                "age": human_duration(oldest_row["age_seconds"]),
                "limit": human_duration(limit),
                "office": oldest_row["destination"],
            }
            if raised
            else {}
        ),
    }
    return {
        "office": st.office_code,
        "office_kind": runtime.config.office_kind,
        "generated_at": now.isoformat(),
        "waiting": waiting,
        "oldest": oldest_row,
        "alert": alert,
        "peers": peers,
        "failures": [_message_row(m, now) for m in failing],
        "discarded": [_message_row(m, now) for m in discarded],
    }


def send_now(runtime, office: str | None = None) -> int:
    """Make every waiting message (to ``office``, or to all) due now; the number woken."""
    count = retry_outbox_now(runtime, office)
    with runtime.transaction() as uow:
        rows = uow.session.scalars(
            select(PeerContact).where(PeerContact.office_code == office) if office else select(PeerContact)
        )
        for row in rows:
            row.retry_at = None
    return count


def discard_message(runtime, message_id: str, reason: str, actor_name: str) -> dict:
    """Take a waiting message out of the outbox for good (the next message of its case goes
    next); the reason is written in the case's timeline."""
    return discard_outbox_message(runtime, message_id, reason, actor_name)


def prune_sent(runtime, *, limit: int = 1000) -> int:
    """Sent messages older than the ``sent_retention`` setting deleted (their ids kept, see
    simpul.engine.prune_sent_messages); the number pruned."""
    st = settings_for(runtime)
    return prune_sent_messages(runtime, utcnow() - st.sent_retention, limit=limit)
