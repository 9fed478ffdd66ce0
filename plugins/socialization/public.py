"""What the public pages, the public API and the receipt slip show, built from public engine
functions only (``engine.get_case``, ``engine.requirements_for``, ``engine.list_processes``,
``engine.step_timings``) so a regency's plugin could build the same.

Every text is translated here with the node's catalogues for the given locale, so the web
pages, the JSON and the PDF say the same words.
"""

from __future__ import annotations

from dataclasses import dataclass

from simpul import engine
from simpul.engine import N_, NotFound

from .expected import basis, expected_date, timings
from .lookup import code_matches, lookup_code, normalise_code, normalise_receipt
from .status import PROGRESS, STAGES, missing_documents, plain_reason, received_keys, resident_stage

#: procedures residents can apply for at the counter: title, who it is for, and the variants
#: whose document lists differ (each variant is start data handed to ``requirements_for``).
PROCEDURES = {
    "ektp_new_card": {
        "title": N_("New e-KTP recording"),
        "who": N_("Citizens aged 17 or more, or married, who have never been recorded for an e-KTP."),
        "variants": [{"label": None, "data": {}}],
    },
    "ektp_renewal": {
        "title": N_("e-KTP renewal or data change"),
        "who": N_(
            "Residents whose data changed (address, marital status, ...) and foreigners with a permanent stay"
            " permit whose card expires."
        ),
        "variants": [
            {"label": N_("Renewal"), "data": {"request_type": "renewal"}},
            {"label": N_("Data change"), "data": {"request_type": "data_change"}},
        ],
    },
    "ektp_replacement": {
        "title": N_("Replacement of a lost or damaged e-KTP"),
        "who": N_("Residents whose e-KTP was lost or damaged."),
        "variants": [
            {"label": N_("Card lost"), "data": {"reason": "lost"}},
            {"label": N_("Card damaged"), "data": {"reason": "damaged"}},
        ],
    },
}

STEPS = (
    N_("Come to the kecamatan office with the documents listed here; the service is free of charge."),
    N_("The counter checks your documents and gives you a receipt with a lookup code."),
    N_("The kelurahan verifies your residence data."),
    N_("Recording at the kecamatan: photo, fingerprints, iris and signature."),
    N_("The data is sent to the regency civil registry (Disdukcapil), which prints the card."),
    N_("When the card is ready, pick it up at the kecamatan with your receipt."),
)

ALWAYS_BRING = N_("A copy of your family card (Kartu Keluarga) and the application form F-1.02")
DEFAULT_HOURS = N_("Monday to Friday, 08:00 to 15:00 (except public holidays)")

MSG_NO_MATCH = N_(
    "No application matches this receipt number and lookup code at this office. Check both on your receipt."
)
MSG_BAD_RECEIPT = N_("This is not a receipt number. It looks like 640205-2026-00042.")
MSG_BAD_CODE = N_("This is not a lookup code. It has eight letters and digits, like ABCD-EFGH.")


#: the languages of the resident's pages (Indonesian first: the default).
PAGE_LOCALES = ("id", "en")


class LookupRefused(Exception):
    """A lookup that shows nothing: ``field`` is ``receipt``, ``code`` or ``None`` (no match)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def _plain(words, end_reason) -> str | None:
    reason = plain_reason(end_reason)
    return words(reason) if reason else None


@dataclass
class Words:
    """The node's catalogues for one locale."""

    locale: str
    runtime: object

    def __post_init__(self):
        if self.locale not in PAGE_LOCALES:
            self.locale = "id"
        self._t = self.runtime.translations(self.locale)

    def __call__(self, message: str, **params) -> str:
        text = self._t.gettext(message)
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params) -> str:
        return self._t.ngettext(singular, plural, n).format(n=n, **params)

    def requirement(self, req: dict) -> str:
        if self.locale == "en" and req.get("label_en"):
            return req["label_en"]
        return self(req.get("label") or req.get("key", ""))

    def date(self, value) -> str:
        from babel.dates import format_date

        return format_date(value, format="long", locale=self.locale)


def office_info(runtime, words: Words) -> dict:
    """Where and when to come, and whom to ask: node settings, with plain defaults."""
    cfg = runtime.config
    return {
        "name": runtime.setting("office_public_name") or cfg.office_name,
        "address": runtime.setting("office_address") or "",
        "hours": runtime.setting("office_hours") or words(DEFAULT_HOURS),
        "contact": runtime.setting("office_contact") or "",
    }


def basis_text(words: Words, b: dict) -> str:
    if not b["typical_days"]:
        return words(N_("Not enough cards were handed over here recently to estimate a date."))
    text = words.ngettext(
        "Based on {n} card handed over by this office in the last {days} days.",
        "Based on {n} cards handed over by this office in the last {days} days.",
        b["cases"],
        days=b["days"],
    )
    if b["regency_days"]:
        text += " " + words.ngettext(
            "The regency returned cards in a median of {n} day.",
            "The regency returned cards in a median of {n} days.",
            b["regency_days"],
        )
    return text


