"""The outbox after delivery: sent messages pruned once a retention period has passed.

A sent row is kept for the retention period (an administrator can still see what went
out), then deleted.  Its message id is kept in ``outbox_sent_ids``: that is all idempotency
needs on this side (a plugin queueing the same message again finds it sent), while the
receiving office keeps its own receipts (``inbox_receipts``), so a message re-sent after
the prune is still applied only once there.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update

from .models import OutboxMessage, SentMessageId

#: how long a message handed to a transport stays leased before another worker may send it
OUTBOX_LEASE = timedelta(seconds=120)

_OUTBOX = OutboxMessage.__table__
_SENT = SentMessageId.__table__


def prune_sent_messages(runtime, sent_before: datetime, *, limit: int = 1000) -> int:
    """Delete up to ``limit`` outbox rows sent before ``sent_before``, oldest first, keeping
    their message ids; the number pruned.  One transaction: a crash prunes nothing."""
    with runtime.transaction() as uow:
        conn = uow.session.connection()
        rows = conn.execute(
            select(_OUTBOX.c.id, _OUTBOX.c.message_id, _OUTBOX.c.sent_at)
            .where(_OUTBOX.c.status == "sent", _OUTBOX.c.sent_at < sent_before)
            .order_by(_OUTBOX.c.sent_at)
            .limit(max(1, int(limit)))
        ).all()
        if not rows:
            return 0
        kept = set(conn.scalars(select(_SENT.c.message_id).where(_SENT.c.message_id.in_([r.message_id for r in rows]))))
        fresh = [{"message_id": r.message_id, "sent_at": r.sent_at} for r in rows if r.message_id not in kept]
        if fresh:
            conn.execute(insert(_SENT), fresh)
        conn.execute(delete(_OUTBOX).where(_OUTBOX.c.id.in_([r.id for r in rows])))
        return len(rows)


def was_sent(runtime, message_id: str) -> bool:
    """Whether this node sent (or still holds) the message ``message_id``."""
    with runtime.read() as s:
        return (
            s.scalar(select(_OUTBOX.c.id).where(_OUTBOX.c.message_id == message_id)) is not None
            or s.scalar(select(_SENT.c.message_id).where(_SENT.c.message_id == message_id)) is not None
        )


def _message_dict(m: OutboxMessage, receipt: str | None) -> dict:
    return {
        "message_id": m.message_id,
        "case_id": m.case_id,
        "case": receipt,
        "source_office": m.source_office,
        "destination_office": m.destination_office,
        "kind": m.kind,
        "payload": m.payload,
        "status": m.status,
        "attempts": m.attempts,
        "last_error": m.last_error,
        "created_at": m.created_at,
        "next_attempt_at": m.next_attempt_at,
        "sent_at": m.sent_at,
    }


def outbox_overview(runtime, *, failing_limit: int = 50, discarded_limit: int = 20) -> dict:
    """What waits in the outbox, for a status page: the oldest pending message, the oldest
    pending per destination (``{office: created_at}``), the pending ones that failed at
    least once and the last discarded ones.  Reads pending and discarded rows only (through
    ``ix_outbox_pending``), never the sent history."""
    from .models import Case

    with runtime.read() as s:
        pending = OutboxMessage.status == "pending"

        def rows(*where, order, limit):
            found = s.execute(
                select(OutboxMessage, Case.receipt)
                .outerjoin(Case, Case.id == OutboxMessage.case_id)
                .where(*where)
                .order_by(order)
                .limit(limit)
            ).all()
            return [_message_dict(m, r) for m, r in found]

        oldest = rows(pending, order=OutboxMessage.id, limit=1)
        per_destination = dict(
            s.execute(
                select(OutboxMessage.destination_office, func.min(OutboxMessage.created_at))
                .where(pending)
                .group_by(OutboxMessage.destination_office)
            ).all()
        )
        return {
            "oldest": oldest[0] if oldest else None,
            "oldest_per_destination": per_destination,
            "failing": rows(pending, OutboxMessage.attempts > 0, order=OutboxMessage.id, limit=failing_limit),
            "discarded": rows(
                OutboxMessage.status == "discarded", order=OutboxMessage.id.desc(), limit=discarded_limit
            ),
        }


def retry_outbox_now(runtime, destination: str | None = None) -> int:
    """Make every pending message that failed before (to ``destination``, or to all) due now;
    the number woken."""
    from .models import utcnow

    now = utcnow()
    with runtime.transaction() as uow:
        stmt = update(OutboxMessage).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > now, OutboxMessage.attempts > 0
        )
        if destination:
            stmt = stmt.where(OutboxMessage.destination_office == destination)
        return uow.session.execute(
            stmt.values(next_attempt_at=now).execution_options(synchronize_session=False)
        ).rowcount


def discard_outbox_message(runtime, message_id: str, reason: str, actor_name: str) -> dict:
    """Take a pending message out of the outbox for good (the next message of its case goes
    next); the reason is written in the case's timeline (``message_discarded``)."""
    from .errors import Conflict, NotFound, ValidationFailed
    from .models import CaseEvent, utcnow

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


