"""The card-return SLA: a card not back in time is escalated to the camat's inbox, within a
minute of the deadline, also when the worker was down at that moment or the link hangs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import select

from simpul import engine
from simpul.engine.models import Job
from simpul.engine.worker import run_due, run_forever
from tests.flows import actor

from .helpers import print_card, printing_receipt, record_case, wait_for, work

ROOT = Path(__file__).resolve().parents[2]


def _camat_escalations(rt, receipt):
    return [
        t
        for t in engine.list_tasks(rt, actor(rt, "camat"), role="supervisor", case_receipt=receipt)
        if t["step"] == "Task_escalation"
    ]


def _timer_due(rt, receipt):
    case_id = engine.get_case(rt, receipt, actor(rt, "camat"))["id"]
    with rt.read() as s:
        return s.scalar(select(Job.due_at).where(Job.case_id == case_id, Job.kind == "timer"))


def test_a_card_not_back_in_14_days_is_escalated_to_the_camat_and_can_still_arrive(nodes):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    receipt = record_case(kec, 1)
    sent_at = engine.get_case(kec, receipt, actor(kec, "camat"))["updated_at"]
    work(kec)
    due = _timer_due(kec, receipt)
    assert timedelta(days=14) - timedelta(minutes=1) < due - engine.models.utcnow() <= timedelta(days=14), sent_at

    with time_machine.travel(due - timedelta(minutes=1), tick=True):
        run_due(kec)
        assert _camat_escalations(kec, receipt) == []
    with time_machine.travel(due + timedelta(seconds=30), tick=True):
        assert run_due(kec)["timers"] == 1
        (task,) = _camat_escalations(kec, receipt)
        assert task["role"] == "supervisor" and task["name"] == "Eskalasi: kartu belum kembali"
        # Not in an operator's inbox.
        assert all(
            t["step"] != "Task_escalation" for t in engine.list_tasks(kec, actor(kec, "operator"), role="operator")
        )
        # The case still waits for its card: when the regency prints it, it goes on to handover.
        print_card(reg, printing_receipt(reg, receipt), "KTP-LATE")
        work(reg)
        assert sorted(t["step"] for t in engine.list_tasks(kec, actor(kec, "camat"), case_receipt=receipt)) == [
            "Task_escalation",
            "Task_receive_card",
        ]


def test_the_sla_is_a_setting(nodes):
    kec = nodes.kecamatan.runtime
    kec.config.settings["card_return_sla"] = "P21D"
    receipt = record_case(kec, 1)
    work(kec)
    now = engine.models.utcnow()
    with time_machine.travel(now + timedelta(days=14, hours=1), tick=True):
        run_due(kec)
        assert _camat_escalations(kec, receipt) == []
    with time_machine.travel(now + timedelta(days=21, seconds=40), tick=True):
        run_due(kec)
        assert len(_camat_escalations(kec, receipt)) == 1


@pytest.mark.slow
def test_a_deadline_missed_while_the_worker_was_down_fires_when_it_restarts(sqlite_nodes, sqlite_dbs, tmp_path):
    kec = sqlite_nodes.kecamatan.runtime
    kec.config.settings["card_return_sla"] = "PT2S"
    receipt = record_case(kec, 1)
    work(kec)
    due = _timer_due(kec, receipt)
    time.sleep(max(0.0, (due - engine.models.utcnow()).total_seconds()) + 1.0)  # no worker ran at that moment
    assert _camat_escalations(kec, receipt) == []

    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_DATABASE_URL=sqlite_dbs[0],
        SIMPUL_INSTANCE_PATH=str(tmp_path / "restarted"),
        SIMPUL_OFFICE_CODE="640205",
        SIMPUL_REGENCY_CODE="6402",
        SIMPUL_SETTINGS=json.dumps(kec.config.settings),
        PYTHONPATH=str(ROOT),
    )
    simpul = Path(sys.executable).with_name("simpul")
    started = time.monotonic()
    worker = subprocess.Popen(
        [str(simpul), "worker"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(lambda: _camat_escalations(kec, receipt), timeout=60, interval=0.2)
        assert time.monotonic() - started < 60
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.slow
def test_deadlines_fire_while_the_link_to_the_regency_hangs(sqlite_nodes):
    nodes = sqlite_nodes
    kec = nodes.kecamatan.runtime
    kec.config.settings["card_return_sla"] = "PT3S"
    kec.config.settings["coordination"]["read_timeout"] = 3.0
    kec.config.worker_poll_seconds = 0.2
    nodes.link("blackhole")  # connections are accepted and never answered
    receipt = record_case(kec, 1)
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(kec, stop), daemon=True)
    thread.start()
    try:
        assert wait_for(lambda: _timer_due(kec, receipt) is not None, timeout=10)
        due = _timer_due(kec, receipt)
        assert wait_for(lambda: _camat_escalations(kec, receipt), timeout=30, interval=0.1)
        late = (engine.models.utcnow() - due).total_seconds()
        # At most one hung attempt (the read timeout) plus a poll before the timer ran.
        assert late < 3.0 + 2.0, late
    finally:
        stop.set()
        thread.join(timeout=10)
