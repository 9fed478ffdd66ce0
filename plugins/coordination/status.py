"""What the coordination status page and ``simpul coordination status`` show, and the two
things an administrator may do about a stuck outbox: send now, or discard a message."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from simpul.engine import N_, Conflict, NotFound, ValidationFailed
from simpul.engine.models import Case, CaseEvent, InboxReceipt, Office, OutboxMessage, utcnow

from .models import PeerContact
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


def _message_row(m: OutboxMessage, receipt: str | None, now) -> dict:
    payload = m.payload or {}
    return {
        "message_id": m.message_id,
        "case": receipt,
        "destination": m.destination_office,
        "kind": m.kind,
        "name": payload.get("name") or payload.get("process"),
        "attempts": m.attempts,
        "last_error": m.last_error,
        "created_at": _iso(m.created_at),
        "age_seconds": round((now - m.created_at).total_seconds(), 1),
        "next_attempt_at": _iso(m.next_attempt_at),
        "status": m.status,
    }


def coordination_status(runtime) -> dict:
    st = settings_for(runtime)
    now = utcnow()
    with runtime.read() as s:
        pending = OutboxMessage.status == "pending"
        waiting = s.scalar(select(func.count()).select_from(OutboxMessage).where(pending)) or 0
        oldest = s.execute(
            select(OutboxMessage, Case.receipt)
            .outerjoin(Case, Case.id == OutboxMessage.case_id)
            .where(pending)
            .order_by(OutboxMessage.id)
            .limit(1)
        ).first()
        per_peer = {
            d: (n, first)
            for d, n, first in s.execute(
                select(OutboxMessage.destination_office, func.count(), func.min(OutboxMessage.created_at))
                .where(pending)
                .group_by(OutboxMessage.destination_office)
            )
        }
        last_sent = dict(
            s.execute(
                select(OutboxMessage.destination_office, func.max(OutboxMessage.sent_at))
                .where(OutboxMessage.status == "sent")
                .group_by(OutboxMessage.destination_office)
            ).all()
        )
        last_received = dict(
            s.execute(
                select(InboxReceipt.source_office, func.max(InboxReceipt.received_at)).group_by(
                    InboxReceipt.source_office
                )
            ).all()
        )
        contacts = {row.office_code: row for row in s.scalars(select(PeerContact))}
        names = {o.code: o.name for o in s.scalars(select(Office))}
        failing = s.execute(
            select(OutboxMessage, Case.receipt)
            .outerjoin(Case, Case.id == OutboxMessage.case_id)
            .where(pending, OutboxMessage.attempts > 0)
            .order_by(OutboxMessage.id)
            .limit(50)
        ).all()
        discarded = s.execute(
            select(OutboxMessage, Case.receipt)
            .outerjoin(Case, Case.id == OutboxMessage.case_id)
            .where(OutboxMessage.status == "discarded")
            .order_by(OutboxMessage.id.desc())
            .limit(20)
        ).all()

    offices = sorted(set(st.peers) | set(per_peer) | set(contacts))
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

    oldest_row = _message_row(oldest[0], oldest[1], now) if oldest else None
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
        "failures": [_message_row(m, r, now) for m, r in failing],
        "discarded": [_message_row(m, r, now) for m, r in discarded],
    }


def send_now(runtime, office: str | None = None) -> int:
    """Make every waiting message (to ``office``, or to all) due now; the number woken."""
    now = utcnow()
    with runtime.transaction() as uow:
        stmt = update(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now, OutboxMessage.attempts > 0
        )
        if office:
            stmt = stmt.where(OutboxMessage.destination_office == office)
        count = uow.session.execute(
            stmt.values(next_attempt_at=now).execution_options(synchronize_session=False)
        ).rowcount
        rows = uow.session.scalars(
            select(PeerContact).where(PeerContact.office_code == office) if office else select(PeerContact)
        )
        for row in rows:
            row.retry_at = None
        return count


def discard_message(runtime, message_id: str, reason: str, actor_name: str) -> dict:
    """Take a waiting message out of the outbox for good (the next message of its case goes
    next); the reason is written in the case's timeline."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "A reason is required to discard a message.", errors={"reason": ["This field is required."]}
        )
    with runtime.transaction() as uow:
        s = uow.session
        m = s.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
        if m is None:
            raise NotFound("Message {id} not found.", id=message_id)
        if m.status != "pending":
            raise Conflict("Message {id} is already {status}.", id=message_id, status=m.status)
        m.status, m.last_error = "discarded", f"discarded by {actor_name}: {reason}"
        name = (m.payload or {}).get("name") or m.kind
        if m.case_id is not None:
            s.add(
                CaseEvent(
                    case_id=m.case_id,
                    at=utcnow(),
                    actor=actor_name,
                    office_code=m.source_office,
                    kind="message_discarded",
                    step=name,
                    step_name=name,
                    detail=reason,
                    after={"message_id": m.message_id, "destination": m.destination_office},
                )
            )
        return {"message_id": m.message_id, "status": m.status, "destination": m.destination_office}
