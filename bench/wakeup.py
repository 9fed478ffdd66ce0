"""How soon the worker starts a service task a step made due (target < 200 ms).

    .venv/bin/python bench/wakeup.py [--runs 20] [--postgres URL]

A new card is worked to its biometric step; completing that step makes the send-to-regency
service task due.  The time printed is from the step's commit until the worker's
``service_completed`` event is in the database (looked for every 5 ms), with the worker's
poll set to 60 s, so only the wake-up can explain a short time:

* ``embedded``: the worker thread of the same runtime (``simpul run``), woken in-process;
* ``listen`` (PostgreSQL): a worker on a second runtime with its own engine, as another
  process or machine would be, woken by the step's ``NOTIFY``.

One ``name=value`` per line: p50 and p95 in ms per kind.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simpul.engine import deploy_bundled  # noqa: E402
from simpul.engine.migrate import upgrade  # noqa: E402
from tests.conftest import make_runtime, seed_offices  # noqa: E402  (the tests' office setup)
from tests.test_wakeup import seconds_until_service_ran  # noqa: E402


def _measure(rt, worker_rt, runs: int, first: int) -> list[float]:
    return [seconds_until_service_ran(rt, worker_rt, f"640205450700{first + i:04d}") * 1000 for i in range(runs)]


def _report(name: str, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    print(f"{name}_p50_ms={statistics.median(times):.1f}")
    print(f"{name}_p95_ms={p95:.1f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="simpul-wakeup-") as tmp:
        tmp = Path(tmp)
        rt = make_runtime(f"sqlite:///{tmp}/s.db", tmp / "sqlite", worker_poll_seconds=60)
        upgrade(rt)
        seed_offices(rt)
        deploy_bundled(rt, deployed_by="bench")
        _report("sqlite_embedded", _measure(rt, rt, args.runs, 1))
        rt.close()

        name = f"simpul_wakeup_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
        try:
            rt = make_runtime(url, tmp / "pg", worker_poll_seconds=60)
            upgrade(rt)
            seed_offices(rt)
            deploy_bundled(rt, deployed_by="bench")
            _report("postgresql_embedded", _measure(rt, rt, args.runs, 1))
            other = make_runtime(url, tmp / "pg2", worker_poll_seconds=60)
            _report("postgresql_listen", _measure(rt, other, args.runs, 1001))
            other.close()
            rt.close()
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
