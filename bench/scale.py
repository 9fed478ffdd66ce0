"""Regency scale: every clerk, camat, regency and admin view at N cases on PostgreSQL.

    .venv/bin/python bench/scale.py                       # 1,000,000 cases (long to build)
    .venv/bin/python bench/scale.py --cases 200000        # quicker
    .venv/bin/python bench/scale.py --cases 200000 --reuse --explain

Building: a fresh database gets the schema (Alembic), 21 offices (the regency and 20
kecamatan), users, the bundled processes, and a dozen cases the engine really runs through
its API (new cards stopped at every stage, their regency cases, the outbox messages between
them, the worker's service tasks).  Those real cases are the templates: every generated case
is a copy of one of them (its data, workflow state, events, open tasks, outbox rows and
receipts), made in bulk by SQL (``generate_series``, ``INSERT ... SELECT``), in the
proportions of real use: half the cases in the regency office (every new card of a
kecamatan also opens one there), ~96 % finished, a document row per kecamatan case.
``--reuse`` keeps a database already holding N cases (the schema is still upgraded, so a
new index migration runs on a database already holding cases).

Measuring: each view goes through the whole Flask stack (test client, session or bearer
token, engine, template or schema), ``--requests`` times after a warm-up; one line per view
with p50 and p95 in ms, the last line ``worst_p95_ms=<n>``.  Deep pages are reached the way
a user does, by following the pages' own "next"/"last" links.  ``--explain`` prints the
EXPLAIN ANALYZE of every SQL statement one request of each view runs.  Target: < 50 ms p95.
"""

from __future__ import annotations

import argparse
import html
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from simpul.engine import Config, Runtime, auth, complete_task, deploy_bundled, directory, list_tasks, start_case
from simpul.engine.directory import actor_for
from simpul.engine.migrate import upgrade
from simpul.engine.migrations.versions import scale2_0004_version_counts as version_counts
from simpul.engine.worker import run_due
from simpul.plugins.coordination.migrations import scale2_0002_coord_summaries as coord_summaries
from simpul.plugins.socialization.lookup import lookup_code

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.flows import RESIDENT, STEP_DATA  # noqa: E402  (the new card's seed data, shared)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/simpul_scale"
REGENCY, OFFICE = "6402", "640205"
KECAMATAN = [f"6402{i:02d}" for i in range(1, 21)]
PASSWORD = "bench-password-1"
FIRST = ["Nur", "Siti", "Rizky", "Hendra", "Budi", "Dewi", "Agus", "Rina", "Joko", "Putri", "Andi", "Yusuf"]
LAST = ["Aisyah", "Ramadhan", "Wijaya", "Rahma", "Santoso", "Lestari", "Salim", "Marlina", "Susilo", "Ayu"]
#: Share (per 1000) of finished cases; the rest are spread over the open stages.
FINISHED_PER_MILLE = 960


# -- building ------------------------------------------------------------------------------


def _runtime(url: str, tmp: str) -> Runtime:
    return Runtime(
        Config(
            instance_path=Path(tmp) / "instance",
            database_url=url,
            office_code=OFFICE,
            regency_code=REGENCY,
            worker_poll_seconds=3600,
        )
    )


def recreate_database(url: str) -> None:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def database_exists(url: str) -> bool:
    u = make_url(url)
    admin = create_engine(u.set(database="postgres"))
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": u.database}).first()
    admin.dispose()
    return found is not None


def seed_directory(rt: Runtime) -> None:
    hashed = auth.hash_password(PASSWORD)
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        for code in KECAMATAN:
            directory.ensure_office(s, code, f"Kecamatan {code}", "kecamatan", parent_code=REGENCY)
        directory.create_user(s, "operator", "Siti", OFFICE, ["operator"], password_hash=hashed)
        directory.create_user(s, "verifier", "Budi", OFFICE, ["verifier"], password_hash=hashed)
        directory.create_user(s, "camat", "Camat", OFFICE, ["supervisor", "operator", "verifier"], password_hash=hashed)
        directory.create_user(s, "disdukcapil", "Petugas Dukcapil", REGENCY, ["regency_officer"], password_hash=hashed)
        directory.create_user(
            s,
            "kadis",
            "Kepala Dinas",
            REGENCY,
            ["regency_officer", "supervisor", "system_admin", "process_admin"],
            password_hash=hashed,
        )
    deploy_bundled(rt, deployed_by="bench")


