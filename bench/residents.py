"""The resident's status lookup and the expected date on an office with a million cases.

One SQLite node (or PostgreSQL with --postgres URL) holding N finished and running cases over
several years; a few thousand finished in the last 90 days have full step events.  Timed:
``engine.step_timings`` (the expected-date statistics, uncached) and a public lookup
(``find_public_case`` + ``resident_view``), each the median of 20 runs.

Run:  .venv/bin/python bench/residents.py [--cases 1000000] [--recent 5000] [--postgres URL]
Target: step_timings < 0.5 s and a lookup < 50 ms at a million cases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simpul import engine  # noqa: E402
from simpul.engine import Config, Runtime, deploy_bundled  # noqa: E402
from simpul.engine.migrate import upgrade  # noqa: E402
from simpul.engine.models import Case, CaseEvent  # noqa: E402
from tests.conftest import OFFICE, seed_offices  # noqa: E402

STEPS = (
    ("task_completed", "Task_document_check", 1),
    ("task_completed", "Task_residence_verification", 2),
    ("task_completed", "Task_biometric_recording", 1),
    ("service_completed", "Service_send_to_regency", 1),
    ("message_received", "card_printed", 10),
    ("task_completed", "Task_handover", 2),
)


def seed(rt, total: int, recent: int) -> str:
    now = datetime.now(UTC)
    with rt.read() as s:
        version_id = s.execute(sa.text("select id from process_versions where process_key='ektp_new_card'")).scalar()
    cases = Case.__table__
    events = CaseEvent.__table__
    batch = []
    timelines = {}
    case_id = 0
    with rt.db.engine.begin() as conn:
        for i in range(total):
            case_id += 1
            is_recent = i >= total - recent
            end = now - (timedelta(hours=(total - i) % 2000) if is_recent else timedelta(days=100 + i % 1500))
            begin = end - timedelta(days=17)
            open_case = i % 50 == 0 and is_recent
            if is_recent:
                timelines[case_id] = (begin, open_case)
            batch.append(
                dict(
                    id=case_id,
                    receipt=f"{OFFICE}-{2020 + i // 250000}-{i:07d}",
                    office_code=OFFICE,
                    process_key=("ektp_new_card", "ektp_renewal", "ektp_replacement")[i % 3]
                    if not is_recent
                    else "ektp_new_card",
                    process_version_id=version_id,
                    resident_nik=f"64020545{i:08d}",
                    resident_name=f"Warga {i}",
                    status="active" if open_case else "completed",
                    correlation_key=f"k{i}",
                    data={},
                    created_by="operator",
                    created_at=begin,
                    updated_at=end,
                    ended_at=None if open_case else end,
                    lock_version=0,
                )
            )
            if len(batch) == 20000:
                conn.execute(cases.insert(), batch)
                batch = []
        if batch:
            conn.execute(cases.insert(), batch)
        rows = []
        for cid, (begin, open_case) in timelines.items():
            at = begin
            for kind, step, days in STEPS[:4] if open_case else STEPS:  # a running case waits at the regency
                at += timedelta(days=days)
                rows.append(dict(case_id=cid, at=at, actor="operator", office_code=OFFICE, kind=kind, step=step))
        conn.execute(events.insert(), rows)
    return f"{OFFICE}-{2020 + (total - 50) // 250000}-{total - 50:07d}"


def timed(fn, runs=20):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--recent", type=int, default=5000)
    parser.add_argument("--postgres")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="simpul-bench-residents-"))
    url = args.postgres or f"sqlite:///{work}/simpul.db"
    rt = Runtime(Config(instance_path=work, database_url=url, settings={"socialization_stats_seconds": 0}))
    upgrade(rt)
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="bench")
    t0 = time.perf_counter()
    receipt = seed(rt, args.cases, args.recent)
    print(f"seeded {args.cases} cases ({args.recent} recent with events) in {time.perf_counter() - t0:.1f} s")
    from simpul.plugins.socialization.lookup import lookup_code
    from simpul.plugins.socialization.public import Words, find_public_case, resident_view

    stats = engine.step_timings(rt, OFFICE, "ektp_new_card", final_step="Task_handover")
    print(f"sample: {stats['cases']} cases, median total {stats['total_median_seconds'] / 86400:.1f} days")
    took = timed(lambda: engine.step_timings(rt, OFFICE, "ektp_new_card", final_step="Task_handover"))
    print(f"step_timings: {took * 1000:.1f} ms")
    code = lookup_code(rt.config, receipt)
    words = Words("id", rt)
    view = resident_view(rt, find_public_case(rt, receipt, code), words)
    print(f"lookup of {receipt}: stage {view['stage']}, expected {view['expected_date']}")

    def lookup():
        return resident_view(rt, find_public_case(rt, receipt, code), words)

    print(f"lookup, uncached statistics: {timed(lookup) * 1000:.1f} ms")
    rt.config.settings["socialization_stats_seconds"] = 300
    print(f"lookup, cached statistics: {timed(lookup) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
