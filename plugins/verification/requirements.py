"""The national baseline of documents per procedure (MoHA decision 9/2011), and what counts
as received.

A regency adds or replaces requirements through the ``document_requirements`` hook (see
examples/simpul-kutai-kartanegara): a later plugin's entry with the same key replaces ours.

**What counts as received.**  A requirement is received when the clerk ticked it in the
document-check checklist (``documents_received``: the paper was seen at the counter) *or*
a scan of it was uploaded to the case (``documents_uploaded``, which the engine fills from
the document store).  Ticking without an upload stays allowed on purpose: many offices have
no scanner on every desk and keep working through power cuts, and the tick is the clerk's
own, audited statement (it is in the ``task_completed`` event).  An upload is evidence on
top of that, so it counts on its own and the clerk need not tick it again.
"""

from __future__ import annotations

from simpul.engine import N_, Forbidden, Message

#: the keys the engine puts into the data the ``validate_task_data`` hook sees.
REQUIREMENTS_KEY = "document_requirements"
UPLOADED_KEY = "documents_uploaded"
RECEIVED_FIELD = "documents_received"


def requirement(key: str, label: str, source: str = "national", kind: str = "document", **extra) -> dict:
    """A checklist entry: ``label`` is an English msgid (the web layer and the CLI translate
    it); ``kind`` is ``document`` or ``photo`` (uploads to a photo get the photo checks)."""
    return {"key": key, "label": label, "label_en": label, "source": source, "kind": kind, **extra}


FAMILY_CARD = requirement("family_card", N_("Family card (Kartu Keluarga)"))
DAMAGED_CARD = requirement("damaged_card", N_("The damaged e-KTP"))
OLD_CARD = requirement("old_card", N_("The old e-KTP"))
CHANGE_EVIDENCE = requirement("change_evidence", N_("Evidence of the changed data"))

MSG_MISSING = N_("Required document missing: {label}")
MSG_NOT_A_REQUIREMENT = N_("{key} is not a requirement of this case.")
MSG_WRITE_WHY = N_("Write why the requirement is overridden.")
MSG_SUPERVISOR_ONLY = N_("Only a supervisor may override the document requirements.")

#: the input a supervisor gives beside the document-check form (``task_inputs`` hook).
OVERRIDE_INPUT = "override_reason"
OVERRIDDEN_EVENT = "requirements_overridden"


def baseline_requirements(procedure: str, data: dict) -> list[dict]:
    """New card: the family card.  Renewal: the same as a new card.  Data change: the old card
    and evidence of the change.  Damaged card: the damaged card.  Lost card: nothing
    nationally (regencies commonly add a police letter)."""
    if procedure == "ektp_new_card":
        return [dict(FAMILY_CARD)]
    if procedure == "ektp_renewal":
        if data.get("request_type") == "data_change":
            return [dict(OLD_CARD), dict(CHANGE_EVIDENCE)]
        return [dict(FAMILY_CARD)]
    if procedure == "ektp_replacement":
        return [dict(DAMAGED_CARD)] if data.get("reason") == "damaged" else []
    return []


def received_keys(data: dict) -> set[str]:
    """Requirements ticked at the counter or with an uploaded scan (see the module's docstring)."""
    return set(data.get(RECEIVED_FIELD) or []) | set(data.get(UPLOADED_KEY) or [])


def missing_documents(data: dict) -> list[dict]:
    """Requirements (as the engine computed them into the task data) not yet received."""
    received = received_keys(data)
    return [r for r in data.get(REQUIREMENTS_KEY) or [] if r.get("key") not in received]


def override_reason(extras: dict | None, actor) -> str | None:
    """The supervisor's written reason to complete the document check with a document
    missing, or None when none was given.  Anyone else giving one is refused (Forbidden),
    and so is an empty reason."""
    if not extras or OVERRIDE_INPUT not in extras:
        return None
    if actor is None or not actor.has_role("supervisor"):
        raise Forbidden(MSG_SUPERVISOR_ONLY)
    reason = str(extras[OVERRIDE_INPUT]).strip()
    return reason


def check_document_step(data: dict, extras: dict | None = None, actor=None) -> dict | None:
    """The document-check rule: ``documents_complete`` cannot be ticked while a requirement is
    missing, unless a supervisor overrides it with a written reason given with this very
    completion (an override of an earlier step never counts: it is not in ``extras``)."""
    reason = override_reason(extras, actor)
    if reason is not None and not reason:
        return {OVERRIDE_INPUT: [MSG_WRITE_WHY]}
    if REQUIREMENTS_KEY not in data:
        return None
    known = {r.get("key") for r in data.get(REQUIREMENTS_KEY) or []}
    errors = [Message(MSG_NOT_A_REQUIREMENT, key=k) for k in data.get(RECEIVED_FIELD) or [] if k not in known]
    if data.get("documents_complete") and not reason:
        errors += [Message(MSG_MISSING, label=Message(r.get("label") or r.get("key"))) for r in missing_documents(data)]
    return {RECEIVED_FIELD: errors} if errors else None


def record_override(data: dict, extras: dict | None, actor) -> dict | None:
    """What a completed override leaves: a timeline event with the reason, naming the
    documents that were missing (``task_completing`` hook).  The event is the record; the case
    data stays the clerks' own."""
    reason = override_reason(extras, actor)
    if not reason or REQUIREMENTS_KEY not in data:
        return None
    missing = [r["key"] for r in missing_documents(data)]
    if not data.get("documents_complete") or not missing:
        return None  # nothing was overridden
    return {"events": [{"kind": OVERRIDDEN_EVENT, "detail": reason, "after": {"missing": missing}}]}


def override_shown(runtime, task: dict, actor) -> bool:
    """The task page offers the override to a supervisor on a document check while a
    requirement is neither ticked nor uploaded."""
    from simpul.engine import list_documents

    if not actor.has_role("supervisor") or not task.get("requirements"):
        return False
    uploaded = [d["requirement"] for d in list_documents(runtime, task["case_id"], actor) if d.get("requirement")]
    data = {**task["case_data"], REQUIREMENTS_KEY: task["requirements"], UPLOADED_KEY: uploaded}
    return bool(missing_documents(data))
