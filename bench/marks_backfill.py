"""Time the backfill of step marks (migration residents2_0001_marks_backfill) for N old cases.

    python -m bench.marks_backfill [N] [DATABASE_URL]

Seeds N handed-over cases with their nine audit events each, as a node from before
step_marks held them (only start and end marks), then times the upgrade to the head."""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from simpul.engine import Config, Runtime
from simpul.engine.migrate import upgrade

STEPS = [
    ("case_started", None, 0),
    ("task_completed", "Task_document_check", 2),
    ("task_completed", "Task_residence_verification", 24),
    ("task_completed", "Task_biometric_recording", 48),
    ("service_completed", "Service_send_to_regency", 48),
    ("timer_fired", None, 14 * 24 + 48),
    ("message_received", "card_printed", 16 * 24),
    ("task_completed", "Task_receive_card", 17 * 24),
    ("task_completed", "Task_handover", 17 * 24 + 2),
]


def main(n: int, url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="marks-bench-"))
    url = url or f"sqlite:///{tmp / 'bench.db'}"
    rt = Runtime(Config(instance_path=tmp / "instance", database_url=url, office_code="640205", regency_code="6402"))
    upgrade(rt, "scale_0001_search")
    xml = (Path(__file__).resolve().parents[1] / "processes" / "ektp_new_card.bpmn").read_text()
    t0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    with rt.db.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO offices (code, name, kind, timezone) VALUES ('640205','K','kecamatan','UTC')")
        )
        conn.execute(
            sa.text(
                "INSERT INTO process_versions (id, process_key, name, version, bpmn_xml, forms, content_hash,"
                " spec_json, source, deployed_by, deployed_at) VALUES (1, 'ektp_new_card', 'e', 1, :x, '{}', 'h',"
                " '{}', '', 't', :at)"
            ),
            {"x": xml, "at": t0},
        )
        cases, events = [], []
        for i in range(1, n + 1):
            start = t0 + timedelta(minutes=i)
            cases.append({"id": i, "r": f"R{i}", "at": start, "end": start + timedelta(hours=17 * 24 + 2)})
            for kind, step, hours in STEPS:
                detail = "Eskalasi: kartu belum kembali" if kind == "timer_fired" else None
                at = start + timedelta(hours=hours, seconds=1 if kind == "service_completed" else 0)
                events.append({"c": i, "at": at, "kind": kind, "step": step, "detail": detail})
        conn.execute(
            sa.text(
                "INSERT INTO cases (id, receipt, office_code, process_key, process_version_id, resident_nik,"
                " resident_name, status, correlation_key, data, end_reason, outcome, created_by, created_at,"
                " updated_at, ended_at, lock_version) VALUES (:id, :r, '640205', 'ektp_new_card', 1,"
                " '6402054507000001', 'W', 'completed', :r, '{}', 'Selesai', 'handed_over', 'op', :at, :at, :end, 0)"
            ),
            cases,
        )
        conn.execute(
            sa.text(
                "INSERT INTO case_events (case_id, at, actor, office_code, kind, step, step_name, detail)"
                " VALUES (:c, :at, 'op', '640205', :kind, :step, :step, :detail)"
            ),
            events,
        )
    began = time.perf_counter()
    upgrade(rt)
    seconds = time.perf_counter() - began
    with rt.db.engine.connect() as conn:
        marks = conn.execute(sa.text("SELECT count(*) FROM step_marks")).scalar()
    print(f"{n} old cases, {len(events)} events: backfill {seconds:.1f} s, {marks} marks ({rt.db.engine.dialect.name})")
    rt.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000, sys.argv[2] if len(sys.argv) > 2 else None)
