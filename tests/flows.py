"""Walking the bundled e-KTP processes through the engine API, as a clerk would.

Also the one home of the new-card case's seed data -- a resident and what each step of the
kecamatan's and the regency's case is completed with (``RESIDENT``, ``STEP_DATA``) -- which
the tests, the durability driver and the benchmarks (bench/http_api.py, bench/scale.py,
bench/case_bytes.py) all import, so they cannot drift apart."""

from __future__ import annotations

from simpul.engine import complete_task, directory, get_task, list_tasks, requirements_for, start_case
from simpul.engine.worker import run_due

#: a resident of Sangasanga, everything but the NIK and the name
RESIDENT = {
    "birth_date": "2000-07-05",
    "sex": "P",
    "birth_place": "Sangasanga",
    "kk_number": "6402051203150004",
    "marital_status": "belum_kawin",
    "address": "Jl. Merdeka 4",
    "rt": "004",
    "rw": "002",
    "kelurahan": "Sangasanga Dalam",
}


def resident(n: int = 1, **extra) -> dict:
    """A resident with a valid NIK (born 5 July 2000, a woman: day 45)."""
    return {"nik": f"64020545070{n:05d}", "resident_name": f"Warga {n}", **RESIDENT, **extra}


def actor(rt, username):
    return directory.actor_for(rt, username)


def open_task(rt, receipt, username="camat", step=None):
    tasks = list_tasks(rt, actor(rt, username), case_receipt=receipt)
    if step:
        tasks = [t for t in tasks if t["step"] == step or t["name"] == step]
    assert tasks, f"no open task {step or ''} for {receipt}"
    return tasks[0]


def complete(rt, receipt, username, data, step=None):
    task = open_task(rt, receipt, username, step)
    if data is DOCS_OK:  # every document on the case's checklist, whichever plugins made it
        data = all_documents(rt, task, username)
    return complete_task(rt, task["id"], data, actor(rt, username), expected_version=task["version"])


#: "every document is here" at the document check: ``complete`` ticks the case's whole
#: checklist (the national one is the family card; a regency's plugin may add its own)
DOCS_OK = {"documents_complete": True, "documents_received": ["family_card"]}


def all_documents(rt, task, username="operator") -> dict:
    """The document check's data with every requirement of the case's checklist received."""
    checklist = get_task(rt, task["id"], actor(rt, username)).get("requirements") or []
    received = [r["key"] for r in checklist] or DOCS_OK["documents_received"]
    return {**DOCS_OK, "documents_received": received}


VERIFIED = {"residence_verified": True, "kelurahan_officer": "Budi"}
REJECTED = {"residence_verified": False, "rejection_reason": "alamat di luar kecamatan", "kelurahan_officer": "Budi"}
BIOMETRICS = {
    "photo_captured": True,
    "fingerprints_captured": True,
    "iris_captured": True,
    "signature_captured": True,
    "device_id": "REK-01",
}
HANDOVER = {"card_received": True, "receipt_signed": True, "received_by": "Warga"}
#: the card batch from the regency is received at the kecamatan before any handover
CARD_ARRIVED = {"card_arrived": True, "batch_reference": "KIRIM-2026-01"}
#: the regency's case, step by step, until the card is printed
REGENCY_STEPS = {
    "Task_regency_receive": {"data_complete": True},
    "Task_central_enrolment": {"enrolment_result": "PRINT_READY_RECORD"},
    "Task_blank_stock": {"blank_in_stock": True},
    "Task_print_card": {"card_serial": "KTP-X"},
}
#: every user step of a new card and its regency case: (who completes it, with what data)
STEP_DATA = {
    "Task_document_check": ("operator", DOCS_OK),
    "Task_residence_verification": ("verifier", VERIFIED),
    "Task_biometric_recording": ("operator", BIOMETRICS),
    "Task_receive_card": ("operator", CARD_ARRIVED),
    "Task_handover": ("operator", HANDOVER),
    **{step: ("disdukcapil", data) for step, data in REGENCY_STEPS.items()},
}


def step_data(rt, step: str) -> tuple[str, dict]:
    """``STEP_DATA[step]`` on this node: at the document check, every document its checklist
    (the installed plugins') asks of a new card, so a regency plugin's extra document is there."""
    who, data = STEP_DATA[step]
    if data is DOCS_OK:
        checklist = requirements_for(rt, "ektp_new_card", resident(1))
        data = {**DOCS_OK, "documents_received": [r["key"] for r in checklist] or DOCS_OK["documents_received"]}
    return who, data


def receive_and_hand_over(rt, receipt, username="operator"):
    """The card arrived at the office, then it is handed over (the end of every card case)."""
    complete(rt, receipt, username, CARD_ARRIVED, step="Task_receive_card")
    return complete(rt, receipt, username, HANDOVER, step="Task_handover")


def start_new_card(rt, n=1, username="operator", **extra):
    return start_case(rt, "ektp_new_card", resident(n, **extra), actor(rt, username))


def rejected_case(rt, n=3) -> str:
    """A new-card case closed by the kecamatan's verifier rejecting the residence; its receipt."""
    receipt = start_new_card(rt, n)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", REJECTED)
    return receipt


def run_worker_until_quiet(rt, rounds=10):
    total = {}
    for _ in range(rounds):
        counts = run_due(rt)
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
        if not any(counts[k] for k in ("timers", "services", "sent")):
            break
    return total


def printed_case(rt, n=1) -> str:
    """A new-card case walked through the kecamatan and the regency until its card is printed
    and on its way back (waiting at "Terima kartu dari Disdukcapil"); returns its receipt."""
    receipt = start_new_card(rt, n)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(rt)
    nik = resident(n)["nik"]
    printing = [t for t in list_tasks(rt, actor(rt, "disdukcapil")) if t["nik"] == nik][0]["receipt"]
    for step, data in REGENCY_STEPS.items():
        if step == "Task_print_card":
            data = {"card_serial": f"KTP-{n:04d}"}
        complete(rt, printing, "disdukcapil", data, step=step)
    run_worker_until_quiet(rt)
    return receipt
