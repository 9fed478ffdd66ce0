"""The link is cut while 50 cases are sent: the regency node is off, then every answer is lost.
When the link is back all 50 arrive exactly once and the kecamatan cases resume."""

from __future__ import annotations

import pytest

from simpul.plugins.coordination.status import coordination_status

from .helpers import (
    cases_by_key,
    open_steps,
    pending,
    print_card,
    printing_cases,
    printing_receipt,
    receipts,
    record_case,
    wait_for,
    work,
)

N = 50


@pytest.mark.slow
def test_fifty_cases_sent_through_an_outage_arrive_exactly_once_and_resume(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    nodes.regency.stop_server()  # the regency node is off
    sent = [record_case(kec, n) for n in range(1, N + 1)]

    done = work(kec)
    assert done["services"] == N and done["sent"] == 0
    assert pending(kec) == N and receipts(reg) == 0
    status = coordination_status(kec)
    assert status["waiting"] == N and status["oldest"]["case"] == sent[0]
    (peer,) = status["peers"]
    assert peer["waiting"] == N and peer["last_failure_at"] and "not reached" in peer["last_error"]
    assert peer["last_success_at"] is None
    # The office kept working meanwhile: every case waits for its card, none is stuck.
    assert all(open_steps(kec, r) == [] for r in sent[:3])

    # The regency is back, but the link drops every answer: the messages are applied there
    # while the kecamatan never hears so, and keeps resending them.
    nodes.regency.start_server()
    nodes.link("drop_response")
    assert wait_for(lambda: receipts(reg) == N, timeout=60, tick=lambda: work(kec))
    work(kec)
    assert pending(kec) == N

    nodes.link("pass")
    assert wait_for(lambda: pending(kec) == 0, timeout=60, tick=lambda: work(kec))

    # Exactly once: one receipt, one printing case per kecamatan case.
    assert receipts(reg) == N
    assert len(printing_cases(reg)) == N
    assert sorted(cases_by_key(reg).items()) == sorted((r, 1) for r in sent)
    assert coordination_status(kec)["peers"][0]["last_success_at"]

    # The regency prints every card; the answers resume every kecamatan case.
    for n, receipt in enumerate(sent, start=1):
        print_card(reg, printing_receipt(reg, receipt), f"KTP-{n:04d}")
    assert wait_for(lambda: receipts(kec) == N, timeout=60, tick=lambda: work(reg))
    assert pending(reg) == 0
    assert all(open_steps(kec, r) == ["Task_receive_card"] for r in sent)
