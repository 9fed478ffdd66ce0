"""One script cannot freeze the node: scripts run in sandbox worker processes whose time and
memory limits hold even for a long C-level call, and other work is answered meanwhile."""

from __future__ import annotations

import threading
import time

import pytest

from simpul.engine._sandbox import ScriptError
from simpul.engine._sandbox_pool import GRACE_SECONDS, PooledSandboxEnvironment, SandboxPool, _Worker

#: ``str()`` of a shared nested list: one C call of about 10**9 items, no tick in between.
C_LEVEL_BOMB = "a = [0] * 1000\nb = [a] * 1000\nc = [b] * 1000\ntext = str(c)"
MEMORY_BOMB = "a = [0] * 1000000\nb = [a] * 200\ntext = str(b)"


@pytest.fixture
def pool():
    p = SandboxPool(size=2, time_limit=1.0, memory_limit_mb=256)
    yield p
    p.close()


def _env(pool, settings=None):
    return PooledSandboxEnvironment(pool, lambda: settings or {})


def test_scripts_and_conditions_work_as_before(pool):
    env = _env(pool, {"card_return_sla": "P14D"})
    data = {"n": 2}
    env.execute("n = n * 21\nsla = setting('card_return_sla')", data)
    assert data == {"n": 42, "sla": "P14D"}
    assert env.evaluate("n > 40 and sla == 'P14D'", data) is True
    with pytest.raises(ScriptError) as err:
        env.execute("import os", {})
    assert err.value.kind == "forbidden"
    with pytest.raises(ScriptError) as err:
        env.evaluate("().__class__", {})
    assert err.value.kind == "forbidden"


def test_a_long_c_level_call_is_stopped_at_the_time_limit(pool):
    env = _env(pool)
    started = time.monotonic()
    with pytest.raises(ScriptError) as err:
        env.execute(C_LEVEL_BOMB, {})
    took = time.monotonic() - started
    assert err.value.kind == "timeout" and "time limit" in err.value.message
    assert took < pool.time_limit + GRACE_SECONDS + 2.0, took
    assert pool.replaced == 1
    data = {"x": 1}
    env.execute("x = x + 1", data)  # the replacement worker answers
    assert data["x"] == 2


def test_other_work_is_answered_while_a_script_runs_away(pool):
    env = _env(pool)
    answers = []

    def runaway():
        with pytest.raises(ScriptError):
            env.execute(C_LEVEL_BOMB, {})

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.2)  # not a readiness stand-in: the bomb only has to be under way
    started = time.monotonic()
    for i in range(20):
        answers.append(env.evaluate("i * 2", {"i": i}))
    other = time.monotonic() - started
    thread.join()
    assert answers == [i * 2 for i in range(20)]
    assert other < pool.time_limit, f"other conditions waited {other:.2f} s for the runaway script"


def test_memory_beyond_the_limit_is_stopped_and_the_node_does_not_grow(pool):
    import resource

    env = _env(pool)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ScriptError) as err:
        env.execute(MEMORY_BOMB, {})
    assert err.value.kind in ("forbidden", "timeout")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert (after - before) * 1024 < 100 * 2**20  # the worker grew, not this process
    assert env.evaluate("1 + 1", {}) == 2


def test_a_node_runs_its_cases_scripts_in_the_pool(runtime):
    pool = runtime.sandbox_pool()
    assert pool is not None and pool.size == runtime.config.sandbox_workers
    from simpul.engine._workflow import _script_engine
    from tests.flows import DOCS_OK, complete, open_task, start_new_card

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)  # the gateway's plain condition: in-process
    assert open_task(runtime, receipt)["step"] == "Task_residence_verification"
    env = _script_engine(runtime, None).environment
    assert isinstance(env, PooledSandboxEnvironment) and env.pool is pool
    assert env.evaluate("len(nik)", {"nik": "6402054507000001"}) == 16 and pool._started == 1


def test_only_expressions_that_cannot_run_long_skip_the_worker(pool):
    from simpul.engine._sandbox_pool import is_bounded

    assert is_bounded("documents_complete == True and not (age < 17)")
    assert is_bounded("status in ('a', 'b') and data['x'] != None")
    for risky in ("str(c)", "len(x) > 3", "a * 1000", "[i for i in x]", "setting('x')", "x.upper()", "a + b"):
        assert not is_bounded(risky), risky
    env = _env(pool)
    assert env.evaluate("n == 3", {"n": 3}) is True and pool._started == 0  # no worker needed
    with pytest.raises(ScriptError):
        env.evaluate("().__class__", {})


def _slow_starting_worker(conn, time_limit, memory_limit_mb):
    """A worker that takes a second to start, as on a loaded office PC after a power cut."""
    from simpul.engine import _sandbox_pool

    time.sleep(1.0)
    _sandbox_pool._worker_main(conn, time_limit, memory_limit_mb)


def test_a_slow_worker_start_does_not_count_against_the_scripts_time_limit(monkeypatch):
    from simpul.engine import _sandbox_pool

    monkeypatch.setattr(_sandbox_pool, "_Worker", _SlowWorker)
    pool = SandboxPool(size=1, time_limit=0.2, memory_limit_mb=256)
    try:
        data = {"x": 1}
        _env(pool).execute("x = x + 1", data)  # the worker starts in ~1 s, past 0.2 s + grace
        assert data["x"] == 2 and pool.replaced == 0
        with pytest.raises(ScriptError) as err:  # the limit itself still holds once it runs
            _env(pool).execute(C_LEVEL_BOMB, {})
        assert err.value.kind == "timeout"
    finally:
        pool.close()


class _SlowWorker(_Worker):
    """The pool's worker, started through ``_slow_starting_worker``."""

    def __init__(self, ctx, time_limit, memory_limit_mb):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_slow_starting_worker, args=(child, time_limit, memory_limit_mb), daemon=True)
        self.process.start()
        child.close()
        self.ready = False
