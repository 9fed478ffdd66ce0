"""Eight clerks press the button at once: exactly one wins, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Conflict
from simpul.engine.models import CaseEvent

from .flows import actor, all_documents, open_task, start_new_card

THREADS = 8


def _race(fn):
    barrier = threading.Barrier(THREADS)
    outcomes: list = [None] * THREADS

    def run(i):
        barrier.wait()
        try:
            outcomes[i] = ("ok", fn(i))
        except Conflict as exc:
            outcomes[i] = ("conflict", exc.render())
        except Exception as exc:  # anything else is a failure of the test
            outcomes[i] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_eight_threads_complete_the_same_task_once(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    actors = [actor(runtime, f"op{i}") for i in range(THREADS)]
    documents = all_documents(runtime, task)  # read before the race: it reads the task, gone once completed
    outcomes = _race(lambda i: engine.complete_task(runtime, task["id"], documents, actors[i]))
    kinds = sorted(o[0] for o in outcomes)
    assert kinds == ["conflict"] * (THREADS - 1) + ["ok"], [o for o in outcomes if o[0] == "error"] or outcomes
    with runtime.read() as s:
        completions = s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "task_completed"))
    assert completions == 1
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"


def test_eight_threads_claim_the_same_task_once(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    actors = [actor(runtime, f"op{i}") for i in range(THREADS)]
    outcomes = _race(lambda i: engine.claim_task(runtime, task["id"], actors[i]))
    winners = [o[1]["assignee"] for o in outcomes if o[0] == "ok"]
    assert len(winners) == 1, outcomes
    assert all(o[0] == "conflict" and "already claimed" in o[1] for o in outcomes if o[0] != "ok"), outcomes
    assert open_task(runtime, receipt, "operator")["assignee"] == winners[0]
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "task_claimed")) == 1
