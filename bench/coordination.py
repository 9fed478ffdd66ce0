"""Draining an outbox backlog from a kecamatan to its regency over a weak link.

Two real nodes (separate SQLite databases, or PostgreSQL with --postgres), each with its own
inbox HTTP server on a loopback port.  Between them a throttling proxy plays the kecamatan's
uplink: 256 kbit/s each way and 300 ms round trips (a new connection pays one round trip
more).  The kecamatan records N new-card cases while the link is down, so N start_case
messages wait in its outbox; then the link comes up and the worker drains the backlog.
Timed: from the link coming up to the last message being acknowledged (all N printing cases
started at the regency).  Printed: the seconds taken and the bytes per case on the wire.

Run:  .venv/bin/python bench/coordination.py [--cases 500] [--kbit 256] [--rtt-ms 300]
                                             [--postgres URL-of-an-admin-database]
Target: the 500-message backlog drains in < 60 s.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Config, Runtime, directory
from simpul.engine.migrate import upgrade
from simpul.engine.models import Case, InboxReceipt, Job, OutboxMessage
from simpul.engine.worker import run_due, run_job
from simpul.plugins.coordination.web import make_inbox_app, serve
from tests.coordination.proxy import Proxy

ROOT = Path(__file__).resolve().parent.parent

KECAMATAN, REGENCY = "640205", "6402"
SECRET = "bench-shared-secret"
STEPS = (
    ("operator", {"documents_complete": True, "documents_received": ["family_card"]}),
    ("verifier", {"residence_verified": True, "kelurahan_officer": "Budi"}),
    (
        "operator",
        {
            "photo_captured": True,
            "fingerprints_captured": True,
            "iris_captured": True,
            "signature_captured": True,
            "device_id": "REK-01",
        },
    ),
)


FIRST = ("Siti", "Ahmad", "Dewi", "Budi", "Nur", "Rahmat", "Sri", "Agus", "Wahyuni", "Hendra", "Rina", "Yusuf")
LAST = ("Aminah", "Saputra", "Lestari", "Hidayat", "Rahmawati", "Setiawan", "Kurniawan", "Pratiwi", "Syahrani")
STREETS = ("Jl. Merdeka", "Jl. Pahlawan", "Jl. Sambutan", "Jl. Masjid", "Gg. Mawar", "Jl. Pelabuhan")
KELURAHAN = ("Sangasanga Dalam", "Sangasanga Muara", "Jawa", "Pendingin", "Sarijaya")


def resident(n: int) -> dict:
    """A resident with varied, realistic data (so compression is not flattered by copies)."""
    import random

    rng = random.Random(n)
    woman = rng.random() < 0.5
    day, month, year = rng.randint(1, 28), rng.randint(1, 12), rng.randint(1950, 2008)
    nik = f"640205{day + (40 if woman else 0):02d}{month:02d}{year % 100:02d}{n:04d}"
    return {
        "nik": nik,
        "resident_name": f"{rng.choice(FIRST)} {rng.choice(LAST)} {n}",
        "birth_date": f"{year:04d}-{month:02d}-{day:02d}",
        "sex": "P" if woman else "L",
        "birth_place": rng.choice(("Sangasanga", "Samarinda", "Tenggarong", "Balikpapan", "Makassar")),
        "kk_number": f"640205{rng.randint(10**9, 10**10 - 1)}",
        "marital_status": rng.choice(("belum_kawin", "kawin", "cerai_hidup")),
        "address": f"{rng.choice(STREETS)} No. {rng.randint(1, 200)}",
        "rt": f"{rng.randint(1, 30):03d}",
        "rw": f"{rng.randint(1, 9):03d}",
        "kelurahan": rng.choice(KELURAHAN),
    }


def databases(args, workdir: Path):
    if not args.postgres:
        return [f"sqlite:///{workdir / name}.db" for name in ("kecamatan", "regency")], lambda: None
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    names = [f"simpul_bench_{uuid.uuid4().hex[:8]}_{side}" for side in ("kec", "reg")]
    for name in names:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop():
        for name in names:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return [args.postgres.rsplit("/", 1)[0] + f"/{name}" for name in names], drop


def node(url, workdir, office, kind, peer_office, peer_url) -> Runtime:
    rt = Runtime(
        Config(
            instance_path=workdir / office,
            database_url=url,
            office_code=office,
            office_kind=kind,
            regency_code=REGENCY,
            settings={"coordination": {"peers": {peer_office: {"url": peer_url, "secret": SECRET}}}},
        )
    )
    upgrade(rt)
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        if kind == "kecamatan":
            directory.ensure_office(s, KECAMATAN, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
            directory.create_user(s, "operator", "Siti", KECAMATAN, ["operator"])
            directory.create_user(s, "verifier", "Budi", KECAMATAN, ["verifier"])
    engine.deploy_bundled(rt, deployed_by="bench")
    return rt


def record(rt, n: int) -> None:
    actors = {u: directory.actor_for(rt, u) for u in ("operator", "verifier")}
    for i in range(1, n + 1):
        receipt = engine.start_case(rt, "ektp_new_card", resident(i), actors["operator"])["receipt"]
        for user, data in STEPS:
            (task,) = engine.list_tasks(rt, actors[user], case_receipt=receipt)
            engine.complete_task(rt, task["id"], data, actors[user])
    with rt.read() as s:
        jobs = s.scalars(select(Job.id).where(Job.kind == "service")).all()
    for job_id in jobs:  # the send-to-regency steps: each writes its outbox message
        assert run_job(rt, job_id) == "done"


def count(rt, stmt) -> int:
    with rt.read() as s:
        return s.scalar(stmt) or 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--kbit", type=float, default=256.0, help="link speed each way, kbit/s")
    parser.add_argument("--rtt-ms", type=float, default=300.0, help="round-trip time, ms")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server (default: SQLite files)")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    workdir = Path(tempfile.mkdtemp(prefix="simpul-bench-coord-"))
    urls, drop = databases(args, workdir)
    link = Proxy(1, rate_bps=args.kbit * 1000, rtt=args.rtt_ms / 1000, mode="down")
    back = Proxy(1, mode="pass")
    kec = node(urls[0], workdir, KECAMATAN, "kecamatan", REGENCY, link.url)
    reg = node(urls[1], workdir, REGENCY, "regency", KECAMATAN, back.url)
    servers = [serve(make_inbox_app(kec)), serve(make_inbox_app(reg))]
    back.retarget(servers[0].port)
    link.retarget(servers[1].port)
    try:
        print(f"recording {args.cases} cases at the kecamatan while the link is down ...", flush=True)
        t0 = time.perf_counter()
        record(kec, args.cases)
        waiting = count(kec, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
        print(f"  {waiting} messages waiting in the outbox ({time.perf_counter() - t0:.1f} s to record)", flush=True)

        link.set_mode("pass")
        start = time.perf_counter()
        passes = 0
        while count(kec, select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")) > 0:
            run_due(kec, limit=500)
            passes += 1
            if time.perf_counter() - start > args.timeout:
                print("timed out", file=sys.stderr)
                return 1
        seconds = time.perf_counter() - start

        started = count(reg, select(func.count()).select_from(Case).where(Case.process_key == "ektp_regency_printing"))
        keys = count(reg, select(func.count(func.distinct(Case.correlation_key))))
        applied = count(reg, select(func.count()).select_from(InboxReceipt))
        assert started == keys == applied == args.cases, (started, keys, applied)
        per_case = (link.bytes_up + link.bytes_down) / args.cases
        print(
            f"link: {args.kbit:g} kbit/s each way, {args.rtt_ms:g} ms round trip; {link.connections} connection(s), "
            f"{passes} worker pass(es)"
        )
        print(
            f"bytes on the wire: {link.bytes_up} up, {link.bytes_down} down; "
            f"{link.bytes_up / args.cases:.0f} up + {link.bytes_down / args.cases:.0f} down per case"
        )
        print(
            f"drained {args.cases} messages in {seconds:.1f} s (target < 60 s); "
            f"{args.cases} printing cases started at the regency, each once"
        )
        print(f"seconds={seconds:.2f} bytes_per_case={per_case:.0f}")
        return 0
    finally:
        for server in servers:
            server.shutdown()
        link.close()
        back.close()
        kec.close()
        reg.close()
        drop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
