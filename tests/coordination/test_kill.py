"""SIGKILL the kecamatan's delivery worker again and again while it sends over a slow link:
nothing is lost and nothing is applied twice at the regency."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simpul.engine.models import OutboxMessage

from .helpers import cases_by_key, count, pending, printing_cases, receipts, record_case, wait_for

ROOT = Path(__file__).resolve().parents[2]
N = 40
KILLS = 8


def _worker_env(nodes, url, tmp_path) -> dict:
    kec = nodes.kecamatan.runtime.config
    settings = json.loads(json.dumps(kec.settings))
    settings["coordination"].update(batch_size=4, retry_max_seconds=0.3)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_DATABASE_URL=url,
        SIMPUL_INSTANCE_PATH=str(tmp_path / "kecamatan-worker"),
        SIMPUL_OFFICE_CODE=kec.office_code,
        SIMPUL_OFFICE_KIND="kecamatan",
        SIMPUL_REGENCY_CODE="6402",
        SIMPUL_SETTINGS=json.dumps(settings),
        SIMPUL_JOB_BACKOFF_SECONDS="0.05",
        SIMPUL_WORKER_POLL_SECONDS="0.1",
        COORD_TEST_LEASE="1.0",
        PYTHONPATH=str(ROOT),
    )
    return env


def _start(env):
    return subprocess.Popen(
        [sys.executable, "-m", "tests.coordination.worker_driver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@pytest.mark.slow
def test_killing_the_worker_while_it_sends_loses_nothing_and_applies_nothing_twice(nodes, two_dbs, tmp_path):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    # A slow link (64 kbit/s, 200 ms round trips) so kills land while batches are on the wire.
    nodes.regency.proxy.rate_bps, nodes.regency.proxy.rtt = 64_000, 0.2
    sent = [record_case(kec, n) for n in range(1, N + 1)]
    env = _worker_env(nodes, two_dbs[0], tmp_path)
    rng = random.Random(5)
    progress_at_kills = []
    deadline = time.monotonic() + 90
    for _ in range(KILLS):
        worker = _start(env)
        time.sleep(rng.uniform(0.4, 1.6))
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        progress_at_kills.append(receipts(reg))
        assert time.monotonic() < deadline
    worker = _start(env)
    try:
        assert wait_for(lambda: pending(kec) == 0 and count(kec, OutboxMessage) == N, timeout=60), (
            f"{pending(kec)} message(s) still waiting"
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
    # Some kills really did land in the middle of the backlog.
    assert any(0 < progress < N for progress in progress_at_kills), progress_at_kills
    # Nothing lost, nothing twice: one receipt and one printing case per kecamatan case.
    assert receipts(reg) == N
    assert len(printing_cases(reg)) == N
    assert sorted(cases_by_key(reg).items()) == sorted((r, 1) for r in sent)
    assert count(kec, OutboxMessage, OutboxMessage.status == "sent") == N
