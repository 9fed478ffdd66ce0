"""The workflow cache: a case's next step may reuse the workflow its last step committed, but
never one that another process has moved on since, nor one a failed step half changed."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from simpul import engine
from simpul.engine import Conflict

from .conftest import make_runtime
from .flows import DOCS_OK, actor, complete, open_task, start_new_card

DOCS_MISSING = {"documents_complete": False, "document_notes": "KK belum dibawa"}
DOCS_BROUGHT = {"missing_documents_brought": True, "return_notes": "KK dibawa"}


def _timeline(rt, receipt):
    case = engine.get_case(rt, receipt, actor(rt, "camat"))
    return [(e["kind"], e["step"]) for e in case["events"]], case


def test_consecutive_steps_of_a_case_reuse_the_committed_workflow(runtime):
    receipt = start_new_card(runtime)["receipt"]
    before = runtime.workflows.hits
    complete(runtime, receipt, "operator", DOCS_MISSING)
    complete(runtime, receipt, "operator", DOCS_BROUGHT)
    assert runtime.workflows.hits == before + 2
    assert open_task(runtime, receipt, "operator")["step"] == "Task_document_check"


def test_a_step_writes_only_what_it_changed_and_reads_nothing_back(runtime):
    """The hot path of every step: it deletes the task it closed and inserts the one it opened,
    and neither reads the case's inbox rows and jobs back nor rewrites its timer job (that full
    resync is the repair after a migration or a reopening, two more queries a step)."""
    receipt = start_new_card(runtime)["receipt"]
    statements = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        complete(runtime, receipt, "operator", DOCS_OK)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"
    writes = [s.split(" WHERE ")[0].split(" (")[0] for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]
    assert [w for w in writes if "human_tasks" in w or "jobs" in w] == [
        "DELETE FROM human_tasks",
        "INSERT INTO human_tasks",
    ]
    read_back = [s for s in statements if s.startswith(("SELECT human_tasks.id FROM", "SELECT jobs.task_id FROM"))]
    assert read_back == []


def test_a_step_done_elsewhere_is_never_hidden_by_a_kept_workflow(db, tmp_path, runtime):
    """Two nodes' processes on one database (two web workers, or the worker and the web)."""
    other = make_runtime(db, tmp_path / "other")
    try:
        receipt = start_new_card(runtime)["receipt"]
        complete(runtime, receipt, "operator", DOCS_MISSING)  # `runtime` now keeps the workflow
        complete(other, receipt, "operator", DOCS_BROUGHT)  # ...which `other` moves on
        # `runtime` must read the case afresh: its kept copy still waits for the papers.
        complete(runtime, receipt, "operator", DOCS_OK)
        assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"
        steps = [step for kind, step in _timeline(runtime, receipt)[0] if kind == "task_completed"]
        assert steps == ["Task_document_check", "Task_await_documents", "Task_document_check"]
    finally:
        other.close()


def test_a_step_that_failed_after_running_leaves_nothing_behind(runtime, monkeypatch):
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", DOCS_MISSING)
    task = open_task(runtime, receipt, "operator")
    real_summary = engine.cases._case_summary

    def fail_once(*args, **kwargs):  # the step ran and was saved; then the transaction fails
        monkeypatch.setattr(engine.cases, "_case_summary", real_summary)
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine.cases, "_case_summary", fail_once)
    with pytest.raises(RuntimeError, match="disk full"):
        engine.complete_task(
            runtime, task["id"], DOCS_BROUGHT, actor(runtime, "operator"), expected_version=task["version"]
        )
    # Nothing of the failed attempt is visible: the same task completes once, as if fresh.
    assert open_task(runtime, receipt, "operator")["id"] == task["id"]
    done = engine.complete_task(
        runtime, task["id"], DOCS_BROUGHT, actor(runtime, "operator"), expected_version=task["version"]
    )
    assert [t["step"] for t in done["open_tasks"]] == ["Task_document_check"]
    with pytest.raises(Conflict, match="already completed"):
        engine.complete_task(runtime, task["id"], DOCS_BROUGHT, actor(runtime, "operator"))
    steps = [step for kind, step in _timeline(runtime, receipt)[0] if kind == "task_completed"]
    assert steps == ["Task_document_check", "Task_await_documents"]


def test_with_and_without_the_cache_a_case_ends_the_same(db, tmp_path, runtime):
    """The cache only saves work: a case run from stored state alone gives the same result."""
    uncached = make_runtime(db, tmp_path / "uncached", workflow_cache_size=0)
    try:
        results = []
        for rt, n in ((runtime, 1), (uncached, 2)):
            receipt = start_new_card(rt, n)["receipt"]
            for data in (DOCS_MISSING, DOCS_BROUGHT, DOCS_MISSING, DOCS_BROUGHT, DOCS_OK):
                complete(rt, receipt, "operator", data)
            complete(rt, receipt, "verifier", {"residence_verified": True, "kelurahan_officer": "Budi"})
            timeline, case = _timeline(rt, receipt)
            data = {k: v for k, v in case["data"].items() if k not in ("nik", "resident_name", "receipt")}
            results.append((timeline, data, [t["step"] for t in case["open_tasks"]]))
        assert uncached.workflows.hits == 0 and runtime.workflows.hits > 0
        assert results[0] == results[1]
    finally:
        uncached.close()


def test_the_cache_keeps_within_its_memory_budget_not_a_count():
    from simpul.engine._workflow_cache import WorkflowCache

    per_state = 10_000
    cost = int(per_state * WorkflowCache.MEMORY_PER_STATE_BYTE)
    cache = WorkflowCache(100_000, max_bytes=cost * 500)
    for case_id in range(1, 601):  # 600 cases stepped in turn; the budget holds 500
        cache.put(case_id, ("v", case_id), f"wf{case_id}", per_state)
    assert len(cache) == 500 and cache.bytes <= cache.max_bytes
    assert cache.take(1, ("v", 1)) is None  # the least recently stepped went first
    assert cache.take(600, ("v", 600)) == "wf600"
    assert cache.bytes == cost * 499


def test_a_case_stepped_again_and_again_takes_its_place_in_the_budget_once():
    """Putting back a case already kept replaces it: the budget counts it once, so one busy
    case does not push every other case out of memory."""
    from simpul.engine._workflow_cache import WorkflowCache

    per_state = 10_000
    cost = int(per_state * WorkflowCache.MEMORY_PER_STATE_BYTE)
    cache = WorkflowCache(100, max_bytes=cost * 3)
    cache.put(1, ("v", 1), "wf1", per_state)
    cache.put(2, ("v", 2), "wf2", per_state)
    for step in range(10):  # case 3 is stepped ten times in a row
        cache.put(3, ("v", step), f"wf3-{step}", per_state)
    assert cache.bytes == cost * 3 and len(cache) == 3
    assert cache.take(1, ("v", 1)) == "wf1" and cache.take(2, ("v", 2)) == "wf2"