# -- for the coordination transport: batches, their outcome, the receiving side's receipts -----


def message_snapshot(m: OutboxMessage) -> dict:
    """An outbox message as the transport plugins receive it (``outbox_message`` hook and the
    batch leased with it): plain values, readable after the session is gone."""
    return {
        "message_id": m.message_id,
        "case_id": m.case_id,
        "source_office": m.source_office,
        "destination_office": m.destination_office,
        "kind": m.kind,
        "payload": m.payload,
        "attempts": m.attempts,
        "created_at": m.created_at.isoformat(),
    }


def lease_outbox_batch(runtime, message: dict, *, limit: int, byte_budget: int) -> list[dict]:
    """Lease up to ``limit`` other due messages going where ``message`` goes, each the oldest
    pending of its case, while their payloads fit ``byte_budget`` (JSON bytes); as the worker
    leases (rows skipped when locked, next attempt pushed a lease ahead), in one transaction."""
    import json

    from .models import utcnow

    if limit <= 0:
        return []
    now = utcnow()
    budget = byte_budget
    taken = []
    with runtime.transaction() as uow:
        s = uow.session
        first_per_case = (
            select(func.min(OutboxMessage.id)).where(OutboxMessage.status == "pending").group_by(OutboxMessage.case_id)
        )
        stmt = select(OutboxMessage).where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.destination_office == message["destination_office"],
            OutboxMessage.source_office == message["source_office"],
            OutboxMessage.message_id != message["message_id"],
            OutboxMessage.id.in_(first_per_case) | OutboxMessage.case_id.is_(None),
        )
        if message.get("case_id") is not None:
            stmt = stmt.where(or_(OutboxMessage.case_id != message["case_id"], OutboxMessage.case_id.is_(None)))
        stmt = stmt.order_by(OutboxMessage.id).limit(limit)
        for m in s.scalars(runtime.db.skip_locked(stmt)).all():
            size = len(json.dumps(m.payload, default=str))
            if size > budget:
                break
            claimed = s.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == m.id, OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
                )
                .values(next_attempt_at=now + OUTBOX_LEASE)
                .execution_options(synchronize_session=False)
            ).rowcount
            if claimed:
                budget -= size
                taken.append(message_snapshot(m))
    return taken


def defer_outbox_messages(uow, message_ids, error: str, retry_at: datetime) -> None:
    """In the caller's transaction: the pending messages ``message_ids`` failed once more
    (``error``) and wait until ``retry_at``."""
    ids = list(message_ids)
    if ids:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id.in_(ids), OutboxMessage.status == "pending")
            .values(attempts=OutboxMessage.attempts + 1, last_error=error[:1000], next_attempt_at=retry_at)
            .execution_options(synchronize_session=False)
        )


