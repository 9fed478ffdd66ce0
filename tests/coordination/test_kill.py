"""SIGKILL the kecamatan's delivery worker again and again while it sends over a slow link:
nothing is lost and nothing is applied twice at the regency.

The kills are placed by the backlog's progress, not by the clock: each worker is started, says
it is ready, and is killed once the regency holds the next share of the backlog and another
batch is on the wire (leased at the kecamatan), however slowly a loaded machine runs it."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simpul.engine.models import OutboxMessage, utcnow

from .helpers import cases_by_key, count, pending, printing_cases, receipts, record_case, wait_for

ROOT = Path(__file__).resolve().parents[2]
N = 40
KILLS = 8
BATCH = 4


def _worker_env(nodes, url, tmp_path) -> dict:
    kec = nodes.kecamatan.runtime.config
    settings = json.loads(json.dumps(kec.settings))
    settings["coordination"].update(batch_size=BATCH, retry_max_seconds=0.3)
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
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.coordination.worker_driver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = worker.stdout.readline()  # blocks until the worker is up (or has died: "")
    assert line.strip() == "ready", f"the worker did not start: {worker.stderr.read()}"
    return worker


def _in_flight(rt) -> bool:
    """A batch is leased by the worker: sent, or being sent, and not yet marked sent."""
    return count(rt, OutboxMessage, OutboxMessage.status == "pending", OutboxMessage.next_attempt_at > utcnow()) > 0


@pytest.mark.slow
def test_killing_the_worker_while_it_sends_loses_nothing_and_applies_nothing_twice(nodes, two_dbs, tmp_path):
    kec, reg = nodes.kecamatan.runtime, nodes.regency.runtime
    # A slow link (64 kbit/s, 200 ms round trips) so kills land while batches are on the wire.
    nodes.regency.proxy.rate_bps, nodes.regency.proxy.rtt = 64_000, 0.2
    sent = [record_case(kec, n) for n in range(1, N + 1)]
    env = _worker_env(nodes, two_dbs[0], tmp_path)
    rng = random.Random(5)
    # where in the backlog each kill lands: spread over it, a little jitter, always ahead
    # (the last ones two batches short of the end: a batch acknowledged while the kill is
    # placed must still leave the backlog unfinished)
    span = N - 2 * BATCH
    targets = [max(1, round((i + 1) * span / KILLS) + rng.choice((-1, 0, 1))) for i in range(KILLS)]
    progress_at_kills = []
    for target in targets:
        target = max(target, (progress_at_kills[-1] if progress_at_kills else 0) + 1)
        if target >= N:
            break
        worker = _start(env)
        try:
            assert wait_for(lambda t=target: receipts(reg) >= t, timeout=120), (
                f"the worker delivered {receipts(reg)} of {N}, not {target}: {worker.poll()}"
            )
            # kill with a batch on the wire when there is one; never wait past the next batch
            wait_for(lambda t=target: _in_flight(kec) or receipts(reg) > t, timeout=10)
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        progress_at_kills.append(receipts(reg))
    assert len(progress_at_kills) >= KILLS - 1, progress_at_kills
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
    # Every kill landed in the middle of the backlog, each after its worker had delivered more.
    assert all(0 < progress < N for progress in progress_at_kills), progress_at_kills
    assert progress_at_kills == sorted(set(progress_at_kills)), progress_at_kills
    # Nothing lost, nothing twice: one receipt and one printing case per kecamatan case.
    assert receipts(reg) == N
    assert len(printing_cases(reg)) == N
    assert sorted(cases_by_key(reg).items()) == sorted((r, 1) for r in sent)
    assert count(kec, OutboxMessage, OutboxMessage.status == "sent") == N
