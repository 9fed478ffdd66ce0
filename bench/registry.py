"""The resident registry: importing a large kelurahan list, and its pages over HTTP.

One node (SQLite in a temporary directory, or PostgreSQL with --postgres URL, which must be an
empty database the benchmark may fill).  Timed, and printed one ``name=value`` a line:

* ``import_s``: importing ``--rows`` residents from a CSV with the synchronous flow (the CLI,
  a small upload: read, every row checked, one transaction); ``reimport_s``: the same file
  again (the diff path: everything unchanged);
* ``background_import_s``: the same list through the web page's background import (the
  worker's ``run_due_work`` hook, a slice per pass: check, then store), on a fresh office's
  registry, with ``background_slices``, ``background_slice_max_ms`` (the longest the worker
  is kept from its timers and outbox) and ``background_switch_ms`` (the final transaction
  that puts every staged row into the registry);
* ``recount_s``: the recount of the coverage cells (done by an import, a new day);
* then, with ``--residents`` in the registry (a tenth with a case state), the pages as a
  signed-in operator gets them from a real ``simpul run`` (waitress, embedded worker) on
  127.0.0.1, ``--runs`` GETs each, p50 and p95 in ms: ``coverage_page`` (the chart and the
  tables per kelurahan, RT/RW, sex, age band), ``without_page`` (the eligible residents
  without an e-KTP, first page), ``without_filtered_page`` (one kelurahan, RW, sex) and
  ``without_next_page`` (the second page of the filtered list, by its keyset link);
* the flags page's query (keyset-paged) on the same residents.

Run:  .venv/bin/python bench/registry.py [--rows 50000] [--residents 100000] [--runs 50] [--postgres URL]

Target: 50,000 rows imported in < 30 s on SQLite; the coverage page p95 < 100 ms at 100,000
residents.
"""

from __future__ import annotations

import argparse
import html
import http.cookiejar
import json
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simpul.engine import Config, Runtime, directory  # noqa: E402
from simpul.engine.migrate import upgrade  # noqa: E402
from simpul.plugins.socialization import import_jobs  # noqa: E402
from simpul.plugins.socialization.coverage import rebuild_cells  # noqa: E402
from simpul.plugins.socialization.models import CaseState, Resident  # noqa: E402
from simpul.plugins.socialization.registry import apply_import, plan_import  # noqa: E402
from tests.conftest import OFFICE, OTHER_OFFICE, REGENCY  # noqa: E402
from tests.socialization.registry_data import KELURAHAN, build_csv, generate  # noqa: E402

