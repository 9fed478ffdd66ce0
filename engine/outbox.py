"""The outbox after delivery: sent messages pruned once a retention period has passed.

A sent row is kept for the retention period (an administrator can still see what went
out), then deleted.  Its message id is kept in ``outbox_sent_ids``: that is all idempotency
needs on this side (a plugin queueing the same message again finds it sent), while the
receiving office keeps its own receipts (``inbox_receipts``), so a message re-sent after
the prune is still applied only once there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select

from .models import OutboxMessage, SentMessageId

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
    from sqlalchemy import update

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
