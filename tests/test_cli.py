"""The ``simpul`` command, as a script or CI would drive it.

Commands run through the console entry point inside the test process (tests/cli_runner.py)
unless the process is the point: the exit codes and error lines a script sees, and
``simpul run`` serving pages, start real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .cli_runner import run_in_process
from .flows import BIOMETRICS, CARD_ARRIVED, HANDOVER, VERIFIED, resident

SIMPUL = str(Path(sys.executable).with_name("simpul"))


class Node:
    """One node's ``simpul`` command: ``node(*args)`` runs it in this process, ``node.process(*args)``
    as its own process (for what only a process shows); ``ok=False`` returns the completed run
    instead of asserting success and decoding ``--json``."""

    def __init__(self, env: dict):
        self.env = env

    def _result(self, proc, args, ok):
        if ok:
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout) if "--json" in args else proc.stdout
        return proc

    def __call__(self, *args, ok=True):
        return self._result(run_in_process(args, self.env), args, ok)

    def process(self, *args, ok=True):
        env = {k: v for k, v in {**os.environ, **self.env}.items() if v is not None}
        proc = subprocess.run([SIMPUL, *args], env=env, capture_output=True, text=True, timeout=120)
        return self._result(proc, args, ok)


@pytest.fixture
def node(tmp_path, db):
    simpul = Node(
        {
            "SIMPUL_DATABASE_URL": db,
            "SIMPUL_INSTANCE_PATH": str(tmp_path / "instance"),
            "SIMPUL_OFFICE_CODE": "640205",
            "SIMPUL_REGENCY_CODE": "6402",
            "SIMPUL_PLUGINS": None,
        }
    )
    simpul("init", "--demo")
    return simpul


def _task(simpul, receipt, user):
    tasks = simpul("tasks", "list", "--case", receipt, "--as", user, "--json")
    assert len(tasks) == 1, tasks
    return tasks[0]


def _checklist(simpul, procedure, data=None) -> list[str]:
    """The keys of a procedure's document checklist, as the installed plugins make it."""
    extra = ["--data", json.dumps(data)] if data else []
    return [item["key"] for item in simpul("requirements", procedure, *extra, "--json")]


def _all_documents(simpul, procedure, data=None) -> dict:
    """The document check with every document of the checklist received."""
    return {"documents_complete": True, "documents_received": _checklist(simpul, procedure, data)}


def _do(simpul, receipt, user, data):
    task = _task(simpul, receipt, user)
    simpul("tasks", "claim", task["id"], "--as", user, "--json")
    return simpul(
        "tasks",
        "complete",
        task["id"],
        "--as",
        user,
        "--data",
        json.dumps(data),
        "--version",
        str(task["version"] + 1),
        "--json",
    )


def test_every_process_runs_start_to_end_through_the_cli(node, tmp_path):
    simpul = node
    # New card, with the regency's printing case worked through the CLI too.
    data_file = tmp_path / "resident.json"
    data_file.write_text(json.dumps(resident(11)))
    new = simpul("cases", "start", "ektp_new_card", "--data", f"@{data_file}", "--as", "operator", "--json")
    receipt = new["receipt"]
    _do(simpul, receipt, "operator", _all_documents(simpul, "ektp_new_card"))
    _do(simpul, receipt, "verifier", VERIFIED)
    _do(simpul, receipt, "operator", BIOMETRICS)
    simpul("worker", "--once", "--json")
    printing = [
        c
        for c in simpul("cases", "list", "--status", "open", "--as", "disdukcapil", "--json")
        if c["nik"] == resident(11)["nik"]
    ][0]
    assert printing["process"] == "ektp_regency_printing"
    for data in (
        {"data_complete": True},
        {"enrolment_result": "PRINT_READY_RECORD"},
        {"blank_in_stock": True},
        {"card_serial": "6402-KTP-000011"},
    ):
        _do(simpul, printing["receipt"], "disdukcapil", data)
    simpul("worker", "--once", "--json")
    _do(simpul, receipt, "operator", CARD_ARRIVED)
    done = _do(simpul, receipt, "operator", HANDOVER)
    assert done["status"] == "completed"
    shown = simpul("cases", "show", printing["receipt"], "--as", "disdukcapil", "--json")
    assert shown["status"] == "completed"

    # Replacement of a lost card; the regency answers through the message API.
    rep = simpul(
        "cases",
        "start",
        "ektp_replacement",
        "--data",
        json.dumps(resident(12, reason="lost")),
        "--as",
        "operator",
        "--json",
    )["receipt"]
    _do(simpul, rep, "operator", _all_documents(simpul, "ektp_replacement", {"reason": "lost"}))
    _do(simpul, rep, "operator", {"identity_matched": True})
    simpul("worker", "--once", "--json")
    simpul(
        "messages",
        "send",
        "card_printed",
        "--key",
        rep,
        "--office",
        "640205",
        "--data",
        '{"card_serial": "6402-KTP-000012"}',
        "--json",
    )
    _do(simpul, rep, "operator", CARD_ARRIVED)
    assert _do(simpul, rep, "operator", HANDOVER)["status"] == "completed"

    # Renewal with a data change.
    ren = simpul(
        "cases",
        "start",
        "ektp_renewal",
        "--data",
        json.dumps(resident(13, request_type="data_change", changed_fields="alamat")),
        "--as",
        "operator",
        "--json",
    )["receipt"]
    _do(simpul, ren, "operator", _all_documents(simpul, "ektp_renewal", {"request_type": "data_change"}))
    _do(simpul, ren, "verifier", {"change_verified": True})
    _do(simpul, ren, "operator", BIOMETRICS)
    simpul("worker", "--once", "--json")
    simpul("messages", "send", "card_printed", "--key", ren, "--office", "640205", "--data", "{}", "--json")
    _do(simpul, ren, "operator", CARD_ARRIVED)
    assert _do(simpul, ren, "operator", HANDOVER)["status"] == "completed"

    closed = {c["receipt"]: c["status"] for c in simpul("cases", "list", "--as", "camat", "--json")}
    assert closed[receipt] == closed[rep] == closed[ren] == "completed"
    table = simpul("cases", "show", rep, "--as", "operator")
    assert "message_received" in table and "Penyerahan KTP-el" in table


