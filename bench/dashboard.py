"""The camat's dashboard and the monthly recap at regency scale, on PostgreSQL.

    .venv/bin/python bench/dashboard.py                         # 1,000,000 cases, a throw-away database
    .venv/bin/python bench/dashboard.py --cases 200000 --requests 50
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/simpul_bench

Cases, their step marks and their open tasks are bulk-inserted with SQL (running a million
cases through the engine would take hours; bench/engine.py measures the step path): 20
kecamatan share the cases over two years; each case has its start mark, two to four step
marks (document check, verification, recording, the card's wait) and, for those that
ended, its end mark with the outcome; 2 % are open with a task in the inbox.  Then the
dashboard of one kecamatan (engine call and the whole /dashboard page through Flask's test
client) and a month's recap are timed.  Targets: p95 < 100 ms for the dashboard, < 2 s for
a month's recap.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import timedelta

import sqlalchemy as sa

from simpul.engine import Config, Runtime, deploy_bundled, directory, recap, stats
from simpul.engine.migrate import upgrade
from simpul.engine.models import ProcessVersion, utcnow

REGENCY = "6402"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def seed(rt, n_cases: int, n_offices: int) -> list[str]:
    offices = [f"6402{i:02d}" for i in range(1, n_offices + 1)]
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil", "regency")
        for code in offices:
            directory.ensure_office(s, code, f"Kecamatan {code}", "kecamatan", parent_code=REGENCY)
        directory.create_user(s, "camat", "Camat", offices[0], ["supervisor", "operator", "verifier"])
        for i in range(4):
            directory.create_user(s, f"op{i}", f"Operator {i}", offices[0], ["operator", "verifier"])
    deploy_bundled(rt, deployed_by="bench")
    with rt.read() as s:
        version = s.scalar(sa.select(ProcessVersion.id).where(ProcessVersion.process_key == "ektp_new_card"))
    now = utcnow()
    params = {"n": n_cases, "k": n_offices, "v": version, "now": now, "span": 730 * 86400}
    with rt.db.engine.begin() as conn:
        t0 = time.perf_counter()
        conn.execute(
            sa.text(
                """
            INSERT INTO cases (id, receipt, office_code, process_key, process_version_id, resident_nik, resident_name,
                status, correlation_key, data, outcome, end_reason, created_by, created_at, updated_at, ended_at,
                lock_version)
            SELECT g, '6402' || lpad((1 + g % :k)::text, 2, '0') || '-B-' || g,
                   '6402' || lpad((1 + g % :k)::text, 2, '0'), 'ektp_new_card', :v,
                   lpad(g::text, 16, '0'), 'Warga ' || g,
                   CASE WHEN g % 50 = 0 THEN 'active' ELSE 'completed' END, 'B-' || g,
                   json_build_object('kelurahan', 'Kelurahan ' || (g % 7)),
                   CASE WHEN g % 50 = 0 THEN NULL WHEN g % 10 = 1 THEN 'rejected' ELSE 'handed_over' END,
                   CASE WHEN g % 50 = 0 THEN NULL WHEN g % 10 = 1 THEN 'Ditolak: data domisili tidak sesuai'
                        ELSE 'Selesai' END,
                   'op0', c.at, c.at, CASE WHEN g % 50 = 0 THEN NULL ELSE c.at + interval '12 days' END, 1
            FROM generate_series(1, :n) g,
                 LATERAL (SELECT CAST(:now AS timestamptz) - make_interval(secs => (g::bigint * 7919) % :span) AS at) c
            """
            ),
            params,
        )
        marks = [
            ("start", None, None, "started", "0", "0"),
            ("task", "Task_document_check", "Pemeriksaan berkas", None, "2 hours", "7200"),
            ("task", "Task_residence_verification", "Verifikasi domisili", None, "1 day", "86400"),
            ("task", "Task_biometric_recording", "Perekaman biometrik", "recorded", "2 days", "172800"),
            ("service", "Service_send_to_regency", "Kirim ke Disdukcapil", "sent", "2 days 1 minute", "60"),
            ("message", "card_printed", "Menunggu kartu dicetak", "printed", "10 days", "691200"),
            ("task", "Task_handover", "Penyerahan KTP-el", None, "12 days", "172800"),
        ]
        for kind, step, name, milestone, offset, seconds in marks:
            only = "" if kind == "start" else "AND c.status = 'completed'"
            if step in ("Task_biometric_recording", "Service_send_to_regency", "card_printed", "Task_handover"):
                only += " AND c.outcome = 'handed_over'"
            conn.execute(
                sa.text(
                    f"""
                INSERT INTO step_marks (case_id, office_code, process_key, kind, step, step_name, milestone, kelurahan,
                    role, actor, opened_at, closed_at, seconds, breached)
                SELECT c.id, c.office_code, c.process_key, :kind, :step, :name, :milestone, c.data->>'kelurahan',
                       'operator', 'op' || (c.id % 4),
                       c.created_at + interval '{offset}' - make_interval(secs => {seconds}),
                       c.created_at + interval '{offset}', {seconds}, c.id % 13 = 0
                FROM cases c WHERE true {only}
                """
                ),
                {"kind": kind, "step": step, "name": name, "milestone": milestone},
            )
        conn.execute(
            sa.text(
                """
            INSERT INTO step_marks (case_id, office_code, process_key, kind, step_name, milestone, kelurahan,
                opened_at, closed_at, seconds, breached)
            SELECT c.id, c.office_code, c.process_key, 'end', c.end_reason, c.outcome, c.data->>'kelurahan',
                   c.created_at, c.ended_at, 1036800, false
            FROM cases c WHERE c.status = 'completed'
            """
            )
        )
        conn.execute(
            sa.text(
                """
            INSERT INTO human_tasks (id, case_id, office_code, step, name, lane, role, assignee, created_at, due_at,
                version)
            SELECT md5(c.id::text), c.id, c.office_code, 'Task_residence_verification', 'Verifikasi domisili',
                   'verifier', 'verifier', CASE WHEN c.id % 3 = 0 THEN 'op1' END, c.created_at,
                   c.created_at + interval '3 days', 1
            FROM cases c WHERE c.status = 'active'
            """
            )
        )
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('cases', 'id'), :n)"), params)
        print(f"seeded {n_cases:,} cases in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    with rt.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("ANALYZE"))
    return offices


def timed(fn, n):
    fn()  # warm
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    out.sort()
    return statistics.median(out), out[max(0, int(len(out) * 0.95) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--offices", type=int, default=20)
    ap.add_argument("--requests", type=int, default=50)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    name = None
    url = args.database_url
    if url is None:
        name = f"simpul_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        rt = Runtime(Config(database_url=url, office_code="640201", regency_code=REGENCY))
        upgrade(rt)
        offices = seed(rt, args.cases, args.offices)
        camat = directory.actor_for(rt, "camat")
        month = (utcnow() - timedelta(days=40)).strftime("%Y-%m")
        board = stats.dashboard(rt, camat)
        office = board["offices"][0]
        print(
            f"office {offices[0]}: {office['flow']['totals']['started']} started in the last 4 weeks, "
            f"{office['now']['open_total']} open steps, bottleneck {office['flow']['bottleneck']['name']}"
        )
        med, p95 = timed(lambda: stats.dashboard(rt, camat), args.requests)
        print(f"dashboard (engine, 4 weeks): median {med:.1f} ms, p95 {p95:.1f} ms")
        med, p95 = timed(lambda: stats.dashboard(rt, camat, since=month + "-01"), args.requests)
        print(f"dashboard (engine, ~10 weeks): median {med:.1f} ms, p95 {p95:.1f} ms")

        from simpul.web import create_app

        with rt.transaction() as uow:
            from argon2 import PasswordHasher

            from simpul.engine.models import User

            uow.session.get(User, "camat").password_hash = PasswordHasher().hash("bench-password-1")
        app = create_app(runtime=rt, config={"TESTING": True, "WTF_CSRF_ENABLED": False})
        client = app.test_client()
        client.post("/login", data={"username": "camat", "password": "bench-password-1"})

        def page():
            response = client.get("/dashboard")
            assert response.status_code == 200, response.status_code

        med, p95 = timed(page, args.requests)
        print(f"/dashboard page (Flask, 4 weeks): median {med:.1f} ms, p95 {p95:.1f} ms")
        result = recap.monthly_recap(rt, camat, month)
        print(f"recap {month}: {result['applications']} applications, {result['open_at_end']} open at month end")
        med, p95 = timed(lambda: recap.monthly_recap(rt, camat, month), max(5, args.requests // 5))
        print(f"monthly recap (engine): median {med:.1f} ms, p95 {p95:.1f} ms")
        rt.close()
    finally:
        if name:
            admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
