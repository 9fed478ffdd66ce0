"""The outcome migration gives cases that ended before it their outcome and their marks."""

from __future__ import annotations

import sqlalchemy as sa

from simpul.engine.migrate import upgrade

from .conftest import PG_ADMIN_URL, make_runtime, require_postgres


def _seed_old(conn):
    conn.execute(
        sa.text("INSERT INTO offices (code, name, kind, timezone) VALUES ('640205', 'K', 'kecamatan', 'Asia/Makassar')")
    )
    conn.execute(
        sa.text(
            "INSERT INTO process_versions (id, process_key, name, version, bpmn_xml, forms, content_hash, spec_json,"
            " source, deployed_by, deployed_at) VALUES (1, 'ektp_new_card', 'e-KTP', 1, '<x/>', '{}', 'h', '{}', '',"
            " 't', '2026-01-01 00:00:00')"
        )
    )
    rows = [
        (1, "completed", "Selesai"),
        (2, "completed", "Ditolak: data domisili tidak sesuai"),
        (3, "cancelled", "pemohon pindah"),
        (4, "active", None),
    ]
    for cid, status, reason in rows:
        ended = "'2026-01-03 00:00:00'" if status != "active" else "NULL"
        conn.execute(
            sa.text(
                "INSERT INTO cases (id, receipt, office_code, process_key, process_version_id, resident_nik,"
                " resident_name, status, correlation_key, data, end_reason, created_by, created_at, updated_at,"
                f" ended_at, lock_version) VALUES (:id, :r, '640205', 'ektp_new_card', 1, '6402054507000001', 'W',"
                f" :status, :r, '{{}}', :reason, 'op', '2026-01-02 00:00:00', '2026-01-02 00:00:00', {ended}, 0)"
            ),
            {"id": cid, "r": f"R{cid}", "status": status, "reason": reason},
        )


def _check(url, tmp_path):
    rt = make_runtime(url, tmp_path)
    upgrade(rt, "0006_merge")
    with rt.db.engine.begin() as conn:
        _seed_old(conn)
    upgrade(rt)
    with rt.db.engine.connect() as conn:
        outcomes = dict(conn.execute(sa.text("SELECT id, outcome FROM cases")).all())
        marks = conn.execute(sa.text("SELECT case_id, kind, milestone FROM step_marks ORDER BY case_id, kind")).all()
    rt.close()
    assert outcomes == {1: "handed_over", 2: "rejected", 3: "cancelled", 4: None}
    assert [tuple(m) for m in marks] == [
        (1, "end", "handed_over"),
        (1, "start", "started"),
        (2, "end", "rejected"),
        (2, "start", "started"),
        (3, "end", "cancelled"),
        (3, "start", "started"),
        (4, "start", "started"),
    ]


def test_existing_cases_get_their_outcome_sqlite(tmp_path):
    _check(f"sqlite:///{tmp_path / 'old.db'}", tmp_path)


def test_existing_cases_get_their_outcome_postgresql(tmp_path):
    require_postgres()
    import uuid

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"simpul_test_{uuid.uuid4().hex[:10]}_outcome"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        _check(admin.url.set(database=name).render_as_string(hide_password=False), tmp_path)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