def run_real_cases(rt: Runtime) -> None:
    """New cards worked through the engine API and stopped at every stage (0..13 rounds)."""
    actors = {n: actor_for(rt, n) for n in ("operator", "verifier", "disdukcapil")}
    for stop_after in range(14):
        nik = f"64020545070000{stop_after + 1:02d}"
        first_id = start_case(
            rt,
            "ektp_new_card",
            {"nik": nik, "resident_name": f"Warga Contoh {stop_after}", **RESIDENT},
            actors["operator"],
        )["id"]
        rounds = 0
        while rounds < stop_after:
            tasks = [
                t
                for who in actors.values()
                for t in list_tasks(rt, who)
                if t["case_id"] >= first_id  # this new card and the regency case it opened
            ]
            tasks = list({t["id"]: t for t in tasks}.values())
            if tasks:
                for t in tasks:
                    who, data = STEP_DATA[t["step"]]
                    complete_task(rt, t["id"], data, actors[who])
            elif not any(run_due(rt).values()):
                break
            rounds += 1
    while any(run_due(rt).values()):
        pass


BULK_SQL = """
-- the templates' rows, copied aside: the joins below read these small tables, not the big ones
CREATE TEMP TABLE t_cases AS SELECT * FROM cases WHERE id < {generated_from};
CREATE TEMP TABLE t_states AS SELECT * FROM workflow_states WHERE case_id < {generated_from};
CREATE TEMP TABLE t_events AS SELECT * FROM case_events WHERE case_id < {generated_from};
CREATE TEMP TABLE t_tasks AS SELECT * FROM human_tasks WHERE case_id < {generated_from};
CREATE TEMP TABLE t_outbox AS SELECT * FROM outbox_messages WHERE case_id < {generated_from};
CREATE TEMP TABLE t_receipts AS SELECT * FROM inbox_receipts WHERE (result ->> 'id')::int < {generated_from};
CREATE TEMP TABLE t_marks AS SELECT * FROM step_marks WHERE case_id < {generated_from};
ANALYZE t_cases; ANALYZE t_states; ANALYZE t_events; ANALYZE t_tasks; ANALYZE t_outbox; ANALYZE t_receipts;
ANALYZE t_marks;
-- the summary triggers (one counter row per peer, per process version) are off while the
-- copies go in: a million updates of one row in one transaction each walk the row's whole
-- chain of versions.  The summaries are counted afterwards, by the migrations' own backfill.
SET session_replication_role = replica;
CREATE TEMP TABLE tpl AS
  SELECT row_number() OVER (ORDER BY c.id) AS t, c.id AS case_id, c.office_code = '{regency}' AS regency,
         c.status IN ('completed', 'cancelled') AS finished
  FROM t_cases c;
-- choose a template per generated case: finished templates take FINISHED per mille of each
-- office kind, the open ones share the rest evenly.
CREATE TEMP TABLE tpl_slot AS
  WITH k AS (
    SELECT t, case_id, regency, finished,
           row_number() OVER (PARTITION BY regency, finished ORDER BY t) - 1 AS i,
           count(*) OVER (PARTITION BY regency, finished) AS n
    FROM tpl)
  SELECT case_id, regency,
         CASE WHEN finished THEN (i * {finished} / n) ELSE {finished} + i * (1000 - {finished}) / n END AS lo,
         CASE WHEN finished THEN ((i + 1) * {finished} / n)
              ELSE {finished} + (i + 1) * (1000 - {finished}) / n END AS hi
  FROM k;
CREATE TEMP TABLE gen AS
  SELECT g AS id, s.case_id AS tpl_case,
         CASE WHEN g % 2 = 0 THEN '{regency}' ELSE '6402' || lpad((((g / 2) % 20) + 1)::text, 2, '0') END AS office
  FROM generate_series({first}::bigint, {last}::bigint) AS g
  JOIN tpl_slot s ON s.regency = (g % 2 = 0) AND (g * 7919 % 1000) >= s.lo AND (g * 7919 % 1000) < s.hi;
ALTER TABLE gen ADD PRIMARY KEY (id);
ANALYZE gen;
INSERT INTO cases (id, receipt, office_code, process_key, process_version_id, resident_nik, resident_name,
                   status, correlation_key, data, incident, end_reason, created_by, created_at, updated_at,
                   ended_at, lock_version)
SELECT g.id, g.office || '-2026-' || lpad(g.id::text, 7, '0'), g.office, c.process_key, c.process_version_id,
       substr(g.office || '00', 1, 6) || lpad(((g.id * 104729) % 1000000)::text, 6, '0')
         || lpad((g.id % 10000)::text, 4, '0'),
       ({first_names})[1 + (g.id * 31) % {n_first}] || ' ' || ({last_names})[1 + (g.id * 17) % {n_last}]
         || CASE WHEN g.id % 5 = 0 THEN ' ' || ({last_names})[1 + (g.id * 13) % {n_last}] ELSE '' END,
       c.status, g.office || '-2026-' || lpad(g.id::text, 7, '0'), c.data, c.incident, c.end_reason, c.created_by,
       now() - make_interval(secs => ({top} - g.id) * 30), now() - make_interval(secs => ({top} - g.id) * 29),
       CASE WHEN c.ended_at IS NULL THEN NULL ELSE now() - make_interval(secs => ({top} - g.id) * 29) END,
       c.lock_version
FROM gen g JOIN t_cases c ON c.id = g.tpl_case;
INSERT INTO workflow_states (case_id, state)
SELECT g.id, w.state FROM gen g JOIN t_states w ON w.case_id = g.tpl_case;
INSERT INTO case_events (case_id, at, actor, office_code, kind, task_id, step, step_name, detail, before, after)
SELECT g.id, now() - make_interval(secs => ({top} - g.id) * 30) + (e.at - c.created_at), e.actor, g.office, e.kind,
       CASE WHEN e.task_id IS NULL THEN NULL ELSE md5(g.id::text || e.task_id)::uuid::text END,
       e.step, e.step_name, e.detail, e.before, e.after
FROM gen g JOIN t_cases c ON c.id = g.tpl_case JOIN t_events e ON e.case_id = g.tpl_case ORDER BY g.id, e.id;
INSERT INTO human_tasks (id, case_id, office_code, step, name, name_en, lane, role, assignee, form_key,
                         instructions, created_at, due_at, version)
SELECT md5(g.id::text || h.id)::uuid::text, g.id, g.office, h.step, h.name, h.name_en, h.lane, h.role,
       CASE WHEN g.office = '{office}' AND h.role = 'operator' AND g.id % 9 = 0 THEN 'operator' ELSE NULL END,
       h.form_key, h.instructions, now() - make_interval(secs => ({top} - g.id) * 30),
       now() - make_interval(secs => ({top} - g.id) * 30) + (h.due_at - h.created_at), h.version
FROM gen g JOIN t_tasks h ON h.case_id = g.tpl_case;
INSERT INTO outbox_messages (message_id, case_id, source_office, destination_office, kind, payload, status,
                             attempts, next_attempt_at, last_error, created_at, sent_at)
SELECT md5('out' || g.id::text || o.message_id)::uuid::text, g.id,
       CASE WHEN o.source_office = '{regency}' THEN '{regency}' ELSE g.office END,
       CASE WHEN o.destination_office = '{regency}' THEN '{regency}'
            ELSE '6402' || lpad((((g.id / 2) % 20) + 1)::text, 2, '0') END,
       o.kind, o.payload, o.status, o.attempts, o.next_attempt_at, o.last_error,
       now() - make_interval(secs => ({top} - g.id) * 30), now() - make_interval(secs => ({top} - g.id) * 30)
FROM gen g JOIN t_outbox o ON o.case_id = g.tpl_case;
INSERT INTO inbox_receipts (message_id, source_office, received_at, result)
SELECT md5('in' || g.id::text || r.message_id)::uuid::text, r.source_office, r.received_at, r.result
FROM gen g JOIN t_cases c ON c.id = g.tpl_case
JOIN t_receipts r ON (r.result ->> 'id')::int = c.id AND g.id % 2 = 0;
INSERT INTO documents (case_id, office_code, requirement_key, filename, content_type, size, sha256, width, height,
                       warnings, uploaded_by, uploaded_at)
SELECT g.id, g.office, 'family_card', 'kk.jpg', 'image/jpeg', 180000 + g.id % 5000, md5(g.id::text) || md5('x' || g.id),
       1200, 1600, '[]'::json, 'operator', now() - make_interval(secs => ({top} - g.id) * 30)
FROM gen g WHERE g.id % 2 = 1;
INSERT INTO step_marks (case_id, office_code, process_key, kind, step, step_name, milestone, kelurahan, role,
                        actor, opened_at, closed_at, seconds, breached)
SELECT g.id, g.office, m.process_key, m.kind, m.step, m.step_name, m.milestone, m.kelurahan, m.role, m.actor,
       now() - make_interval(secs => ({top} - g.id) * 30) + (m.opened_at - c.created_at),
       now() - make_interval(secs => ({top} - g.id) * 30) + (m.closed_at - c.created_at),
       m.seconds, m.breached
FROM gen g JOIN t_cases c ON c.id = g.tpl_case JOIN t_marks m ON m.case_id = g.tpl_case ORDER BY g.id, m.id;
SET session_replication_role = DEFAULT;
DROP TABLE gen, tpl_slot, tpl, t_cases, t_states, t_events, t_tasks, t_outbox, t_receipts, t_marks;
"""

