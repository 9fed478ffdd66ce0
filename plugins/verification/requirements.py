"""The national baseline of documents per procedure (MoHA decision 9/2011).

A regency adds its own through the ``document_requirements`` hook (see
examples/simpul-kutai-kartanegara).
"""
from __future__ import annotations

from engine.i18n import N_

KK = {"key": "family_card", "label": N_("Family card (Kartu Keluarga)"), "source": "national"}
DAMAGED_CARD = {"key": "damaged_card", "label": N_("The damaged e-KTP"), "source": "national"}
OLD_CARD = {"key": "old_card", "label": N_("The old e-KTP"), "source": "national"}
CHANGE_EVIDENCE = {"key": "change_evidence", "label": N_("Evidence of the changed data"), "source": "national"}


def baseline_requirements(procedure: str, data: dict) -> list[dict]:
    if procedure == "ektp_new_card":
        return [KK]
    if procedure == "ektp_replacement":
        return [DAMAGED_CARD] if data.get("reason") == "damaged" else []
    if procedure == "ektp_renewal":
        if data.get("request_type") == "data_change":
            return [OLD_CARD, CHANGE_EVIDENCE]
        return [OLD_CARD]
    return []


def missing_documents(data: dict) -> list[dict]:
    """Requirements (as computed into the task data at the document check) not yet received."""
    received = set(data.get("documents_received") or [])
    return [r for r in data.get("document_requirements") or [] if r.get("key") not in received]