@pytest.mark.parametrize(
    "args, message",
    [
        # in the node's language (SIMPUL_LOCALE, Indonesian by default), as the pages are
        (["cases", "start", "ektp_new_card", "--data", "[1, 2]"], "--data harus berupa objek JSON"),
        (["cases", "start", "ektp_new_card", "--data", "{nope"], "--data bukan JSON yang sah"),
        (["cases", "start", "no_such_process", "--data", "{}"], "Proses no_such_process belum dipasang"),
        (["tasks", "complete", "00000000-0000-0000-0000-000000000000", "--as", "operator"], "tidak ditemukan"),
        (["tasks", "list", "--as", "nobody"], "Pengguna nobody tidak dikenal"),
    ],
)
def test_errors_are_one_line_and_non_zero(node, args, message):
    proc = node.process(*args, ok=False)  # as a script sees it: the process's exit code and stderr
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_plugin_refusal_is_shown_in_the_node_language(node, tmp_path):
    """The verification plugin's NIK check reaches the operator with its values, in Indonesian."""
    from .flows import resident

    data = tmp_path / "bad_nik.json"
    data.write_text(json.dumps(resident(nik="6402054513000001")))
    proc = node("cases", "start", "ektp_new_card", "--data", f"@{data}", "--as", "operator", ok=False)
    assert proc.returncode == 1
    assert "nik: Digit 9\u201310 (13) bukan bulan lahir (01\u201312)." in proc.stderr, proc.stderr
    assert "month of birth" not in proc.stderr


def test_a_refused_diagram_lists_every_element_by_its_label(node):
    """A diagram from another tool: one line per refused element, its label before its id, in
    the node's language; nothing deployed."""
    corpus = Path(__file__).parent / "deploy_corpus" / "camunda_collaboration.bpmn"
    proc = node("processes", "deploy", str(corpus), ok=False)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 2, proc.stderr
    assert lines[0].startswith("Error: camunda_collaboration.bpmn tidak dapat dipasang: ")
    assert '"Warga mengajukan" (Process_citizen): Proses ini tidak dapat dijalankan' in lines[0]
    assert lines[1].startswith('  - "Kantor memproses" (Process_office): Proses ini tidak dapat dijalankan')
    assert "not executable" not in proc.stderr
    assert "camunda" not in str(node("processes", "list", "--json")).lower()


def test_deploying_a_bad_file_fails_cleanly(node, tmp_path):
    bad = tmp_path / "bad.bpmn"
    bad.write_text("<definitions>not bpmn</definitions>")
    proc = node("processes", "deploy", str(bad), ok=False)
    assert proc.returncode == 1 and "bukan berkas BPMN 2.0" in proc.stderr
    same = node("processes", "deploy", str(Path("processes/ektp_new_card.bpmn").resolve()), ok=False)
    assert same.returncode == 1 and "sudah dipasang sebagai ektp_new_card versi 1" in same.stderr
    listing = node("processes", "list", "--json")
    assert {p["key"]: p["latest"] for p in listing}["ektp_new_card"] == 1


def test_plugins_lists_builtins_with_their_hooks(node):
    rows = {r["name"]: r for r in node("plugins", "--json")}
    assert {"socialization", "verification", "coordination"} <= set(rows)
    assert "service_operators" in rows["coordination"]["hooks"]
    assert "document_requirements" in rows["verification"]["hooks"]