FINISH_SQL = """
SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases));
SELECT setval(pg_get_serial_sequence('case_events', 'id'), (SELECT max(id) FROM case_events));
SELECT setval(pg_get_serial_sequence('outbox_messages', 'id'), (SELECT max(id) FROM outbox_messages));
SELECT setval(pg_get_serial_sequence('documents', 'id'), (SELECT max(id) FROM documents));
SELECT setval(pg_get_serial_sequence('step_marks', 'id'), (SELECT max(id) FROM step_marks));
DELETE FROM coordination_peer_summaries;
{peer_summaries};
DELETE FROM process_version_counts;
{version_counts};
UPDATE receipt_serials SET last = (SELECT max(id) FROM cases);
INSERT INTO receipt_serials (office_code, year, last)
  SELECT code, 2026, (SELECT max(id) FROM cases) FROM offices ON CONFLICT DO NOTHING;
"""


def _statements(script: str) -> list[str]:
    """The script's statements one by one (none of them holds a ';' inside), so each is timed."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _first_words(statement: str) -> str:
    return " ".join(statement.split()[:4])


def _sql_array(words) -> str:
    return "ARRAY[" + ", ".join(f"'{w}'" for w in words) + "]"


def build(url: str, n_cases: int, tmp: str) -> None:
    t0 = time.perf_counter()
    recreate_database(url)
    rt = _runtime(url, tmp)
    upgrade(rt)
    seed_directory(rt)
    run_real_cases(rt)
    with rt.db.engine.connect() as conn:
        real = conn.execute(text("SELECT count(*) FROM cases")).scalar()
    print(f"ran {real} real cases through the engine API in {time.perf_counter() - t0:.1f} s", flush=True)
    batch = n_cases  # one batch: later batches got poor plans on the grown tables
    first = 1000
    with rt.db.engine.connect() as conn:
        for start in range(first, first + n_cases, batch):
            last = min(first + n_cases - 1, start + batch - 1)
            t1 = time.perf_counter()
            sql = BULK_SQL.format(
                regency=REGENCY,
                office=OFFICE,
                finished=FINISHED_PER_MILLE,
                first=start,
                last=last,
                top=first + n_cases - 1,
                generated_from=first,
                first_names=_sql_array(FIRST),
                last_names=_sql_array(LAST),
                n_first=len(FIRST),
                n_last=len(LAST),
            )
            raw = conn.connection.dbapi_connection
            with raw.cursor() as cur:
                for statement in _statements(sql):
                    t2 = time.perf_counter()
                    cur.execute(statement)
                    print(f"    {time.perf_counter() - t2:7.1f} s  {_first_words(statement)}", flush=True)
            raw.commit()
            print(f"  cases {start}..{last} in {time.perf_counter() - t1:.1f} s", flush=True)
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            for statement in _statements(
                FINISH_SQL.format(
                    peer_summaries=";\n".join(coord_summaries.BACKFILL), version_counts=version_counts.BACKFILL
                )
            ):
                cur.execute(statement)
        raw.commit()
    vacuum_analyze(url)
    rt.close()
    print(f"built {n_cases} cases in {time.perf_counter() - t0:.1f} s", flush=True)


TOP_UP_SQL = """
INSERT INTO human_tasks (id, case_id, office_code, step, name, name_en, lane, role, assignee, form_key,
                         instructions, created_at, due_at, version)
