"""The engine's outbox worker as the coordination plugin relies on it: order per case while a
message fails, retries without limit, and no arithmetic overflow after a very long outage."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from sqlalchemy import select

from simpul.engine import hookimpl
from simpul.engine.models import OutboxMessage, utcnow
from simpul.engine.worker import dispatch_outbox
from tests.flows import start_new_card

FAR = "9999"  # an office only the fake link below delivers to


class FlakyLink:
    """A transport for office 9999 that refuses the messages listed in ``refuse``."""

    def __init__(self):
        self.refuse: set = set()
        self.tried: list = []
        self.delivered: list = []

    @hookimpl
    def deliver_outbox_message(self, runtime, message):
        if message["destination_office"] != FAR:
            return None
        label = message["payload"]["label"]
        self.tried.append(label)
        if label in self.refuse:
            return False
        self.delivered.append(label)
        return True


def _queue(rt, case_id, *labels):
    with rt.transaction() as uow:
        for label in labels:
            uow.session.add(
                OutboxMessage(
                    message_id=str(uuid4()),
                    case_id=case_id,
                    source_office="640205",
                    destination_office=FAR,
                    kind="message",
                    payload={"name": "note", "correlation_key": "x", "label": label},
                )
            )


def _make_due(rt):
    with rt.transaction() as uow:
        for m in uow.session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending")):
            m.next_attempt_at = utcnow() - timedelta(seconds=1)


def test_messages_of_a_case_never_overtake_one_that_keeps_failing(runtime):
    link = FlakyLink()
    runtime.pm.register(link)
    case_a = start_new_card(runtime, 1)["id"]
    case_b = start_new_card(runtime, 2)["id"]
    _queue(runtime, case_a, "a1", "a2", "a3")
    _queue(runtime, case_b, "b1")
    link.refuse = {"a1"}
    for _ in range(5):
        dispatch_outbox(runtime)
        _make_due(runtime)
    # a1 was tried (and refused) again and again; a2 and a3 waited; the other case went on.
    assert link.tried.count("a1") == 5 and "a2" not in link.tried and "a3" not in link.tried
    assert link.delivered == ["b1"]
    with runtime.read() as s:
        a1 = s.scalar(select(OutboxMessage).where(OutboxMessage.payload["label"].as_string() == "a1"))
        assert a1.status == "pending" and a1.attempts == 5 and a1.last_error

    link.refuse = set()
    for _ in range(5):
        dispatch_outbox(runtime)
        _make_due(runtime)
    assert link.delivered == ["b1", "a1", "a2", "a3"]


def test_a_message_is_retried_without_limit_even_after_thousands_of_attempts(runtime):
    link = FlakyLink()
    runtime.pm.register(link)
    case = start_new_card(runtime, 1)["id"]
    _queue(runtime, case, "old")
    with runtime.transaction() as uow:
        message = uow.session.scalar(select(OutboxMessage))
        message.attempts = 5000  # a month-long outage
    link.refuse = {"old"}
    assert dispatch_outbox(runtime) == (0, 1)
    with runtime.read() as s:
        message = s.scalar(select(OutboxMessage))
        assert message.status == "pending" and message.attempts == 5001
        wait = message.next_attempt_at - utcnow()
        assert timedelta(minutes=29) < wait <= timedelta(hours=1)  # backoff capped, not crashed
    link.refuse = set()
    _make_due(runtime)
    assert dispatch_outbox(runtime) == (1, 0)


def test_a_companion_the_receiver_did_not_apply_keeps_its_reason_for_the_status_page(runtime):
    """A message sent along in another's batch and not applied there is retried later with the
    receiver's reason kept (cut to 1000 characters), which the coordination status shows."""
    from simpul.engine import book_outbox_delivery

    case = start_new_card(runtime, 1)["id"]
    _queue(runtime, case, "companion", "other")
    with runtime.transaction() as uow:
        companion, other = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        book_outbox_delivery(uow, companion.message_id, False, "office 9999: case not found", utcnow())
        book_outbox_delivery(uow, other.message_id, False, "x" * 1500, utcnow())
    with runtime.read() as s:
        companion, other = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        assert companion.status == "pending" and companion.attempts == 1
        assert companion.last_error == "office 9999: case not found"
        assert other.last_error == "x" * 1000
