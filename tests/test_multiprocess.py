"""Two web and two worker processes on one PostgreSQL, twenty kecamatan at once: every new card
and its regency case go through, and no job, message or notification is done twice.

The processes are real ``simpul run --no-worker`` and ``simpul worker`` commands (as on
several machines); the clients use the JSON API, alternating between the two web servers;
the SMS gateway is a local HTTP server that counts the notifications it is sent."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from simpul.engine import auth, directory
from simpul.engine.models import Case, CaseEvent, InboxReceipt, Job, OutboxMessage

from .conftest import REGENCY
from .flows import BIOMETRICS, CARD_ARRIVED, HANDOVER, VERIFIED, resident, step_data

pytestmark = [pytest.mark.parametrize("db", ["postgresql"], indirect=True), pytest.mark.timeout(240)]

SIMPUL = str(Path(sys.executable).with_name("simpul"))
OFFICES = [f"6402{i:02d}" for i in range(1, 21)]
REGENCY_STEPS = [{"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True}]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway(BaseHTTPRequestHandler):
    received: Counter = Counter()

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Gateway.received[body["id"]] += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def call(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def wait_for_task(base, token, name, step, deadline):
    while time.monotonic() < deadline:
        items = call(base, token, "GET", f"/api/v1/tasks?view=roles&per_page=200&q={name.replace(' ', '+')}")["items"]
        found = [t for t in items if t["step"] == step and t["resident_name"] == name]
        if found:
            return found[0]
        time.sleep(0.1)  # the workers move the case between offices
    raise AssertionError(f"{name}: {step} never came")


def one_card(bases, tokens, errors, i, office, documents):
    try:
        web = bases[i % 2]  # the two web servers take turns
        clerk, regency = tokens[f"clerk{office}"], tokens["disdukcapil"]
        name = f"Warga Banyak {i}"
        data = {**resident(i + 1, phone="081234567890", notify_consent=True), "resident_name": name}
        data["nik"] = office + data["nik"][6:]
        call(web, clerk, "POST", "/api/v1/cases", {"process": "ektp_new_card", "data": data})
        stop = time.monotonic() + 180
        for step, values in (
            ("Task_document_check", documents),
            ("Task_residence_verification", VERIFIED),
            ("Task_biometric_recording", BIOMETRICS),
        ):
            task = wait_for_task(web, clerk, name, step, stop)
            call(bases[(i + 1) % 2], clerk, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": values})
        for step, values in zip(
            ("Task_regency_receive", "Task_central_enrolment", "Task_blank_stock", "Task_print_card"),
            [*REGENCY_STEPS, {"card_serial": f"KTP-{i:04d}"}],
            strict=True,
        ):
            task = wait_for_task(web, regency, name, step, stop)
            call(web, regency, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": values})
        for step, values in (("Task_receive_card", CARD_ARRIVED), ("Task_handover", HANDOVER)):
            task = wait_for_task(web, clerk, name, step, stop)
            call(web, clerk, "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": values})
    except Exception as exc:  # reported below with the office
        errors.append((office, repr(exc)))


def wait_ready(bases):
    deadline = time.monotonic() + 60
    for base in bases:
        while True:
            try:
                urllib.request.urlopen(base + "/login", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, "simpul run did not start"
                time.sleep(0.1)


def wait_outbox_drained(runtime):
    """The last notifications (the handover's) are sent by the workers after the step."""
    deadline = time.monotonic() + 60
    unsent = OutboxMessage.status != "sent"
    while time.monotonic() < deadline:
        with runtime.read() as s:
            if not s.scalar(select(func.count()).select_from(OutboxMessage).where(unsent)):
                return
        time.sleep(0.2)


def test_two_web_and_two_worker_processes_do_everything_once(runtime, db, tmp_path):
    with runtime.transaction() as uow:
        for code in OFFICES:
            directory.ensure_office(uow.session, code, f"Kecamatan {code}", "kecamatan", parent_code=REGENCY)
            directory.create_user(uow.session, f"clerk{code}", f"Clerk {code}", code, ["operator", "verifier"])
    tokens = {
        u: auth.create_token(runtime, u, "mp", auth.active_actor(runtime, u))[0]
        for u in [f"clerk{c}" for c in OFFICES] + ["disdukcapil"]
    }
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    env = {
        **os.environ,
        "SIMPUL_DATABASE_URL": db,
        "SIMPUL_INSTANCE_PATH": str(tmp_path / "instance"),
        "SIMPUL_WORKER_POLL_SECONDS": "2",
        "SIMPUL_SETTINGS": json.dumps(
            {"notifications": {"sms_webhook_url": f"http://127.0.0.1:{gateway.server_port}/sms"}}
        ),
    }
    ports = [free_port(), free_port()]
    processes = [
        subprocess.Popen([SIMPUL, "run", "--no-worker", "--port", str(p)], env=env, stdout=subprocess.DEVNULL)
        for p in ports
    ] + [subprocess.Popen([SIMPUL, "worker"], env=env, stdout=subprocess.DEVNULL) for _ in range(2)]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    errors = []
    try:
        wait_ready(bases)
        documents = step_data(runtime, "Task_document_check")[1]  # the node's whole checklist
        threads = [
            threading.Thread(target=one_card, args=(bases, tokens, errors, i, o, documents))
            for i, o in enumerate(OFFICES)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        wait_outbox_drained(runtime)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        gateway.shutdown()

    with runtime.read() as s:
        statuses = Counter(s.execute(select(Case.office_code == REGENCY, Case.status)).all())
        assert statuses == {(False, "completed"): 20, (True, "completed"): 20}
        # one regency case per new card: the start_case message applied once
        per_origin = Counter(s.scalars(select(Case.correlation_key).where(Case.office_code == REGENCY)))
        assert len(per_origin) == 20 and set(per_origin.values()) == {1}
        # every service task and every received message once per case and step
        done = Counter(
            s.execute(
                select(CaseEvent.case_id, CaseEvent.kind, CaseEvent.step).where(
                    CaseEvent.kind.in_(("service_completed", "message_received", "timer_fired"))
                )
            ).all()
        )
        assert done and set(done.values()) == {1}, [k for k, n in done.items() if n > 1]
        assert sum(1 for (_c, kind, _s) in done if kind == "message_received") == 20  # card_printed, each case
        assert s.scalar(select(func.count()).select_from(Job)) == 0
        outbox = Counter(s.execute(select(OutboxMessage.kind, OutboxMessage.status)).all())
        between_offices = sum(n for (kind, _status), n in outbox.items() if kind != "resident_notification")
        assert set(status for _kind, status in outbox) == {"sent"}
        assert s.scalar(select(func.count()).select_from(InboxReceipt)) == between_offices == 40
        notifications = outbox[("resident_notification", "sent")]
    assert notifications >= 20 and len(Gateway.received) == notifications
    assert set(Gateway.received.values()) == {1}  # no SMS sent twice