def procedures(runtime, words: Words) -> list[dict]:
    """Each procedure this node runs, with the documents the installed plugins ask for."""
    deployed = {p["key"] for p in engine.list_processes(runtime)}
    result = []
    for key, info in PROCEDURES.items():
        if key not in deployed:
            continue
        variants = []
        for variant in info["variants"]:
            reqs = engine.requirements_for(runtime, key, dict(variant["data"]))
            variants.append(
                {
                    "label": words(variant["label"]) if variant["label"] else None,
                    "documents": [words(ALWAYS_BRING)] + [words.requirement(r) for r in reqs],
                }
            )
        b = basis(timings(runtime, runtime.config.office_code, key))
        result.append(
            {
                "key": key,
                "title": words(info["title"]),
                "who": words(info["who"]),
                "variants": variants,
                "steps": [words(s) for s in STEPS],
                "typical_days": b["typical_days"],
                "duration": (
                    words.ngettext(
                        "Typically {n} day from application to handover.",
                        "Typically {n} days from application to handover.",
                        b["typical_days"],
                    )
                    + " "
                    + basis_text(words, b)
                    if b["typical_days"]
                    else basis_text(words, b)
                ),
            }
        )
    return result


def find_public_case(runtime, receipt_input, code_input) -> dict:
    """The case a resident may see, or ``LookupRefused``: a bad input, a wrong code, an unknown
    receipt and another office's receipt all show nothing beyond the one message."""
    receipt = normalise_receipt(receipt_input)
    if receipt is None:
        raise LookupRefused(MSG_BAD_RECEIPT, "receipt")
    code = normalise_code(code_input)
    if code is None:
        raise LookupRefused(MSG_BAD_CODE, "code")
    if not code_matches(runtime.config, receipt, code):
        raise LookupRefused(MSG_NO_MATCH)
    try:
        case = engine.get_case(runtime, receipt, engine.Actor.system("public"))
    except NotFound:
        raise LookupRefused(MSG_NO_MATCH) from None
    if case["office"] != runtime.config.office_code or case["receipt"] != receipt:
        raise LookupRefused(MSG_NO_MATCH)
    return case


def resident_view(runtime, case: dict, words: Words) -> dict:
    """The case in the resident's terms: stage, missing documents, expected date and basis.
    Only this case's receipt, procedure, masked NIK and stage: no staff, no other case."""
    stage = resident_stage(case)
    requirements = engine.requirements_for(runtime, case["process"], case["data"])
    received = received_keys(case)
    missing = missing_documents(case, requirements)
    estimate = expected_date(runtime, case, stage)
    title, text = STAGES[stage]
    position = PROGRESS.index(stage) if stage in PROGRESS else -1
    if stage == "documents_missing":
        position = 0
    progress = []
    for i, key in enumerate(PROGRESS):
        if key == "printing" and stage != "printing":
            continue  # shown only for cases where a suket was issued
        state = "done" if i < position or stage == "handed_over" else ("current" if i == position else "todo")
        progress.append({"stage": key, "title": words(STAGES[key][0]), "state": state})
    procedure = PROCEDURES.get(case["process"], {})
    return {
        "receipt": case["receipt"],
        "procedure": case["process"],
        "procedure_title": words(procedure["title"]) if procedure else case["process_name"],
        "nik": engine.mask_nik(case["nik"]),
        "stage": stage,
        "stage_title": words(title),
        "stage_text": words(text),
        "closed_reason": (_plain(words, case["end_reason"]) if stage == "closed" else None),
        "progress": progress if stage != "closed" else [],
        "documents_received": [words.requirement(r) for r in requirements if r.get("key") in received],
        "documents_missing": [words.requirement(r) for r in missing],
        "expected_date": estimate["date"].isoformat() if estimate["date"] else None,
        "expected_date_text": words.date(estimate["date"]) if estimate["date"] else None,
        "basis": {**estimate["basis"], "text": basis_text(words, estimate["basis"])},
        "started": _local_date(runtime, case["created_at"]).isoformat(),
        "started_text": words.date(_local_date(runtime, case["created_at"])),
    }


def _local_date(runtime, at: str):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(at).astimezone(ZoneInfo(runtime.config.timezone)).date()


def slip_data(runtime, case: dict, words: Words, status_url: str) -> dict:
    """What the receipt slip prints (the resident's own data, masked NIK)."""
    view = resident_view(runtime, case, words)
    return {
        **view,
        "lookup_code": lookup_code(runtime.config, case["receipt"]),
        "resident_name": case["resident_name"],
        "status_url": status_url,
        "office": office_info(runtime, words),
    }
