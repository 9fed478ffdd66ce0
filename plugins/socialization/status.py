"""Where a case stands, in the resident's terms rather than the office's.

The office sees BPMN steps, lanes and jobs; the resident sees one of a few stages (received,
documents missing, verified by the kelurahan, recorded, sent to the regency, being printed,
ready for pickup, handed over, closed).  ``resident_stage`` maps a case, as
``engine.get_case`` returns it, to its stage.  The mapping is by the bundled processes' step
ids, which the national procedures share; a step it does not know keeps the stage of the last
step it does know, so a regency's extra step never shows the resident something wrong.

Nothing here returns staff names, the full NIK or anything about another case: the stage is
built from the step ids, the case's own documents and the end reason only.
"""

from __future__ import annotations

from simpul.engine import N_

#: stage key -> (title, explanation), both English msgids.
STAGES = {
    "received": (
        N_("Application received"),
        N_("The office has your application and is checking your documents and data."),
    ),
    "documents_missing": (
        N_("Documents missing"),
        N_("Please bring the documents listed below to the office. Your application continues once they are in."),
    ),
    "verified": (
        N_("Verified by the kelurahan"),
        N_("Your data was verified. Come to the office for recording: photo, fingerprints, iris and signature."),
    ),
    "recorded": (
        N_("Recorded"),
        N_("Your photo, fingerprints and signature are recorded; the office is sending them to the regency."),
    ),
    "sent": (
        N_("Sent to the regency"),
        N_("Your data is at the regency civil registry (Disdukcapil), which checks it and prints the card."),
    ),
    "printing": (
        N_("Being printed"),
        N_("The regency is printing your card. A temporary certificate (suket) was issued meanwhile."),
    ),
    "ready": (
        N_("Ready for pickup"),
        N_("Your card is ready. Pick it up at the kecamatan office with this receipt."),
    ),
    "handed_over": (
        N_("Handed over"),
        N_("Your card was handed over. The application is finished."),
    ),
    "closed": (
        N_("Closed"),
        N_("Your application was closed."),
    ),
}

#: the order the resident sees them in (``documents_missing`` and ``closed`` are side stages).
PROGRESS = ("received", "verified", "recorded", "sent", "printing", "ready", "handed_over")

#: an open user task -> the stage the case is in while it waits.
OPEN_STEP_STAGE = {
    "Task_document_check": "received",
    "Task_await_documents": "documents_missing",
    "Task_residence_verification": "received",
    "Task_data_change_verification": "received",
    "Task_identity_match": "received",
    "Task_biometric_recording": "verified",
    "Task_biometric_update": "verified",
    "Task_rerecord_biometric": "verified",
    "Task_escalation": "sent",
    "Task_enrolment_resolution": "sent",
    "Task_receive_card": "printing",  # printed, on its way: not at the kecamatan yet
    "Task_handover": "ready",
}

#: a finished step -> the stage the case reached with it.
DONE_STEP_STAGE = {
    "Task_residence_verification": "verified",
    "Task_data_change_verification": "verified",
    "Task_identity_match": "verified",
    "Task_biometric_recording": "recorded",
    "Task_biometric_update": "recorded",
    "Task_rerecord_biometric": "recorded",
    "Service_send_to_regency": "sent",
    "temporary_certificate_issued": "printing",
    "card_printed": "printing",
    "Task_receive_card": "ready",  # the card batch reached the kecamatan (form card_arrival)
    "Task_handover": "handed_over",
}

#: the step a finished card case went through last (its handover).
HANDOVER_STEP = "Task_handover"

#: the log lines of ``case_event`` (kept from the first version of this plugin).
STATUS_LINES = {
    "case_started": N_("Your application was received."),
    "task_completed": N_("Step finished: {step}."),
    "message_received": N_("News from the regency office: {step}."),
    "case_cancelled": N_("Your application was closed: {detail}."),
}


def resident_status(event: dict, case) -> str | None:
    template = STATUS_LINES.get(event.get("kind"))
    if template is None:
        return None
    return template.format(step=event.get("step") or "", detail=event.get("detail") or "")


def done_steps(case: dict) -> list[tuple[str, str]]:
    """(step, at) of each milestone the case passed, oldest first."""
    return [
        (e["step"], e["at"])
        for e in case.get("events") or []
        if e.get("kind") in ("task_completed", "service_completed", "message_received") and e.get("step")
    ]


def received_keys(case: dict) -> set[str]:
    """Requirements ticked at the counter (``documents_received``) or uploaded as scans."""
    data = case.get("data") or {}
    return set(data.get("documents_received") or []) | set(data.get("documents_uploaded") or [])


def missing_documents(case: dict, requirements: list[dict]) -> list[dict]:
    """The case's requirements (as ``engine.requirements_for`` computes them) not yet received."""
    received = received_keys(case)
    return [r for r in requirements if r.get("key") not in received]


def resident_stage(case: dict) -> str:
    """The stage key of a case (see ``STAGES``)."""
    done = [step for step, _at in done_steps(case)]
    if case["status"] == "cancelled":
        return "closed"
    if case["status"] == "completed":
        return "handed_over" if HANDOVER_STEP in done else "closed"
    for task in case.get("open_tasks") or []:
        stage = OPEN_STEP_STAGE.get(task.get("step"))
        if stage == "ready" or stage == "documents_missing":
            return stage
    open_stages = [OPEN_STEP_STAGE[t["step"]] for t in case.get("open_tasks") or [] if t.get("step") in OPEN_STEP_STAGE]
    reached = [DONE_STEP_STAGE[s] for s in done if s in DONE_STEP_STAGE]
    candidates = open_stages + reached[-1:]
    if not candidates:
        return "received"
    return max(candidates, key=lambda s: PROGRESS.index(s) if s in PROGRESS else 0)


#: the bundled end events of a rejection (their names, the case's ``end_reason``) -> the
#: reason as a resident reads it (English msgids).  Another end event's name is shown without
#: its "Ditolak:"/"Ditutup:" prefix.
PLAIN_REASONS = {
    "Ditolak: data domisili tidak sesuai": N_("your address does not match the residence records of the kelurahan"),
    "Ditolak: perubahan data tidak sah": N_("the change of data you asked for could not be accepted"),
    "Ditolak: data tidak cocok dengan database": N_("your data does not match the population database"),
    "Ditutup: rekam ganda / gagal enrolmen": N_(
        "your fingerprints and photo are already recorded under another application, or the recording could not be used"
    ),
}
_PREFIXES = ("Ditolak:", "Ditutup:", "Rejected:", "Closed:")


def plain_reason(end_reason: str | None) -> str:
    """Why a case was closed, in words a resident understands (a msgid, or the name as it is)."""
    reason = (end_reason or "").strip()
    if reason in PLAIN_REASONS:
        return PLAIN_REASONS[reason]
    for prefix in _PREFIXES:
        if reason.startswith(prefix):
            reason = reason[len(prefix) :].strip()
    return reason
