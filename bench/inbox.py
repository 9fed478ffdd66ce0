"""Inbox latency with 10,000 open tasks: the HTML inbox page and the API, median and p95.

    .venv/bin/python bench/inbox.py                 # SQLite in a temporary directory
    .venv/bin/python bench/inbox.py --tasks 10000 --requests 200
    .venv/bin/python bench/inbox.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/simpul_bench

Cases and their open tasks are bulk-inserted (the engine's start_case would take minutes
and is benchmarked in bench/engine.py); 90 % belong to the office being measured, the rest
to another kecamatan, so office isolation filters real rows.  Each request goes through the
whole Flask stack with Flask's test client: session or bearer token, the engine's inbox
query with its counts, and the template or the marshmallow schema.  Target: p95 < 100 ms
on SQLite.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

from simpul.engine import Config, Runtime, auth, deploy_bundled, directory
from simpul.engine.migrate import upgrade
from simpul.engine.models import Case, HumanTask, ProcessVersion, utcnow

ROOT = Path(__file__).resolve().parent.parent

OFFICE, OTHER, REGENCY = "640205", "640206", "6402"
PASSWORD = "bench-password-1"
STEPS = [  # step, name, name_en, role, form
    ("Task_document_check", "Pemeriksaan berkas", "Document check", "operator", "document_check"),
    (
        "Task_residence_verification",
        "Verifikasi domisili",
        "Residence verification",
        "verifier",
        "residence_verification",
    ),
    ("Task_biometric_recording", "Perekaman biometrik", "Biometric recording", "operator", "biometric_recording"),
    ("Task_handover", "Penyerahan KTP-el", "Card handover", "operator", "handover"),
]
NAMES = [
    "Nur Aisyah",
    "Rizky Ramadhan",
    "Hendra Wijaya",
    "Siti Rahma",
    "Budi Santoso",
    "Dewi Lestari",
    "Agus Salim",
    "Rina Marlina",
    "Joko Susilo",
    "Putri Ayu",
]


def seed(rt: Runtime, n_tasks: int) -> None:
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        directory.ensure_office(s, OFFICE, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
        directory.ensure_office(s, OTHER, "Kecamatan Muara Jawa", "kecamatan", parent_code=REGENCY)
        hashed = auth.hash_password(PASSWORD)
        directory.create_user(s, "operator", "Siti", OFFICE, ["operator"], password_hash=hashed)
        directory.create_user(s, "camat", "Camat", OFFICE, ["supervisor", "operator", "verifier"], password_hash=hashed)
        directory.create_user(s, "other", "Petugas Muara Jawa", OTHER, ["operator"], password_hash=hashed)
    deploy_bundled(rt, deployed_by="bench")
    rng = random.Random(42)
    now = utcnow()
    with rt.transaction() as uow:
        s = uow.session
        version_id = s.scalar(select(ProcessVersion.id).where(ProcessVersion.process_key == "ektp_new_card"))
        cases, tasks = [], []
        for i in range(1, n_tasks + 1):
            office = OFFICE if i % 10 else OTHER
            created = now - timedelta(minutes=rng.randint(10, 60 * 24 * 20))
            nik = f"640205{rng.randint(10, 71):02d}{rng.randint(1, 12):02d}{rng.randint(70, 99):02d}{i:04d}"[:16]
            cases.append(
                {
                    "id": i,
                    "receipt": f"{office}-2026-{i:05d}",
                    "office_code": office,
                    "process_key": "ektp_new_card",
                    "process_version_id": version_id,
                    "resident_nik": nik,
                    "resident_name": f"{rng.choice(NAMES)} {i}",
                    "status": "active",
                    "correlation_key": f"{office}-2026-{i:05d}",
                    "data": {"nik": nik},
                    "created_by": "bench",
                    "created_at": created,
                    "updated_at": created,
                    "lock_version": 1,
                }
            )
            step, name, name_en, role, form = rng.choices(STEPS, weights=(5, 3, 2, 1))[0]
            tasks.append(
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "case_id": i,
                    "office_code": office,
                    "step": step,
                    "name": name,
                    "name_en": name_en,
                    "lane": role,
                    "role": role,
                    "assignee": "operator" if (office == OFFICE and role == "operator" and i % 9 == 0) else None,
                    "form_key": form,
                    "instructions": None,
                    "created_at": created,
                    "due_at": created + timedelta(days=rng.choice((1, 3, 14))),
                    "version": 1,
                }
            )
        for start in range(0, len(cases), 1000):
            s.execute(insert(Case), cases[start : start + 1000])
            s.execute(insert(HumanTask), tasks[start : start + 1000])
    with rt.db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def measure(client, url: str, requests: int, headers=None) -> tuple[float, float, int]:
    for _ in range(5):  # warm caches, templates, the spec
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:300])
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    times.sort()
    p95 = times[max(0, int(round(0.95 * len(times))) - 1)]
    return statistics.median(times), p95, len(response.data)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    args = parser.parse_args(argv)

    from simpul.web import create_app

    with tempfile.TemporaryDirectory(prefix="simpul-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp}/simpul.db"
        rt = Runtime(Config(instance_path=Path(tmp) / "instance", database_url=url, office_code=OFFICE))
        upgrade(rt)
        t0 = time.perf_counter()
        seed(rt, args.tasks)
        print(
            f"seeded {args.tasks} open tasks ({args.tasks * 9 // 10} in office {OFFICE}) "
            f"in {time.perf_counter() - t0:.1f} s on {rt.db.dialect}"
        )

        app = create_app(runtime=rt, config={"TESTING": True})
        pages = {}
        for user in ("operator", "camat"):
            client = app.test_client()
            page = client.get("/login").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
            response = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
            assert response.status_code == 302, response.get_data(as_text=True)[:300]
            pages[user] = client
        api = app.test_client()
        bearer = {
            "Authorization": "Bearer " + auth.create_token(rt, "camat", "bench", auth.active_actor(rt, "camat"))[0]
        }
        bearer_op = {
            "Authorization": "Bearer "
            + auth.create_token(rt, "operator", "bench", auth.active_actor(rt, "operator"))[0]
        }

        scenarios = [
            ("HTML", "operator", "/inbox?view=roles", pages["operator"], None),
            ("HTML", "operator", "/inbox?view=mine", pages["operator"], None),
            ("HTML", "camat", "/inbox?view=office", pages["camat"], None),
            ("HTML", "camat", "/inbox?view=office&overdue=1&procedure=ektp_new_card", pages["camat"], None),
            ("HTML", "camat", "/inbox?view=office&q=aisyah&page=3", pages["camat"], None),
            ("HTML", "camat", "/inbox?view=office&sort=name&page=40", pages["camat"], None),
            ("API", "operator", "/api/v1/tasks?view=roles", api, bearer_op),
            ("API", "camat", "/api/v1/tasks?view=office", api, bearer),
            ("API", "camat", "/api/v1/tasks?view=office&nik=0042&overdue=true", api, bearer),
            ("API", "camat", "/api/v1/tasks?view=office&step=Task_handover&sort=-due&per_page=100", api, bearer),
        ]
        print(f"{args.requests} requests each, Flask test client, times in ms")
        print(f"{'kind':<5} {'user':<9} {'median':>7} {'p95':>7} {'bytes':>7}  url")
        worst = 0.0
        for kind, user, path, client, headers in scenarios:
            median, p95, size = measure(client, path, args.requests, headers)
            worst = max(worst, p95)
            print(f"{kind:<5} {user:<9} {median:7.1f} {p95:7.1f} {size:7d}  {path}")
        print(f"worst p95: {worst:.1f} ms (target < 100 ms on SQLite)")
        rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