def test_run_serves_the_web_app_with_its_worker(node, tmp_path, db):
    """`simpul run` (the README's run command after init) answers on its port, and its
    embedded worker moves a case on without anyone running `simpul worker`."""
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "SIMPUL_DATABASE_URL": db,
        "SIMPUL_INSTANCE_PATH": str(tmp_path / "instance"),
        "SIMPUL_WORKER_POLL_SECONDS": "0.2",
    }
    receipt = node("cases", "start", "ektp_new_card", "--data", json.dumps(resident(21)), "--as", "operator", "--json")[
        "receipt"
    ]
    _do(node, receipt, "operator", _all_documents(node, "ektp_new_card"))
    _do(node, receipt, "verifier", VERIFIED)
    _do(node, receipt, "operator", BIOMETRICS)  # now a service job waits for a worker
    server = subprocess.Popen(
        [SIMPUL, "run", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2).status
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        while time.monotonic() < deadline:
            shown = node("cases", "show", receipt, "--as", "operator", "--json")
            if any(e["kind"] == "service_completed" for e in shown["events"]):
                break
            time.sleep(0.3)
        assert any(e["kind"] == "service_completed" for e in shown["events"])
    finally:
        server.terminate()
        server.wait(10)


def test_the_camat_overrides_a_missing_document_with_a_reason(node):
    """``simpul tasks complete --override-reason``: the verification plugin's task input."""
    simpul = node
    receipt = simpul(
        "cases", "start", "ektp_new_card", "--data", json.dumps(resident(13)), "--as", "operator", "--json"
    )["receipt"]
    task = _task(simpul, receipt, "camat")
    args = [
        "tasks",
        "complete",
        task["id"],
        "--data",
        json.dumps({"documents_complete": True, "documents_received": []}),
    ]
    clerk = simpul(*args, "--as", "operator", "--override-reason", "KK hilang", ok=False)
    assert clerk.returncode == 1 and "Hanya pengawas (camat) yang boleh mengesampingkan" in clerk.stderr
    blank = simpul(*args, "--as", "camat", "--override-reason", " ", ok=False)
    assert blank.returncode == 1 and "override_reason" in blank.stderr
    refused = simpul(*args, "--as", "camat", ok=False)  # the rule holds for the camat without a reason
    assert refused.returncode == 1 and "Berkas persyaratan belum ada" in refused.stderr
    done = simpul(*args, "--as", "camat", "--override-reason", "KK terbakar, salinan menyusul", "--json")
    assert done["open_tasks"][0]["role"] == "verifier"
    events = simpul("cases", "show", receipt, "--as", "camat", "--json")["events"]
    override = next(e for e in events if e["kind"] == "requirements_overridden")
    assert override["actor"] == "camat" and override["detail"] == "KK terbakar, salinan menyusul"
    assert override["after"] == {"missing": _checklist(simpul, "ektp_new_card")}  # the family card, nationally


def test_a_rejection_needs_its_reason_on_the_command_line_too(node):
    """Issue 14 item 1 at the CLI: closing a case by "not matching" without a reason is refused
    and changes nothing; with the reason it closes, and the reason is in the timeline."""
    simpul = node
    receipt = simpul(
        "cases", "start", "ektp_new_card", "--data", json.dumps(resident(21)), "--as", "operator", "--json"
    )["receipt"]
    _do(simpul, receipt, "operator", _all_documents(simpul, "ektp_new_card"))
    task = _task(simpul, receipt, "verifier")
    refused = simpul(
        "tasks",
        "complete",
        task["id"],
        "--as",
        "verifier",
        "--data",
        json.dumps({"residence_verified": False, "kelurahan_officer": "Budi"}),
        ok=False,
    )
    assert refused.returncode != 0 and "rejection_reason" in refused.stderr, refused.stderr
    assert _task(simpul, receipt, "verifier")["step"] == "Task_residence_verification"  # still open
    forgotten = simpul(
        "tasks",
        "complete",
        task["id"],
        "--as",
        "verifier",
        "--data",
        json.dumps({"kelurahan_officer": "Budi"}),
        ok=False,
    )
    assert forgotten.returncode != 0 and "residence_verified" in forgotten.stderr  # no default decision
    done = simpul(
        "tasks",
        "complete",
        task["id"],
        "--as",
        "verifier",
        "--data",
        json.dumps(
            {"residence_verified": False, "rejection_reason": "Bukan warga RT 004", "kelurahan_officer": "Budi"}
        ),
        "--json",
    )
    assert done["status"] == "completed"
    assert "Bukan warga RT 004" in simpul("cases", "show", receipt, "--as", "operator")
