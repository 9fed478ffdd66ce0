"""Cases from before step_marks get a mark per step from their audit events, and their SLA
escalations become breaches (migration residents2_0001_marks_backfill)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import sqlalchemy as sa

from simpul import engine
from simpul.engine import Actor
from simpul.engine.migrate import upgrade

from .conftest import PG_ADMIN_URL, make_runtime, require_postgres

BPMN = (Path(__file__).resolve().parents[1] / "processes" / "ektp_new_card.bpmn").read_text()

#: (kind, step, at) of an old card case that was sent to the regency, escalated, printed,
#: received and handed over
OLD_STEPS = [
    ("case_started", None, "2026-01-05 01:00:00"),
    ("task_completed", "Task_document_check", "2026-01-05 03:00:00"),
    ("task_completed", "Task_residence_verification", "2026-01-06 03:00:00"),
    ("task_completed", "Task_biometric_recording", "2026-01-07 03:00:00"),
    ("service_completed", "Service_send_to_regency", "2026-01-07 03:00:05"),
    ("timer_fired", None, "2026-01-21 03:00:05"),
    ("message_received", "card_printed", "2026-01-23 03:00:00"),
    ("task_completed", "Task_receive_card", "2026-01-24 03:00:00"),
    ("task_completed", "Task_handover", "2026-01-24 05:00:00"),
]


def _seed_old(conn):
    conn.execute(
        sa.text(
            "INSERT INTO offices (code, name, kind, timezone, parent_code)"
            " VALUES ('640205', 'K', 'kecamatan', 'Asia/Makassar', NULL)"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO process_versions (id, process_key, name, version, bpmn_xml, forms, content_hash, spec_json,"
            " source, deployed_by, deployed_at) VALUES (1, 'ektp_new_card', 'e-KTP', 1, :xml, '{}', 'h', '{}', '',"
            " 't', '2026-01-01 00:00:00')"
        ),
        {"xml": BPMN},
    )
    for cid, status, ended in ((1, "completed", "'2026-01-24 05:00:00'"), (2, "active", "NULL")):
        conn.execute(
            sa.text(
                "INSERT INTO cases (id, receipt, office_code, process_key, process_version_id, resident_nik,"
                " resident_name, status, correlation_key, data, end_reason, created_by, created_at, updated_at,"
                f" ended_at, lock_version) VALUES (:id, :r, '640205', 'ektp_new_card', 1, '6402054507000001', 'W',"
                f" :status, :r, :data, :reason, 'op', '2026-01-05 01:00:00', '2026-01-05 01:00:00', {ended}, 0)"
            ),
            {
                "id": cid,
                "r": f"R{cid}",
                "status": status,
                "data": json.dumps({"kelurahan": "Sangasanga Dalam"}),
                "reason": "Selesai" if status == "completed" else None,
            },
        )
    steps = OLD_STEPS
    for cid, rows in ((1, steps), (2, steps[:3])):
        for kind, step, at in rows:
            detail = "Eskalasi: kartu belum kembali" if kind == "timer_fired" else None
            conn.execute(
                sa.text(
                    "INSERT INTO case_events (case_id, at, actor, office_code, kind, step, step_name, detail)"
                    " VALUES (:c, :at, :actor, '640205', :kind, :step, :step, :detail)"
                ),
                {"c": cid, "at": at, "actor": "worker" if kind != "task_completed" else "siti", "kind": kind,
                 "step": step, "detail": detail},
            )  # fmt: skip


def _check(url, tmp_path):
    rt = make_runtime(url, tmp_path)
    upgrade(rt, "0006_merge")  # a node from before the dashboard
    with rt.db.engine.begin() as conn:
        _seed_old(conn)
    upgrade(rt)
    with rt.db.engine.connect() as conn:
        marks = conn.execute(
            sa.text("SELECT case_id, kind, step, milestone, seconds, breached FROM step_marks ORDER BY case_id, id")
        ).all()
    try:
        one = [tuple(m) for m in marks if m.case_id == 1]
        assert [(k, s, m) for _c, k, s, m, _sec, _b in one] == [
            ("start", None, "started"),
            ("end", None, "handed_over"),
            ("task", "Task_document_check", None),
            ("task", "Task_residence_verification", None),
            ("task", "Task_biometric_recording", "recorded"),
            ("service", "Service_send_to_regency", "sent"),
            ("message", "card_printed", "printed"),
            ("task", "Task_receive_card", None),
            ("task", "Task_handover", None),
            ("sla", None, "sla_breach"),
        ]
        seconds = {s: sec for _c, k, s, _m, sec, _b in one if k != "sla"}
        assert seconds["Task_document_check"] == 2 * 3600  # since the start
        assert seconds["card_printed"] == 16 * 86400 - 5  # the regency's turnaround since "sent"
        assert [b for *_x, b in one] == [False] * 9 + [True]
        assert [(k, s) for _c, k, s, *_r in marks if _c == 2] == [
            ("start", None),
            ("task", "Task_document_check"),
            ("task", "Task_residence_verification"),
        ]
        # the dashboard counts the old case's steps, its turnaround and its breach
        board = engine.stats.dashboard(rt, Actor.system(), since="2026-01-05", until="2026-01-25")
        flow = board["offices"][0]["flow"]
        assert {k: flow["totals"][k] for k in ("started", "recorded", "sent", "printed", "handed_over")} == {
            "started": 2,
            "recorded": 1,
            "sent": 1,
            "printed": 1,
            "handed_over": 1,
        }
        assert flow["totals"]["escalations"] == 1 and flow["totals"]["breaches"] == 1
        assert flow["turnaround"]["count"] == 1
        assert {s["step"]: s["count"] for s in flow["step_times"]}["Task_document_check"] == 2
    finally:
        rt.close()


def test_old_cases_get_their_marks_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)


def test_old_cases_get_their_marks_postgresql(tmp_path):
    require_postgres()
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"residents2_{uuid.uuid4().hex[:10]}_marks"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        _check(admin.url.set(database=name).render_as_string(hide_password=False), tmp_path)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
