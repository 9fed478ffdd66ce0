"""Database bytes per finished case on SQLite: N new cards run to their handover through the
engine API (each with its regency case), the file VACUUMed before and after.

    .venv/bin/python bench/case_bytes.py --cases 30 --rejected 30

Prints ``db_bytes_per_finished_case=<n>`` (both cases of a new card, the kecamatan's and the
regency's, counted as finished cases) and the share of each table (SQLite's dbstat).  With
``--rejected N`` it then closes N new cards by the verifier's rejection and prints
``db_bytes_per_rejected_case=`` as they end (task tree kept, they may be reopened) and
``db_bytes_per_rejected_case_slimmed=`` after the worker's pass once the reopen period has
passed (``engine.slim_rejected_cases``).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datetime import timedelta  # noqa: E402

from simpul.engine import deploy_bundled, slim_rejected_cases, utcnow  # noqa: E402
from simpul.engine.migrate import upgrade  # noqa: E402
from tests.conftest import make_runtime, seed_offices  # noqa: E402
from tests.flows import printed_case, receive_and_hand_over, rejected_case  # noqa: E402


def table_bytes(path: Path) -> dict:
    conn = sqlite3.connect(path)
    try:
        conn.execute("VACUUM")
        try:
            rows = conn.execute(
                "SELECT COALESCE(m.tbl_name, d.name), SUM(d.pgsize) FROM dbstat d "
                "LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1"
            ).fetchall()
        except sqlite3.OperationalError:
            rows = []
    finally:
        conn.close()
    return dict(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument(
        "--full-states", action="store_true", help="keep finished cases' task trees (as before slimming)"
    )
    parser.add_argument("--rejected", type=int, default=0, help="also measure N cases closed by a rejection")
    args = parser.parse_args(argv)
    if args.full_states:
        from simpul.engine import _workflow as workflow

        workflow.may_slim = lambda status, outcome: False
    with tempfile.TemporaryDirectory(prefix="simpul-bytes-") as tmp:
        path = Path(tmp) / "simpul.db"
        rt = make_runtime(f"sqlite:///{path}", Path(tmp))
        upgrade(rt)
        seed_offices(rt)
        deploy_bundled(rt, deployed_by="bench")
        rt.close()
        before_tables, before = table_bytes(path), path.stat().st_size
        rt = make_runtime(f"sqlite:///{path}", Path(tmp))
        for n in range(1, args.cases + 1):
            receive_and_hand_over(rt, printed_case(rt, n))
        rt.close()
        after_tables, after = table_bytes(path), path.stat().st_size
        if args.rejected:
            rt = make_runtime(f"sqlite:///{path}", Path(tmp))
            for n in range(1, args.rejected + 1):
                rejected_case(rt, args.cases + n)
            rt.close()
            rejected_tables, rejected = table_bytes(path), path.stat().st_size
            rt = make_runtime(f"sqlite:///{path}", Path(tmp))
            later = utcnow() + timedelta(days=365)  # past any reopen period
            while slim_rejected_cases(rt, now=later):
                pass
            rt.close()
            slimmed_tables, slimmed = table_bytes(path), path.stat().st_size
    finished = 2 * args.cases
    for name in sorted(after_tables, key=lambda k: -(after_tables[k] - before_tables.get(k, 0))):
        grown = after_tables[name] - before_tables.get(name, 0)
        if grown > 0:
            print(f"table_{name}_bytes_per_case={grown // finished}")
    print(f"finished_cases={finished}")
    print(f"db_bytes_per_finished_case={(after - before) // finished}")
    if args.rejected:
        for name in ("workflow_states", "pending_slims"):
            for label, tables in (("", rejected_tables), ("_slimmed", slimmed_tables)):
                grown = tables.get(name, 0) - after_tables.get(name, 0)
                print(f"table_{name}_bytes_per_rejected_case{label}={grown // args.rejected}")
        print(f"rejected_cases={args.rejected}")
        print(f"db_bytes_per_rejected_case={(rejected - after) // args.rejected}")
        print(f"db_bytes_per_rejected_case_slimmed={(slimmed - after) // args.rejected}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
