"""Service operators used by the e-KTP processes to move a case between offices."""

from __future__ import annotations

PRINTING_PROCESS = "ektp_regency_printing"
#: Task data that stays at the kecamatan (scans travel only on request).
LOCAL_ONLY_KEYS = {"documents", "document_files"}


def _inline_file(value) -> bool:
    """A file pasted into the data (a ``data:`` URL): it stays here like every scan."""
    return isinstance(value, str) and value.startswith("data:") and len(value) > 1024


def send_to_regency(ctx, process: str = PRINTING_PROCESS, **_params) -> dict:
    """Queue the recorded case for the regency's printing process (outbox, same transaction)."""
    regency = ctx.setting("regency_code") or ctx.config.regency_code
    data = {k: v for k, v in ctx.data.items() if k not in LOCAL_ONLY_KEYS and not _inline_file(v)}
    data.update(origin_office=ctx.office_code, origin_receipt=ctx.case.receipt)
    message_id = ctx.send(
        regency,
        "start_case",
        {
            "process": process,
            "office": regency,
            "correlation_key": ctx.case.correlation_key,
            "data": data,
        },
    )
    return {"sent_to": regency, "message_id": message_id}


def reply_to_origin(ctx, message: str, **_params) -> dict:
    """Send a BPMN message (``card_printed``, ``enrolment_problem``, ...) back to the kecamatan
    case this printing case came from."""
    origin = ctx.data.get("origin_office")
    if not origin:
        raise ValueError("this case has no origin office to answer")
    payload = {
        k: ctx.data.get(k)
        for k in ("card_serial", "enrolment_result", "enrolment_notes", "suket_number")
        if ctx.data.get(k) is not None
    }
    payload["regency_receipt"] = ctx.case.receipt
    message_id = ctx.send(
        origin,
        "message",
        {
            "name": message,
            "correlation_key": ctx.case.correlation_key,
            "data": payload,
        },
    )
    return {"sent_to": origin, "message": message, "message_id": message_id}
