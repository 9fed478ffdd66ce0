"""Power cuts: a process completing tasks is SIGKILLed at random points, again and again.

After each restart every acknowledged completion is in the database, none was applied
twice, and every case can go on to the end.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from simpul import engine
from simpul.engine.models import Case, CaseEvent, HumanTask, OutboxMessage

from .conftest import make_runtime, seed_offices
from .flows import actor, run_worker_until_quiet, step_data

KILLS = 20
ROOT = Path(__file__).resolve().parent.parent


def _completions(ack_path) -> int:
    """Completions the driver has acknowledged so far (one JSON line each)."""
    if not ack_path.exists():
        return 0
    return sum(1 for line in ack_path.read_text().splitlines() if '"complete"' in line)


@pytest.mark.slow
def test_sigkill_loses_nothing_and_applies_nothing_twice(db, tmp_path):
    rt = make_runtime(db, tmp_path)
    seed_offices(rt)
    engine.deploy_bundled(rt, deployed_by="test")
    ack_path = tmp_path / "acks.jsonl"
    rng = random.Random(20261128)
    for run_id in range(KILLS):
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.durability_driver", db, str(ack_path), str(run_id)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = child.stdout.readline()
        assert line.strip() == "ready", child.stderr.read()
        # Kill at a point chosen from the driver's own progress (a few more acknowledged
        # completions, then a random moment inside the next step), not after a fixed time that a
        # loaded machine may spend before the driver has done anything.
        target = _completions(ack_path) + rng.randint(5, 10)
        deadline = time.monotonic() + 120
        while _completions(ack_path) < target and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.uniform(0, 0.02))
        assert child.poll() is None, f"the driver died before the kill: {child.stderr.read()}"
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    acks = [json.loads(line) for line in ack_path.read_text().splitlines() if line.strip()]
    completed = [a for a in acks if a["kind"] == "complete"]
    assert len(completed) >= 5 * KILLS, "the driver should have completed work between kills"
    with rt.read() as s:
        events = s.execute(
            select(CaseEvent.task_id, func.count())
            .where(CaseEvent.kind == "task_completed")
            .group_by(CaseEvent.task_id)
        ).all()
        starts = set(s.scalars(select(Case.receipt)))
    per_task = dict(events)
    assert all(n == 1 for n in per_task.values()), "a completion was applied twice"
    missing = [a for a in completed if a["task"] not in per_task]
    assert not missing, f"acknowledged completions lost: {missing[:3]}"
    assert {a["receipt"] for a in acks if a["kind"] == "start"} <= starts

    # Every case goes on to the end from wherever the last kill left it.
    users = {name: actor(rt, name) for name in ("operator", "verifier", "disdukcapil")}
    later = datetime.now(UTC) + timedelta(minutes=10)  # past the outbox lease a killed worker held
    for _ in range(40):
        with time_machine.travel(later, tick=True):
            run_worker_until_quiet(rt)
        tasks = list({t["id"]: t for who in users.values() for t in engine.list_tasks(rt, who)}.values())
        if not tasks:
            break
        for task in tasks:
            who, data = step_data(rt, task["step"])
            engine.complete_task(rt, task["id"], data, users[who])
    with rt.read() as s:
        statuses = Counter(s.scalars(select(Case.status)))
        assert s.scalar(select(func.count()).select_from(HumanTask)) == 0
        assert s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")) == 0
    assert set(statuses) == {"completed"}, statuses
    kecamatan = [c for c in engine.list_cases(rt, users["operator"])]
    assert kecamatan and all(c["status"] == "completed" for c in kecamatan)
    rt.close()
