"""Document scans on request.

Messages carry a case's data, never its scans: over a 256 kbit/s uplink one scan weighs more
than a hundred cases.  When a regency officer needs to see a scan (a doubtful family card,
say) it is fetched from the office that holds it, for that case only, over the same signed
link: ``POST /coordination/documents`` with ``{"correlation_key"}`` lists the case's scans,
with ``{"correlation_key", "document_id"}`` returns one (base64 in the signed answer).

The holding office answers only the office its case was sent to (or came from); any other
peer is refused and logged.  Nothing fetched is stored at the regency: the officer looks,
and the kecamatan stays the one place the resident's papers are kept.
"""

from __future__ import annotations

import base64
import hashlib
import logging

from simpul.engine import N_, Actor, NotFound, SimpulError, case_by_correlation, get_case

from .inbox import Answer, _counterparts, _refuse, authenticate
from .settings import settings_for

DOCUMENTS_PATH = "/coordination/documents"
MSG_NO_ADDRESS = N_("No address is configured for office {office}.")
MSG_UNREACHABLE = N_("The scans could not be fetched from office {office}: {error}")
MSG_NOT_SENT = N_("Case {receipt} did not come from another office.")
security_log = logging.getLogger("simpul.security")


class ScansUnavailable(SimpulError):
    code = "scans_unavailable"
    status = 502


# -- the office that holds the scans -----------------------------------------------------------


def handle_documents_request(
    runtime, headers, body: bytes, path: str = DOCUMENTS_PATH, remote: str | None = None
) -> Answer:
    request = authenticate(runtime, headers, body, path, remote)
    if isinstance(request, Answer):
        return request
    key = request.document.get("correlation_key")
    case = case_by_correlation(runtime, str(key), request.destination)
    receipt = case["receipt"] if case is not None else None
    allowed = case is not None and request.source in _counterparts(case["data"] or {})
    if not allowed:
        return _refuse(
            runtime,
            403,
            "not_your_case",
            f"office {request.source} asked for the scans of case {key}, which it was not sent",
            request.source,
            remote,
            True,
        )
    from simpul.engine import documents

    reader = Actor(
        username=f"office:{request.source}", office_code=request.destination, display_name=f"office {request.source}"
    )
    try:
        listed = documents.list_documents(runtime, case["id"], reader)
        wanted = request.document.get("document_id")
        if wanted is None:
            return request.answer({"case": receipt, "documents": listed})
        if int(wanted) not in {d["id"] for d in listed}:
            return Answer.error(404, "not_found", f"case {receipt} has no document {wanted}")
        meta, content = documents.read_document(runtime, int(wanted), reader)
    except (SimpulError, ValueError, TypeError) as exc:
        return Answer.error(404, "not_found", exc.render() if isinstance(exc, SimpulError) else str(exc))
    security_log.info("office %s fetched scan %s of case %s", request.source, meta["id"], receipt)
    return request.answer({"case": receipt, "document": meta, "content": base64.b64encode(content).decode()})


# -- the office that asks for them -------------------------------------------------------------


def _origin(runtime, case_ref, actor) -> tuple[dict, str]:
    case = get_case(runtime, case_ref, actor)  # office isolation: the asker's own case only
    origin = (case["data"] or {}).get("origin_office")
    if not origin:
        raise NotFound(MSG_NOT_SENT, receipt=case["receipt"])
    return case, origin


def _ask(runtime, case, origin, document: dict) -> dict:
    from .transport import LinkDown, signed_request

    st = settings_for(runtime)
    peer = st.peer(origin)
    if peer is None:
        if origin in st.served_offices or not st.peers:
            return _ask_locally(runtime, case, origin, document)
        raise ScansUnavailable(MSG_NO_ADDRESS, office=origin)
    try:
        answer, _sent = signed_request(
            runtime, st, peer, case["office"], DOCUMENTS_PATH, {"correlation_key": case["correlation_key"], **document}
        )
    except LinkDown as exc:
        raise ScansUnavailable(MSG_UNREACHABLE, office=origin, error=str(exc)) from None
    return answer


def _ask_locally(runtime, case, origin, document) -> dict:
    """Both offices on one node: read the origin case's scans directly."""
    from simpul.engine import documents

    source = case_by_correlation(runtime, case["correlation_key"], origin)
    if source is None:
        raise NotFound(MSG_NOT_SENT, receipt=case["receipt"])
    reader = Actor(username=f"office:{case['office']}", office_code=origin)
    listed = documents.list_documents(runtime, source["id"], reader)
    if document.get("document_id") is None:
        return {"case": source["receipt"], "documents": listed}
    if int(document["document_id"]) not in {d["id"] for d in listed}:
        raise NotFound("{what} not found.", what="Document")
    meta, content = documents.read_document(runtime, int(document["document_id"]), reader)
    return {"case": source["receipt"], "document": meta, "content": base64.b64encode(content).decode()}


def list_scans(runtime, case_ref, actor: Actor) -> dict:
    """The scans the origin office holds for one of the actor's cases (fetched now)."""
    case, origin = _origin(runtime, case_ref, actor)
    answer = _ask(runtime, case, origin, {})
    return {
        "case": case["receipt"],
        "origin_office": origin,
        "origin_case": answer.get("case"),
        "documents": answer.get("documents") or [],
    }


def fetch_scan(runtime, case_ref, document_id: int, actor: Actor) -> tuple[dict, bytes]:
    """One scan, fetched from the origin office and checked against its SHA-256."""
    case, origin = _origin(runtime, case_ref, actor)
    answer = _ask(runtime, case, origin, {"document_id": int(document_id)})
    meta = answer.get("document") or {}
    content = base64.b64decode(answer.get("content") or "")
    if hashlib.sha256(content).hexdigest() != meta.get("sha256"):
        raise ScansUnavailable(MSG_UNREACHABLE, office=origin, error="the file does not match its checksum")
    return meta, content