WITH need AS (
  SELECT c.id, row_number() OVER (ORDER BY c.id DESC) AS rn FROM cases c
  WHERE c.office_code = :regency AND NOT EXISTS (SELECT 1 FROM human_tasks h WHERE h.case_id = c.id)
  ORDER BY c.id DESC LIMIT :missing),
tpl AS (
  SELECT h.*, row_number() OVER (ORDER BY h.id) AS rn, count(*) OVER () AS cnt FROM human_tasks h
  WHERE h.office_code = :regency)
SELECT md5('top' || n.id::text || t.id)::uuid::text, n.id, t.office_code, t.step, t.name, t.name_en, t.lane,
       t.role, NULL, t.form_key, t.instructions, now() - n.rn * interval '37 seconds',
       CASE WHEN n.rn % 10 = 0 THEN NULL ELSE now() + ((n.rn % 400) - 40) * interval '1 hour' END, 1
FROM need n JOIN tpl t ON t.rn = 1 + (n.rn % t.cnt)
"""


def top_up_regency_inbox(url: str, wanted: int) -> None:
    """Open tasks added to the regency's inbox (on its cases that have none) up to ``wanted``:
    the inbox of a regency at a million cases, without building the million."""
    eng = create_engine(url)
    with eng.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM human_tasks WHERE office_code = :r"), {"r": REGENCY}).scalar()
        if have < wanted:
            conn.execute(text(TOP_UP_SQL), {"regency": REGENCY, "missing": wanted - have})
        have = conn.execute(text("SELECT count(*) FROM human_tasks WHERE office_code = :r"), {"r": REGENCY}).scalar()
    eng.dispose()
    print(f"regency inbox: {have} open tasks", flush=True)


def vacuum_analyze(url: str) -> None:
    eng = create_engine(url, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    eng.dispose()


def report_sizes(url: str) -> None:
    eng = create_engine(url)
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables "
                "ORDER BY pg_total_relation_size(relid) DESC LIMIT 8"
            )
        ).all()
        total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    eng.dispose()
    print("size: " + ", ".join(f"{name} {n} rows {size / 2**20:.0f} MB" for name, n, size in rows))
    print(f"database_mb={total / 2**20:.0f}")


# -- measuring -----------------------------------------------------------------------------


def login(app, user: str):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    return client


def follow(client, url: str, rel: str, times: int) -> str:
    """The URL reached by following the page's own ``rel`` link ``times`` times."""
    for _ in range(times):
        body = client.get(url).get_data(as_text=True)
        found = re.search(r'<a[^>]*rel="' + rel + r'"[^>]*href="([^"]+)"', body) or re.search(
            r'<a[^>]*href="([^"]+)"[^>]*rel="' + rel + '"', body
        )
        if not found:
            break
        url = html.unescape(found.group(1))
    return url


