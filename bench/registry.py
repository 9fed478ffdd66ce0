"""The resident registry: importing a large kelurahan list, and the coverage page's query.

One node (SQLite in a temporary directory, or PostgreSQL with --postgres URL, which must be an
empty database the benchmark may fill).  Timed:

* importing ``--rows`` residents from a CSV (read, every row checked, one transaction);
* a re-import of the same file (the diff path: everything unchanged);
* the recount of the coverage cells (done by an import and by the first read of a day);
* ``coverage`` (the figures per kelurahan, RT/RW, sex, age band) with ``--residents`` in the
  registry and a case state for a tenth of them: p50 and p95 of 50 runs.

Run:  .venv/bin/python bench/registry.py [--rows 50000] [--residents 100000] [--postgres URL]
The flags page (keyset-paged) is timed on the same 100,000 residents.

Target: 50,000 rows imported in < 30 s on SQLite; coverage p95 < 100 ms at 100,000 residents.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simpul.engine import Config, Runtime, directory  # noqa: E402
from simpul.engine.migrate import upgrade  # noqa: E402
from simpul.plugins.socialization.coverage import coverage, rebuild_cells  # noqa: E402
from simpul.plugins.socialization.models import CaseState, Resident  # noqa: E402
from simpul.plugins.socialization.registry import apply_import, plan_import  # noqa: E402
from tests.conftest import OFFICE, REGENCY  # noqa: E402
from tests.socialization.registry_data import KELURAHAN, build_csv, generate  # noqa: E402


def node(url: str | None, tmp: Path) -> Runtime:
    rt = Runtime(
        Config(
            instance_path=tmp,
            database_url=url or f"sqlite:///{tmp / 'bench.db'}",
            office_code=OFFICE,
            regency_code=REGENCY,
        )
    )
    upgrade(rt)
    with rt.transaction() as uow:
        directory.ensure_office(uow.session, REGENCY, "Disdukcapil", "regency")
        directory.ensure_office(uow.session, OFFICE, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
        for code, name in KELURAHAN:
            directory.ensure_office(uow.session, code, name, "kelurahan", parent_code=OFFICE)
    return rt


def timed_import(rt, data: bytes) -> tuple[float, object]:
    began = time.perf_counter()
    plan = plan_import(rt, data, "list.csv", OFFICE)
    apply_import(rt, plan, OFFICE, "bench")
    return time.perf_counter() - began, plan


def fill(rt, residents: int) -> None:
    """Top the registry up to ``residents`` rows (bulk, outside the import path), and give
    every tenth a case state."""
    from sqlalchemy import func, insert, select

    with rt.read() as s:
        have = s.scalar(select(func.count()).select_from(Resident).where(Resident.office_code == OFFICE))
    people = generate(residents, seed=1)[have:]
    now = datetime.now(UTC)
    with rt.transaction() as uow:
        conn = uow.session.connection()
        for start in range(0, len(people), 5000):
            chunk = people[start : start + 5000]
            rows = [
                {
                    **{k: v for k, v in p.items() if k != "kelurahan"},
                    "nik": f"9{p['nik'][1:]}"[:16],  # distinct from the imported ones
                    "kelurahan_code": p["kelurahan"],
                    "office_code": OFFICE,
                    "imported_at": now,
                    "imported_by": "bench",
                }
                for p in chunk
            ]
            conn.execute(insert(Resident.__table__), rows)
        niks = conn.execute(select(Resident.nik).where(Resident.office_code == OFFICE)).scalars().all()
        states = [
            {
                "office_code": OFFICE,
                "nik": n,
                "state": ("recorded", "printed", "handed_over")[i % 3],
                "receipt": f"R{i}",
            }
            for i, n in enumerate(niks[::10])
        ]
        for start in range(0, len(states), 5000):
            conn.execute(insert(CaseState.__table__), states[start : start + 5000])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rt = node(args.postgres, Path(tmp))
        kind = "postgresql" if args.postgres else "sqlite"
        text, _bad, stored = build_csv(generate(args.rows, seed=7), bad_every=1000)
        data = text.encode()
        seconds, plan = timed_import(rt, data)
        print(f"{kind}: import {args.rows} rows: {seconds:.2f} s ({len(plan.new)} stored, {len(plan.errors)} errors)")
        seconds, plan = timed_import(rt, data)
        print(f"{kind}: re-import (diff, all unchanged {plan.unchanged}): {seconds:.2f} s")
        fill(rt, args.residents)
        if args.postgres:  # as autovacuum would after a bulk load: the planner needs the statistics
            from sqlalchemy import text as sql

            with rt.transaction() as uow:
                uow.session.execute(sql("ANALYZE socialization_residents"))
                uow.session.execute(sql("ANALYZE socialization_case_states"))
        began = time.perf_counter()
        with rt.transaction() as uow:
            rebuild_cells(uow.session, OFFICE, date.today(), 17)
        print(f"{kind}: recount of the coverage cells (import, new day): {time.perf_counter() - began:.2f} s")
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            figures = coverage(rt, OFFICE)
            times.append((time.perf_counter() - began) * 1000)
        times.sort()
        p95 = times[max(0, int(len(times) * 0.95) - 1)]
        print(
            f"{kind}: coverage of {figures['total']['residents']} residents: "
            f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
        )
        flag_pages(rt, kind, args.runs)
        rt.close()


def flag_pages(rt, kind: str, runs: int) -> None:
    """The flags page (keyset-paged by NIK): the first page, a walk of ten pages, and the
    sparsest filter (a NIK twice) that scans the registry's NIK index for its page."""
    from simpul.plugins.socialization.flags import flags_page

    for label, kw in (("first page", {}), ("kind nik_twice", {"kind": "nik_twice"})):
        times = []
        for _ in range(max(runs // 5, 3)):
            began = time.perf_counter()
            flags_page(rt, OFFICE, limit=50, **kw)
            times.append((time.perf_counter() - began) * 1000)
        print(f"{kind}: flags {label}: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms")
    began, cursor, shown = time.perf_counter(), None, 0
    for _ in range(10):
        page = flags_page(rt, OFFICE, after=cursor, limit=50)
        shown += len(page["flags"])
        cursor = page["next"]
        if cursor is None:
            break
    print(f"{kind}: flags, 10 pages forward ({shown} flags): {(time.perf_counter() - began) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