SIMPUL = str(Path(sys.executable).with_name("simpul"))
PASSWORD = "bench-password-1"
#: the office whose registry the background import fills (a fresh one: a first import).
OTHER_KELURAHAN = (("6402061001", "Kelurahan Muara Jawa Ulu"), ("6402061002", "Kelurahan Muara Jawa Tengah"))


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
    from argon2 import PasswordHasher

    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil", "regency")
        directory.ensure_office(s, OFFICE, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
        directory.ensure_office(s, OTHER_OFFICE, "Kecamatan Muara Jawa", "kecamatan", parent_code=REGENCY)
        for code, name in KELURAHAN:
            directory.ensure_office(s, code, name, "kelurahan", parent_code=OFFICE)
        for code, name in OTHER_KELURAHAN:
            directory.ensure_office(s, code, name, "kelurahan", parent_code=OTHER_OFFICE)
        directory.create_user(
            s, "operator", "Siti", OFFICE, ["operator"], password_hash=PasswordHasher().hash(PASSWORD)
        )
    return rt


def timed_import(rt, data: bytes) -> tuple[float, object]:
    began = time.perf_counter()
    plan = plan_import(rt, data, "list.csv", OFFICE)
    apply_import(rt, plan, OFFICE, "bench")
    return time.perf_counter() - began, plan


def background_import(rt, data: bytes, office: str) -> dict:
    """The web page's background import of ``data`` (check, then store), slice by slice as the
    worker runs it; the time of each pass, the final switch's apart."""
    folder = import_jobs.uploads_dir(rt)
    folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(12)
    (folder / f"{token}.csv").write_bytes(data)
    meta = {"name": "list.csv", "suffix": ".csv", "office": office, "user": "bench"}
    (folder / f"{token}.json").write_text(json.dumps(meta))
    options = {"kelurahan": None, "mapping": {}, "stop": False}
    passes, switch, total = [], 0.0, 0.0
    for action in ("check", "apply"):
        import_jobs.queue(rt, token, meta, action, options, import_jobs.count_rows(data, ".csv"))
        while True:
            phase = import_jobs.job_of(rt, token, office)["phase"]
            began = time.perf_counter()
            handled = import_jobs.run_due_work(rt)
            seconds = time.perf_counter() - began
            if not handled:
                break
            total += seconds
            passes.append(seconds)
            if action == "apply" and phase == "switch":
                switch = seconds
    job = import_jobs.job_of(rt, token, office)
    if job["status"] != "applied":
        raise RuntimeError(f"background import ended {job['status']}: {job['error']}")
    return {
        "seconds": total,
        "slices": len(passes),
        "slice_max_ms": max(passes) * 1000,
        "switch_ms": switch * 1000,
        "imported": job["result"]["imported"],
    }


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(url: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    """``simpul run`` on the benchmark's database, and its address once it answers."""
    env = {
        **os.environ,
        "SIMPUL_DATABASE_URL": url,
        "SIMPUL_INSTANCE_PATH": str(tmp),
        "SIMPUL_OFFICE_CODE": OFFICE,
        "SIMPUL_REGENCY_CODE": REGENCY,
    }
    port = free_port()
    server = subprocess.Popen(
        [SIMPUL, "run", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(base + "/login", timeout=5)
            return server, base
        except (urllib.error.URLError, OSError):
            if server.poll() is not None:
                raise RuntimeError("simpul run stopped: " + server.stderr.read().decode()[-2000:]) from None
            if time.monotonic() > deadline:
                server.terminate()
                raise RuntimeError("simpul run did not answer") from None
            time.sleep(0.1)


def signed_in(base: str) -> urllib.request.OpenerDirector:
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": "operator", "password": PASSWORD, "csrf_token": token}).encode()
    opener.open(base + "/login", data=form).read()
    check = opener.open(base + "/socialization/residents")
    if "/login" in check.geturl():
        raise RuntimeError("the benchmark's operator could not sign in")
    return opener


def timed_get(opener, url: str, runs: int) -> tuple[list[float], str]:
    body = opener.open(url).read().decode()  # warm: templates compiled, the day's cells counted
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = opener.open(url)
        body = response.read().decode()
        times.append((time.perf_counter() - began) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
    return times, body


def p95(values: list[float]) -> float:
    values = sorted(values)
    return values[max(0, int(round(0.95 * len(values))) - 1)]


def say(name: str, value) -> None:
    print(f"{name}={value}", flush=True)


def pages(url: str, tmp: Path, runs: int) -> None:
    server, base = serve(url, tmp)
    try:
        opener = signed_in(base)
        filtered = f"{base}/socialization/residents/without?" + urllib.parse.urlencode(
            {"kelurahan": KELURAHAN[0][0], "rw": "002", "sex": "P"}
        )
        timings = {}
        timings["coverage_page"], _body = timed_get(opener, f"{base}/socialization/residents", runs)
        timings["without_page"], _body = timed_get(opener, f"{base}/socialization/residents/without", runs)
        timings["without_filtered_page"], body = timed_get(opener, filtered, runs)
        link = re.search(r'<a href="([^"]+)" rel="next">', body)
        if link is None:
            raise RuntimeError("the filtered list has no second page")
        timings["without_next_page"], _body = timed_get(opener, base + html.unescape(link.group(1)), runs)
        for name, times in timings.items():
            say(f"{name}_p50_ms", round(statistics.median(times), 1))
            say(f"{name}_p95_ms", round(p95(times), 1))
    finally:
        server.terminate()
        server.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--residents", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--postgres", help="an empty PostgreSQL database URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.postgres or f"sqlite:///{Path(tmp) / 'bench.db'}"
        rt = node(url, Path(tmp))
        say("db", "postgresql" if args.postgres else "sqlite")
        text, _bad, stored = build_csv(generate(args.rows, seed=7), bad_every=1000)
        data = text.encode()
        seconds, plan = timed_import(rt, data)
        say("import_rows", args.rows)
        say("import_s", round(seconds, 2))
        say("import_stored", len(plan.new))
        say("import_errors", len(plan.errors))
        seconds, plan = timed_import(rt, data)
        say("reimport_s", round(seconds, 2))
        say("reimport_unchanged", plan.unchanged)
        other = generate(args.rows, seed=8, district="640206", kelurahan=OTHER_KELURAHAN)
        figures = background_import(rt, build_csv(other, bad_every=1000)[0].encode(), OTHER_OFFICE)
        say("background_import_s", round(figures["seconds"], 2))
        say("background_stored", figures["imported"])
        say("background_slices", figures["slices"])
        say("background_slice_max_ms", round(figures["slice_max_ms"], 1))
        say("background_switch_ms", round(figures["switch_ms"], 1))
        fill(rt, args.residents)
        if args.postgres:  # as autovacuum would after a bulk load: the planner needs the statistics
            from sqlalchemy import text as sql

            with rt.transaction() as uow:
                uow.session.execute(sql("ANALYZE socialization_residents"))
                uow.session.execute(sql("ANALYZE socialization_case_states"))
        began = time.perf_counter()
        with rt.transaction() as uow:
            rebuild_cells(uow.session, OFFICE, date.today(), 17)
        say("recount_s", round(time.perf_counter() - began, 2))
        with rt.read() as s:
            say("residents", s.query(Resident).filter(Resident.office_code == OFFICE).count())
        pages(url, Path(tmp), args.runs)
        flag_pages(rt, args.runs)
        rt.close()


def flag_pages(rt, runs: int) -> None:
    """The flags page's query (keyset-paged by NIK): the first page, the sparsest filter (a
    NIK twice, which scans the registry's NIK index for its page), a walk of ten pages."""
    from simpul.plugins.socialization.flags import flags_page

    for label, kw in (("flags_first", {}), ("flags_nik_twice", {"kind": "nik_twice"})):
        times = []
        for _ in range(max(runs // 5, 3)):
            began = time.perf_counter()
            flags_page(rt, OFFICE, limit=50, **kw)
            times.append((time.perf_counter() - began) * 1000)
        say(f"{label}_median_ms", round(statistics.median(times), 1))
        say(f"{label}_max_ms", round(max(times), 1))
    began, cursor = time.perf_counter(), None
    for _ in range(10):
        page = flags_page(rt, OFFICE, after=cursor, limit=50)
        cursor = page["next"]
        if cursor is None:
            break
    say("flags_10_pages_ms", round((time.perf_counter() - began) * 1000))


if __name__ == "__main__":
    main()
