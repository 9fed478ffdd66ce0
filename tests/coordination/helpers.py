"""Walking cases across the two nodes."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from simpul import engine
from simpul.engine.models import Case, InboxReceipt, OutboxMessage
from simpul.engine.worker import run_due
from tests.flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, start_new_card

PRINT_STEPS = ({"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True})


def record_case(rt, n: int) -> str:
    """A new-card case at the kecamatan, up to the send-to-regency service task."""
    receipt = start_new_card(rt, n)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    return receipt


def work(rt, rounds: int = 20) -> dict:
    """Run the worker until nothing more is done (bounded)."""
    total: dict = {}
    for _ in range(rounds):
        counts = run_due(rt, limit=500)
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        if not any(counts[k] for k in ("timers", "services", "sent", "unsent")):
            break
    return total


def wait_for(condition, timeout: float = 30.0, interval: float = 0.05, tick=None):
    """Poll ``condition`` (calling ``tick`` between polls) until true or the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if tick is not None:
            tick()
        time.sleep(interval)
    return bool(condition())


def printing_cases(rt) -> list[dict]:
    return [
        c for c in engine.list_cases(rt, engine.Actor.system(), limit=10_000) if c["process"] == "ektp_regency_printing"
    ]


def printing_receipt(rt, kecamatan_receipt: str, status="active") -> str:
    found = [
        c["receipt"] for c in printing_cases(rt) if c["correlation_key"] == kecamatan_receipt and c["status"] == status
    ]
    assert len(found) == 1, f"expected one {status} printing case for {kecamatan_receipt}, found {found}"
    return found[0]


def print_card(rt, printing: str, serial: str) -> None:
    for data in PRINT_STEPS:
        complete(rt, printing, "disdukcapil", data)
    complete(rt, printing, "disdukcapil", {"card_serial": serial})


def count(rt, model, *where) -> int:
    with rt.read() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def pending(rt) -> int:
    return count(rt, OutboxMessage, OutboxMessage.status == "pending")


def receipts(rt) -> int:
    return count(rt, InboxReceipt)


def cases_by_key(rt) -> dict:
    with rt.read() as s:
        rows = s.execute(select(Case.correlation_key, func.count()).group_by(Case.correlation_key)).all()
    return dict(rows)


def open_steps(rt, receipt, username="camat") -> list[str]:
    return [t["step"] for t in engine.list_tasks(rt, actor(rt, username), case_receipt=receipt)]
