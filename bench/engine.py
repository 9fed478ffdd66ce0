"""Persisted task completions per second: Simpul's engine API vs a raw SpiffWorkflow loop.

Both sides run the same BPMN (processes/ektp_new_card.bpmn, the counter's loop: papers
incomplete, the resident brings them, checked again) on the same machine and process, and
both persist after every completion:

* raw:    load the state row, deserialise (spec kept once, in memory), complete the ready
          user task, run engine steps, serialise without the spec, update the row, commit
          (sqlite3 with WAL and synchronous=FULL, like Simpul's settings);
* engine: ``engine.complete_task`` (locks, form validation, plugin hooks, sandboxed
          gateway, inbox rows, audit event, one transaction), as configured by default: a
          case's next step reuses the workflow its last step committed (WorkflowCache);
* engine without that cache, deserialising on every step like the raw loop (printed too,
          so the cache's share is visible).

Every STEPS completions a new case is started through the engine API (and in the raw loop),
so the mid-case state stays realistic; those starts count in the time.  The loops run in
alternating blocks, so other load on the machine weighs on each.
It also prints the cost of one sandbox call (a condition, a small script) in this process
and through the sandbox worker processes the engine uses by default.
Run:  .venv/bin/python bench/engine.py [--completions N] [--postgres URL]
The last line is ``ratio=<engine/raw>`` for SQLite (target >= 0.6).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState

from simpul import engine
from simpul.engine import Config, Runtime, directory
from simpul.engine._specs import StateSerializer
from simpul.engine.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import flows  # noqa: E402  (the new card's seed data, shared)

BPMN = ROOT / "processes" / "ektp_new_card.bpmn"
PROCESS = "ektp_new_card"
STEPS = 10
#: The counter's everyday loop: papers incomplete, the resident brings them, checked again.
STEP_DATA = {
    "Task_document_check": {"documents_complete": False, "document_notes": "KK belum dibawa"},
    "Task_await_documents": {"missing_documents_brought": True, "return_notes": "KK dibawa"},
}
RESIDENT = {"resident_name": "Warga Bench", **flows.RESIDENT}


class RawLoop:
    """SpiffWorkflow + sqlite3 with nothing else: the floor the engine is measured against."""

    def __init__(self, path: Path):
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(BPMN))
        self.spec = parser.get_spec(PROCESS)
        self.ser = StateSerializer()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE state (id INTEGER PRIMARY KEY, state TEXT)")
        self.case, self.done, self.sizes = 0, 0, []
        self._new_case()

    def _new_case(self):
        self.case += 1
        wf = BpmnWorkflow(self.spec)
        wf.get_tasks(state=TaskState.READY)[0].data.update({"nik": "6402054507000001", **RESIDENT})
        wf.do_engine_steps()
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO state VALUES (?, ?)", (self.case, self.ser.dump(wf)))
        self.conn.execute("COMMIT")

    def run(self, n: int) -> float:
        began = time.perf_counter()
        for _ in range(n):
            last = (self.done + 1) % STEPS == 0
            self.conn.execute("BEGIN IMMEDIATE")
            (state,) = self.conn.execute("SELECT state FROM state WHERE id = ?", (self.case,)).fetchone()
            wf = self.ser.load(state, self.spec, {})
            task = [t for t in wf.get_tasks(state=TaskState.READY) if t.task_spec.manual][0]
            task.data.update(STEP_DATA[task.task_spec.bpmn_id])
            task.run()
            wf.do_engine_steps()
            state = self.ser.dump(wf)
            self.sizes.append(len(state))
            self.conn.execute("UPDATE state SET state = ? WHERE id = ?", (state, self.case))
            self.conn.execute("COMMIT")
            self.done += 1
            if last:
                self._new_case()
        return time.perf_counter() - began


class EngineLoop:
    """The same work through Simpul's engine API."""

    def __init__(self, url: str, instance: Path, **config):
        self.rt = rt = Runtime(
            Config(database_url=url, instance_path=instance, office_code="640205", regency_code="6402", **config)
        )
        upgrade(rt)
        with rt.transaction() as uow:
            directory.ensure_office(uow.session, "6402", "Disdukcapil", "regency")
            directory.ensure_office(uow.session, "640205", "Kecamatan Sangasanga", "kecamatan", parent_code="6402")
            directory.create_user(uow.session, "bench", "Bench", "640205", ["operator"])
        try:
            engine.deploy_process(rt, BPMN.read_bytes(), deployed_by="bench", source=BPMN.name)
        except engine.Conflict:
            pass
        self.clerk = directory.actor_for(rt, "bench")
        self.serial, self.done = 0, 0
        self.task = self._new_case()

    def _new_case(self):
        self.serial += 1
        nik = f"640205450700{self.serial:04d}"
        return engine.start_case(self.rt, PROCESS, {"nik": nik, **RESIDENT}, self.clerk)["open_tasks"][0]

    def run(self, n: int) -> float:
        began = time.perf_counter()
        for _ in range(n):
            last = (self.done + 1) % STEPS == 0
            result = engine.complete_task(
                self.rt,
                self.task["id"],
                STEP_DATA[self.task["step"]],
                self.clerk,
                expected_version=self.task["version"],
            )
            self.done += 1
            if last:
                self.task = self._new_case()
            else:
                self.task = result["open_tasks"][0]
        return time.perf_counter() - began

    def close(self):
        self.rt.close()