def book_outbox_delivery(uow, message_id: str, delivered: bool, error: str | None, now: datetime) -> None:
    """In the caller's transaction: a pending message was delivered (marked sent) or not
    (retried with the worker's backoff, ``error`` kept); nothing when it is no longer pending."""
    from .retry import backoff

    s = uow.session
    m = s.scalar(select(OutboxMessage).where(OutboxMessage.message_id == message_id))
    if m is None or m.status != "pending":
        return
    if delivered:
        m.status, m.sent_at, m.last_error = "sent", now, None
    else:
        m.attempts += 1
        m.last_error = (error or "")[:1000]
        m.next_attempt_at = now + backoff(uow.runtime.config.job_backoff_seconds, m.attempts)


def wake_outbox_destination(uow, destination: str, now: datetime, *, except_ids=()) -> None:
    """In the caller's transaction: every pending message to ``destination`` backing off
    after a failure (but ``except_ids``) is due at ``now``."""
    uow.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.destination_office == destination,
            OutboxMessage.attempts > 0,
            OutboxMessage.next_attempt_at > now,
            OutboxMessage.message_id.not_in(list(except_ids)),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def note_message_event(
    uow, message: dict, kind: str, detail: str, at: datetime, *, actor: str, office_code: str | None, after: dict
) -> None:
    """In the caller's transaction: an event ``kind`` about an office message (``message_id``,
    ``case_id``, ``kind``, ``payload`` of an outbox snapshot or envelope) on its case's
    timeline, named after the message; nothing for a message of no case."""
    from .models import CaseEvent

    if message.get("case_id") is None:
        return
    name = (message.get("payload") or {}).get("name") or message.get("kind")
    uow.session.add(
        CaseEvent(
            case_id=message["case_id"],
            at=at,
            actor=actor,
            office_code=office_code,
            kind=kind,
            step=name,
            step_name=name,
            detail=detail,
            after=after,
        )
    )


def inbox_receipt(runtime, message_id: str) -> dict | None:
    """The receipt of a message this node applied before (``source_office``, ``received_at``,
    ``result``), or None."""
    from .models import InboxReceipt

    with runtime.read() as s:
        seen = s.get(InboxReceipt, message_id)
        if seen is None:
            return None
        return {"source_office": seen.source_office, "received_at": seen.received_at, "result": seen.result}


def record_inbox_receipt(uow, message_id: str, source_office: str, result: dict) -> None:
    """In the caller's transaction: the message ``message_id`` from ``source_office`` is
    applied (``result`` kept); a second receipt for one id fails the transaction
    (IntegrityError), which is what makes a message apply once."""
    from .models import InboxReceipt, utcnow

    uow.session.add(
        InboxReceipt(message_id=message_id, source_office=source_office, received_at=utcnow(), result=result)
    )
    uow.session.flush()


def discard_inbox_message(
    runtime, message_id: str, source_office: str, office_code: str, correlation_key, name, reason: str, data: dict
) -> None:
    """Record, in one transaction, that the message ``message_id`` from ``source_office`` is
    discarded (its receipt, with ``reason``) and say so on the newest case of ``office_code``
    with ``correlation_key`` (``message_discarded``, ``data`` kept); IntegrityError when the id
    has a receipt already."""
    from .models import Case, CaseEvent, utcnow

    with runtime.transaction() as uow:
        s = uow.session
        record_inbox_receipt(uow, message_id, source_office, {"status": "discarded", "reason": reason})
        closed = s.scalar(
            select(Case)
            .where(Case.correlation_key == correlation_key, Case.office_code == office_code)
            .order_by(Case.id.desc())
            .limit(1)
        )
        if closed is not None:
            s.add(
                CaseEvent(
                    case_id=closed.id,
                    at=utcnow(),
                    actor=f"office:{source_office}",
                    office_code=office_code,
                    kind="message_discarded",
                    step=name,
                    step_name=name,
                    detail=f"{name} arrived after the case was {closed.status}; it was not applied",
                    after=data,
                )
            )