def last_page_url(client, url: str) -> str:
    body = client.get(url).get_data(as_text=True)
    found = re.search(r'<a[^>]*rel="last"[^>]*href="([^"]+)"', body) or re.search(
        r'<a[^>]*href="([^"]+)"[^>]*rel="last"', body
    )
    if found:
        return html.unescape(found.group(1))
    pages = [html.unescape(u) for u in re.findall(r'<a[^>]*href="([^"]*page=\d+[^"]*)"', body)]
    return max(pages, key=lambda u: int(re.search(r"page=(\d+)", u).group(1))) if pages else url


def _resident_address(i: int) -> dict:
    """A different address per request: the public status lookup is limited per address, and
    the benchmark stands for many residents, not one asking 40 times."""
    return {"REMOTE_ADDR": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"}


def measure(client, url: str, requests: int, headers=None, public=False) -> tuple[float, float]:
    def get(i):
        return client.get(url, headers=headers, environ_base=_resident_address(i) if public else {})

    for i in range(3):
        response = get(i)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    times = []
    for i in range(3, 3 + requests):
        start = time.perf_counter()
        response = get(i)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def explain(rt: Runtime, client, url: str, headers=None) -> None:
    """EXPLAIN ANALYZE of every statement one request of ``url`` runs."""
    captured = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            captured.append((statement, parameters))

    event.listen(rt.db.engine, "before_cursor_execute", before)
    try:
        client.get(url, headers=headers)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", before)
    raw = rt.db.engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in captured:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) " + statement, parameters)
            plan = [r[0] for r in cur.fetchall()]
            print("    -- " + " ".join(statement.split())[:300])
            for line in plan:
                print("       " + line)
        raw.rollback()
    finally:
        raw.close()