def interleaved(loops, total: int, rounds: int = 10) -> list[float]:
    """Completions/s of each loop, run in alternating blocks so load on the machine hits all."""
    block = max(1, total // rounds)
    spent = [0.0] * len(loops)
    for _ in range(rounds):
        for i, loop in enumerate(loops):
            spent[i] += loop.run(block)
    return [block * rounds / t for t in spent]


def workflow_memory(raw: RawLoop, copies: int = 20) -> float:
    """Bytes a deserialised workflow occupies (what the workflow cache keeps per case), taken
    at the largest state of the benchmark's cases."""
    import gc
    import tracemalloc

    raw.run(STEPS - 1 - raw.done % STEPS)  # to the last step of a case: its largest state
    (state,) = raw.conn.execute("SELECT state FROM state WHERE id = ?", (raw.case,)).fetchone()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [raw.ser.load(state, raw.spec, {}) for _ in range(copies)]
        gc.collect()
        return (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()


def script_call_cost(calls: int = 2000) -> dict:
    """Microseconds per sandbox call over a case's data, in this process and with the sandbox
    worker processes (the default): a plain condition (comparisons only: run in-process even
    with the pool), a condition that calls a function, and a small script (both in a worker)."""
    from simpul.engine._sandbox import SandboxEnvironment
    from simpul.engine._sandbox_pool import PooledSandboxEnvironment, SandboxPool

    data = {**RESIDENT, "nik": "6402054507000001", "documents_complete": True, "document_notes": "lengkap"}
    pool = SandboxPool(size=2)
    envs = {"in-process": SandboxEnvironment(), "worker pool": PooledSandboxEnvironment(pool, dict)}
    costs = {}
    try:
        for name, env in envs.items():
            env.evaluate("documents_complete == True", data)  # compile
            env.execute("checked = len(nik) == 16", dict(data))  # start the workers
            env.execute("checked = len(nik) == 16", dict(data))
            started = time.perf_counter()
            for _ in range(calls):
                env.evaluate("documents_complete == True", data)
            condition = (time.perf_counter() - started) / calls * 1e6
            started = time.perf_counter()
            for _ in range(calls // 4):
                env.execute("checked = documents_complete and len(nik) == 16", dict(data))
            script = (time.perf_counter() - started) / (calls // 4) * 1e6
            started = time.perf_counter()
            for _ in range(calls // 4):
                env.evaluate("len(nik) == 16", data)  # a call: goes to a worker in the pool
            call = (time.perf_counter() - started) / (calls // 4) * 1e6
            costs[name] = (condition, call, script)
    finally:
        pool.close()
    return costs


def rotating_hit_rate(url: str, instance: Path, cases: int = 500, rounds: int = 2, **config) -> tuple[float, float]:
    """A clerk's day: ``cases`` active cases, each stepped once in turn, ``rounds`` times.
    Returns the workflow cache's hit rate over those steps and the memory it holds (MB)."""
    loop = EngineLoop(url, instance, **config)
    rt, cache = loop.rt, loop.rt.workflows
    tasks = [loop.task] + [loop._new_case() for _ in range(cases - 1)]
    hits, misses = cache.hits, cache.misses
    for _ in range(rounds):
        for i, task in enumerate(tasks):
            result = engine.complete_task(
                rt, task["id"], STEP_DATA[task["step"]], loop.clerk, expected_version=task["version"]
            )
            tasks[i] = result["open_tasks"][0]
    rate = (cache.hits - hits) / max(1, cache.hits - hits + cache.misses - misses)
    held = cache.bytes / 2**20
    loop.close()
    return rate, held


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--completions", type=int, default=2000)
    ap.add_argument(
        "--postgres",
        default=os.environ.get("SIMPUL_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = RawLoop(tmp / "raw.db")
        eng = EngineLoop(f"sqlite:///{tmp / 'simpul.db'}", tmp)
        (tmp / "uncached").mkdir()
        uncached = EngineLoop(f"sqlite:///{tmp / 'uncached' / 'simpul.db'}", tmp / "uncached", workflow_cache_size=0)
        for loop in (raw, eng, uncached):
            loop.run(50)  # warm caches (spec, compiled scripts, statements)
        raw_rate, eng_rate, uncached_rate = interleaved([raw, eng, uncached], args.completions)
        cache = eng.rt.workflows
        hit_share = cache.hits / max(1, cache.hits + cache.misses)
        eng.close(), uncached.close()
        print(
            f"raw SpiffWorkflow + SQLite: {raw_rate:8.1f} completions/s "
            f"(median state {statistics.median(raw.sizes) / 1024:.1f} KB)"
        )
        print(
            f"Simpul engine on SQLite:    {eng_rate:8.1f} completions/s "
            f"(workflow reused from the last step in {hit_share:.0%} of steps)"
        )
        print(f"  without the workflow cache:{uncached_rate:7.1f} completions/s (ratio {uncached_rate / raw_rate:.2f})")
        kept, budget = workflow_memory(raw), Config().workflow_cache_mb
        print(
            f"  memory of a kept workflow: {kept / 1024:.0f} KB; the default cache budget of "
            f"{budget:.0f} MB holds about {budget * 2**20 / kept:.0f} of them"
        )
        for label, extra in (("default cache", {}), ("old 64-entry cache", {"workflow_cache_size": 64})):
            sub = tmp / label.replace(" ", "_")
            sub.mkdir()
            rate, held = rotating_hit_rate(f"sqlite:///{sub / 'simpul.db'}", sub, **extra)
            print(f"  500 active cases worked in rotation, {label}: hit rate {rate:.0%} ({held:.0f} MB held)")
            if not extra:
                rotation_rate = rate
        print(f"rotating_hit_rate={rotation_rate:.2f}")
        try:
            import sqlalchemy as sa

            admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            name = f"simpul_bench_{os.getpid()}"
            with admin.connect() as c:
                c.execute(sa.text(f'CREATE DATABASE "{name}"'))
            try:
                pg = EngineLoop(args.postgres.rsplit("/", 1)[0] + f"/{name}", tmp)
                pg.run(50)
                pg_rate = args.completions / pg.run(args.completions)
                pg.close()
                print(f"Simpul engine on PostgreSQL:{pg_rate:8.1f} completions/s")
            finally:
                with admin.connect() as c:
                    c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # the SQLite figures still stand
            print(f"PostgreSQL not measured: {exc.__class__.__name__}: {str(exc).splitlines()[0]}")
        for name, (condition, call, script) in script_call_cost().items():
            print(
                f"sandbox call, {name + ':':13s} plain condition {condition:7.1f} us, "
                f"condition with a call {call:7.1f} us, script {script:7.1f} us"
            )
        print(f"ratio={eng_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
