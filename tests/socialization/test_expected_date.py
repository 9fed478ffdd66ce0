"""The expected date: from this office's own recently handed-over cards, with its basis, and
it moves when those cases do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, text

from simpul import engine

from ..flows import BIOMETRICS, DOCS_OK, VERIFIED, actor, complete, run_worker_until_quiet, start_new_card
from .conftest import seed_finished


def _lookup(app, rt, receipt, lang="en"):
    code = engine.get_case(rt, receipt, actor(rt, "operator"))["lookup_code"]
    response = app.test_client().get(
        "/api/v1/public/status", query_string={"receipt": receipt, "code": code}, headers={"Accept-Language": lang}
    )
    assert response.status_code == 200
    return response.json


def _in_days(rt, days):
    return (datetime.now(UTC) + timedelta(days=days)).astimezone(ZoneInfo(rt.config.timezone)).date().isoformat()


def test_the_expected_date_comes_from_finished_cases_and_changes_when_they_do(runtime, app):
    runtime.config.settings["socialization_stats_seconds"] = 0  # no cache: the test changes the history
    receipt = start_new_card(runtime)["receipt"]
    nothing = _lookup(app, runtime, receipt)
    assert nothing["expected_date"] is None and nothing["basis"]["text"].startswith("Not enough cards")

    # days per step: document check, kelurahan, recording, sending, regency, handover
    seed_finished(runtime, 5, (1, 2, 1, 1, 10, 2))
    fresh = _lookup(app, runtime, receipt)
    assert fresh["expected_date"] == _in_days(runtime, 17)
    assert fresh["basis"]["cases"] == 5
    assert fresh["basis"]["text"] == (
        "Based on 5 cards handed over by this office in the last 90 days."
        " The regency returned cards in a median of 10 days."
    )

    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    complete(runtime, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(runtime)
    sent = _lookup(app, runtime, receipt)
    assert sent["stage"] == "sent" and sent["expected_date"] == _in_days(runtime, 12)  # regency 10 + handover 2

    seed_finished(runtime, 6, (1, 2, 1, 1, 20, 2), start=100)  # the regency got slower
    slower = _lookup(app, runtime, receipt)
    assert slower["expected_date"] == _in_days(runtime, 22)
    assert slower["basis"]["cases"] == 11 and "median of 20 days" in slower["basis"]["text"]

    seed_finished(runtime, 20, (1, 2, 1, 1, 60, 2), ended_days_ago=120, start=200)  # outside the 90 days
    assert _lookup(app, runtime, receipt)["expected_date"] == _in_days(runtime, 22)
    seed_finished(runtime, 20, (1, 2, 1, 1, 60, 2), process="ektp_replacement", start=300)  # another procedure
    assert _lookup(app, runtime, receipt)["expected_date"] == _in_days(runtime, 22)

    indonesian = _lookup(app, runtime, receipt, "id")
    assert indonesian["basis"]["text"].startswith("Berdasarkan 11 kartu")


def test_a_step_running_late_counts_from_now(runtime, app):
    runtime.config.settings["socialization_stats_seconds"] = 0
    seed_finished(runtime, 3, (1, 2, 1, 1, 10, 2))
    receipt = start_new_card(runtime)["receipt"]
    with runtime.transaction() as uow:  # the case was received 30 days ago and is still at the counter
        uow.session.execute(
            text("UPDATE cases SET created_at = :at WHERE receipt = :r"),
            {"at": (datetime.now(UTC) - timedelta(days=30)).replace(tzinfo=None), "r": receipt},
        )
    late = _lookup(app, runtime, receipt)
    assert late["expected_date"] == _in_days(runtime, 16)  # the rest of the steps, from today: never in the past


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_step_timings_reads_through_the_index_and_a_bounded_sample(runtime):
    seed_finished(runtime, 30, (1, 2, 1, 1, 10, 2))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", capture)
    try:
        timings = engine.step_timings(runtime, "640205", "ektp_new_card", limit=10, final_step="Task_handover")
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", capture)
    assert timings["cases"] == 10  # the newest ten only
    assert [s["step"] for s in timings["steps"]][-2:] == ["card_printed", "Task_handover"]
    assert timings["total_median_seconds"] == 17 * 86400
    cases_query = next((s, p) for s, p in statements if "FROM cases" in s)
    with runtime.db.engine.connect() as conn:
        plan = " ".join(
            str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + cases_query[0], cases_query[1])
        )
    assert "ix_cases_office_process_ended" in plan, plan
    assert "TEMP B-TREE" not in plan  # newest first straight from the index, no sort of the history