def samples(url: str) -> dict:
    eng = create_engine(url)
    with eng.connect() as conn:

        def one(sql, **params):
            return conn.execute(text(sql), params).scalar()

        found = {
            "office_nik": one(
                "SELECT resident_nik FROM cases WHERE office_code = :o ORDER BY id LIMIT 1 OFFSET "
                "(SELECT count(*) / 3 FROM cases WHERE office_code = :o)",
                o=OFFICE,
            ),
            "office_receipt": one(
                "SELECT receipt FROM cases WHERE office_code = :o ORDER BY id LIMIT 1 OFFSET "
                "(SELECT count(*) / 2 FROM cases WHERE office_code = :o)",
                o=OFFICE,
            ),
            "regency_nik": one(
                "SELECT resident_nik FROM cases WHERE office_code = :o ORDER BY id LIMIT 1 OFFSET 7000", o=REGENCY
            ),
            "regency_receipt": one(
                "SELECT receipt FROM cases WHERE office_code = :o ORDER BY id LIMIT 1 OFFSET 9000", o=REGENCY
            ),
            "office_open_receipt": one(
                "SELECT c.receipt FROM cases c JOIN human_tasks h ON h.case_id = c.id WHERE c.office_code = :o "
                "ORDER BY c.id LIMIT 1",
                o=OFFICE,
            ),
            "regency_task": one(
                "SELECT h.id FROM human_tasks h WHERE h.office_code = :o ORDER BY h.case_id DESC LIMIT 1", o=REGENCY
            ),
            "regency_finished": one(
                "SELECT receipt FROM cases WHERE office_code = :o AND status = 'completed' ORDER BY id DESC "
                "LIMIT 1 OFFSET 50",
                o=REGENCY,
            ),
        }
    eng.dispose()
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reuse", action="store_true", help="keep a database already holding --cases cases")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each view's queries")
    parser.add_argument("--only", help="measure only views whose name contains this")
    parser.add_argument(
        "--regency-tasks",
        type=int,
        default=0,
        help="top the regency's inbox up to this many open tasks (20000 is a regency at a million cases)",
    )
    args = parser.parse_args(argv)

    from simpul.web import create_app

    with tempfile.TemporaryDirectory(prefix="simpul-scale-") as tmp:
        have = None
        if args.reuse and database_exists(args.database_url):
            eng = create_engine(args.database_url)
            with eng.connect() as conn:
                have = conn.execute(text("SELECT count(*) FROM cases")).scalar()
            eng.dispose()
        if have is None or (have < args.cases and not args.reuse):
            build(args.database_url, args.cases, tmp)
        else:
            print(f"reusing {have} cases in {make_url(args.database_url).database}")
        rt = _runtime(args.database_url, tmp)
        t0 = time.perf_counter()
        upgrade(rt)  # new migrations run here, on a database already holding the cases
        print(f"schema upgraded in {time.perf_counter() - t0:.1f} s", flush=True)
        if args.regency_tasks:
            top_up_regency_inbox(args.database_url, args.regency_tasks)
        vacuum_analyze(args.database_url)
        report_sizes(args.database_url)
        if args.build_only:
            return 0
        s = samples(args.database_url)
        app = create_app(runtime=rt, config={"TESTING": True})
        clients = {u: login(app, u) for u in ("operator", "camat", "disdukcapil", "kadis")}
        api = app.test_client()
        tokens = {
            u: {"Authorization": "Bearer " + auth.create_token(rt, u, "bench", auth.active_actor(rt, u))[0]}
            for u in ("operator", "disdukcapil", "camat", "kadis")
        }
        s["public_code"] = lookup_code(rt.config, s["office_open_receipt"])
        name_q = "aisyah"
        rare_q = "putri lestari"
        views = [
            ("clerk inbox roles", "operator", "/inbox?view=roles"),
            ("clerk inbox mine", "operator", "/inbox?view=mine"),
            ("clerk inbox search nik", "operator", f"/inbox?view=roles&q={s['office_nik']}"),
            ("clerk inbox search name", "operator", f"/inbox?view=roles&q={name_q}"),
            ("clerk cases", "operator", "/cases"),
            ("clerk cases page 200", "operator", ("follow", "/cases", "next", 199)),
            ("clerk cases search nik", "operator", f"/cases?q={s['office_nik']}"),
            ("clerk cases search receipt", "operator", f"/cases?q={s['office_receipt']}"),
            ("clerk cases search name", "operator", f"/cases?q={name_q}"),
            ("clerk cases search rare name", "operator", f"/cases?q={rare_q.replace(' ', '+')}"),
            ("clerk cases open", "operator", "/cases?status=open"),
            ("clerk case page", "operator", f"/cases/{s['office_open_receipt']}"),
            ("camat inbox office", "camat", "/inbox?view=office"),
            ("camat inbox office last page", "camat", ("last", "/inbox?view=office")),
            ("camat inbox overdue", "camat", "/inbox?view=office&overdue=1"),
            ("camat inbox by name", "camat", "/inbox?view=office&sort=name"),
            ("regency inbox roles", "disdukcapil", "/inbox?view=roles"),
            ("regency inbox last page", "disdukcapil", ("last", "/inbox?view=roles")),
            ("regency inbox search receipt", "disdukcapil", f"/inbox?view=roles&q={s['regency_receipt']}"),
            ("regency cases", "disdukcapil", "/cases"),
            ("regency cases page 200", "disdukcapil", ("follow", "/cases", "next", 199)),
            ("regency cases search nik", "disdukcapil", f"/cases?q={s['regency_nik']}"),
            ("regency cases search receipt", "disdukcapil", f"/cases?q={s['regency_receipt']}"),
            ("regency cases search name", "disdukcapil", f"/cases?q={name_q}"),
            ("regency cases search rare name", "disdukcapil", f"/cases?q={rare_q.replace(' ', '+')}"),
            ("regency task page", "disdukcapil", f"/tasks/{s['regency_task']}"),
            ("regency finished case page", "disdukcapil", f"/cases/{s['regency_finished']}"),
            ("regency finished case diagram", "disdukcapil", f"/cases/{s['regency_finished']}/diagram.json"),
            ("regency case documents", "disdukcapil", f"/verification/cases/{s['regency_finished']}/documents"),
            ("regency card printing", "disdukcapil", "/cards/printing"),
            ("regency dashboard", "kadis", "/dashboard"),
            ("regency monthly recap", "kadis", "/reports/monthly"),
            ("clerk case documents", "operator", f"/verification/cases/{s['office_open_receipt']}/documents"),
            ("clerk card arrivals", "operator", "/cards/arrivals"),
            ("camat dashboard", "camat", "/dashboard"),
            ("camat monthly recap", "camat", "/reports/monthly"),
            ("camat supervision", "camat", "/supervision"),
            ("resident status lookup", "public", f"/cek?receipt={s['office_open_receipt']}&code={s['public_code']}"),
            ("admin coordination status", "kadis", "/coordination/status"),
            ("admin coordination status json", "kadis", "/coordination/status.json"),
            ("admin users", "kadis", "/admin/users"),
            ("admin processes", "kadis", "/admin/processes"),
            ("api clerk tasks", ("api", "operator"), "/api/v1/tasks?view=roles"),
            ("api clerk cases", ("api", "operator"), "/api/v1/cases"),
            ("api clerk cases page 200", ("api", "operator"), ("api-follow", "/api/v1/cases", 199)),
            ("api clerk cases search nik", ("api", "operator"), f"/api/v1/cases?q={s['office_nik']}"),
            ("api clerk cases by nik", ("api", "operator"), f"/api/v1/cases?nik={s['office_nik']}"),
            ("api regency tasks", ("api", "disdukcapil"), "/api/v1/tasks?view=roles"),
            ("api regency cases search receipt", ("api", "disdukcapil"), f"/api/v1/cases?q={s['regency_receipt']}"),
            ("api regency cases search name", ("api", "disdukcapil"), f"/api/v1/cases?q={name_q}"),
            ("api regency case", ("api", "disdukcapil"), f"/api/v1/cases/{s['regency_finished']}"),
            ("api camat dashboard", ("api", "camat"), "/api/v1/dashboard"),
            ("api camat monthly recap", ("api", "camat"), f"/api/v1/reports/monthly?month={time.strftime('%Y-%m')}"),
            ("api regency dashboard", ("api", "kadis"), "/api/v1/dashboard"),
        ]
        print(f"{args.requests} requests each after 3 warm-up, Flask test client, times in ms")
        worst = 0.0
        for name, who, url in views:
            if args.only and args.only not in name:
                continue
            headers = None
            if isinstance(who, tuple):
                client, headers = api, tokens[who[1]]
            elif who == "public":
                client = api
            else:
                client = clients[who]
            if isinstance(url, tuple):
                if url[0] == "follow":
                    url = follow(client, url[1], url[2], url[3])
                elif url[0] == "last":
                    url = last_page_url(client, url[1])
                elif url[0] == "api-follow":
                    url = api_follow(client, url[1], url[2], headers)
            p50, p95 = measure(client, url, args.requests, headers, public=who == "public")
            worst = max(worst, p95)
            print(f"{name:<34} p50={p50:7.1f} p95={p95:7.1f}  {url}", flush=True)
            if args.explain:
                explain(rt, client, url, headers)
        print(f"worst_p95_ms={worst:.1f}")
        rt.close()
    return 0


def api_follow(client, url: str, times: int, headers) -> str:
    """Page ``times + 1`` of an API list, reached through the answers' own paging fields."""
    for _ in range(times):
        body = client.get(url, headers=headers).get_json()
        if body.get("next"):
            url = body["next"]
        elif body.get("has_more") and "page" in body:
            base = re.sub(r"[?&]page=\d+", "", url)
            url = base + ("&" if "?" in base else "?") + f"page={body['page'] + 1}"
        else:
            break
    return url


if __name__ == "__main__":
    sys.exit(main())
