"""The worker reacts to a step: the service task it made due starts at once, not at the poll."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from simpul import engine
from simpul.engine import worker
from simpul.engine.directory import actor_for
from simpul.engine.models import CaseEvent

from .conftest import make_runtime
from .flows import RESIDENT, step_data


def _to_biometric(rt, nik: str):
    """A new card worked up to its last counter step; returns that step's task."""
    who = {n: actor_for(rt, n) for n in ("operator", "verifier")}
    case = engine.start_case(rt, "ektp_new_card", {"nik": nik, "resident_name": "Warga", **RESIDENT}, who["operator"])
    task = case["open_tasks"][0]
    while task["step"] != "Task_biometric_recording":
        role, data = step_data(rt, task["step"])
        task = engine.complete_task(rt, task["id"], data, who[role])["open_tasks"][0]
    return case, task, who


def seconds_until_service_ran(rt, worker_rt, nik: str, timeout: float = 10.0) -> float:
    """Complete the step that makes the send-to-regency service task due, with a worker
    running on ``worker_rt``; seconds from the step's commit until the service completed."""
    case, task, who = _to_biometric(rt, nik)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(worker_rt, stop), daemon=True)
    thread.start()
    try:
        assert worker_rt.wakeup.idle.wait(10), "the worker never went to sleep"
        role, data = step_data(rt, task["step"])
        engine.complete_task(rt, task["id"], data, who[role])
        done_at = time.monotonic()
        end = done_at + timeout
        while time.monotonic() < end:
            with rt.read() as s:
                ran = s.scalar(
                    select(CaseEvent.id).where(CaseEvent.case_id == case["id"], CaseEvent.kind == "service_completed")
                )
            if ran is not None:
                return time.monotonic() - done_at
            time.sleep(0.005)
        return float("inf")
    finally:
        stop.set()
        thread.join(10)


def test_service_task_starts_at_once_in_the_same_process(runtime):
    runtime.config.worker_poll_seconds = 60  # the poll would be far too late
    assert seconds_until_service_ran(runtime, runtime, "6402054507000001") < 2.0


def test_service_task_starts_at_once_in_another_process(db, tmp_path, runtime):
    """A second runtime (own engine and wake-up) stands for a worker on another machine:
    on PostgreSQL it hears the step's NOTIFY; on SQLite there is no such signal, so the
    same test shows the fallback is the poll (kept short here)."""
    other = make_runtime(db, tmp_path / "other", worker_poll_seconds=60)
    try:
        if runtime.db.dialect == "postgresql":
            assert seconds_until_service_ran(runtime, other, "6402054507000002") < 2.0
        else:
            other.config.worker_poll_seconds = 0.5
            assert seconds_until_service_ran(runtime, other, "6402054507000002") < 5.0
    finally:
        other.close()
