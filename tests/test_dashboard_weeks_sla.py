"""The dashboard's weeks are the office's weeks, and an SLA escalation is a breach, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from simpul import engine

from .flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, run_worker_until_quiet, start_new_card

#: Monday 2 March 2026, 06:00 in Sangasanga (WITA, UTC+8) -- still Sunday 1 March in UTC
MONDAY_MORNING_WITA = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


def _receipts(rt, **figure):
    return sorted(c["receipt"] for c in engine.list_cases(rt, actor(rt, "camat"), figure=figure, limit=100))


@pytest.mark.parametrize("zone", ["Asia/Makassar", "Asia/Jakarta"])
def test_a_case_started_monday_morning_local_time_is_in_mondays_week(runtime, zone):
    runtime.config.timezone = zone  # the node setting `timezone` (WITA, WIB: both already Monday)
    with time_machine.travel(MONDAY_MORNING_WITA, tick=False):
        receipt = start_new_card(runtime)["receipt"]
    with time_machine.travel(MONDAY_MORNING_WITA + timedelta(days=3), tick=False):
        board = engine.stats.dashboard(runtime, actor(runtime, "camat"), since="2026-03-02", until="2026-03-08")
        (office,) = board["offices"]
        weeks = office["flow"]["weeks"]
        assert [(w["week"], w["last_day"], w["started"]) for w in weeks] == [("2026-03-02", "2026-03-08", 1)]
        # the figure's link finds it on Monday too
        assert _receipts(runtime, milestone="started", since="2026-03-02", until="2026-03-02") == [receipt]
        assert _receipts(runtime, milestone="started", since="2026-03-01", until="2026-03-01") == []
        # a period ending on Sunday 1 March (local) does not count it
        sunday = engine.stats.dashboard(runtime, actor(runtime, "camat"), since="2026-02-23", until="2026-03-01")
        assert sunday["offices"][0]["flow"]["totals"]["started"] == 0


def test_in_utc_the_same_case_would_be_sundays(runtime):
    runtime.config.timezone = "UTC"
    with time_machine.travel(MONDAY_MORNING_WITA, tick=False):
        start_new_card(runtime)
        board = engine.stats.dashboard(runtime, actor(runtime, "camat"), since="2026-02-23", until="2026-03-01")
    assert board["offices"][0]["flow"]["weeks"][0]["week"] == "2026-02-23"
    assert board["offices"][0]["flow"]["totals"]["started"] == 1


def test_an_sla_escalation_counts_as_one_breach(runtime):
    from .test_dashboard import print_at_regency

    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        on_time = start_new_card(runtime, 1)["receipt"]
        late = start_new_card(runtime, 2)["receipt"]
        for receipt in (on_time, late):
            complete(runtime, receipt, "operator", DOCS_OK)
            complete(runtime, receipt, "verifier", VERIFIED)
            complete(runtime, receipt, "operator", BIOMETRICS)
            run_worker_until_quiet(runtime)
            if receipt == on_time:  # its card comes back the same day; the other's never does
                print_at_regency(runtime, receipt)
                run_worker_until_quiet(runtime)
        clock.shift(timedelta(days=15))  # past card_return_sla (P14D): the waiting case is escalated
        run_worker_until_quiet(runtime)
        run_worker_until_quiet(runtime)  # a second pass of the worker adds nothing
        steps = {t["step"] for t in engine.get_case(runtime, late, actor(runtime, "camat"))["open_tasks"]}
        assert "Task_escalation" in steps
        board = engine.stats.dashboard(runtime, actor(runtime, "camat"), since="2026-03-02", until="2026-03-22")
    flow = board["offices"][0]["flow"]
    assert flow["totals"]["escalations"] == 1 and flow["totals"]["breaches"] == 1
    week = {w["week"]: w for w in flow["weeks"]}["2026-03-16"]
    assert week["escalations"] == 1 and week["breaches"] == 1
    assert _receipts(runtime, breached=1, since="2026-03-16", until="2026-03-22") == [late]


def test_a_step_done_after_its_due_time_is_a_breach_and_one_done_in_time_is_not(runtime):
    """The document check is due within a day (dueIn P1D): done two days late it counts as a
    breach on the dashboard and its link finds that case; done at once it does not."""
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        on_time = start_new_card(runtime, 1)["receipt"]
        late = start_new_card(runtime, 2)["receipt"]
        complete(runtime, on_time, "operator", DOCS_OK)
        clock.shift(timedelta(days=2))
        complete(runtime, late, "operator", DOCS_OK)
        board = engine.stats.dashboard(runtime, actor(runtime, "camat"), since="2026-03-02", until="2026-03-08")
    flow = board["offices"][0]["flow"]
    assert flow["totals"]["breaches"] == 1 and flow["totals"]["escalations"] == 0
    assert _receipts(runtime, breached=1, since="2026-03-02", until="2026-03-08") == [late]
