"""The document checklist of a case: what the installed plugins require
(``document_requirements`` hook) and which requirements already have an uploaded scan."""

from __future__ import annotations

from sqlalchemy import bindparam, select

from .models_documents import Document

UPLOADED_KEY = "documents_uploaded"

REQUIREMENTS_KEY = "document_requirements"


def requirements_for(runtime, procedure: str, data: dict) -> list[dict]:
    """The document checklist for a case, as the installed plugins compute it.

    Plugins' lists are combined in registration order; a later entry with the same key
    replaces an earlier one (a regency may reword or tighten a national requirement)."""
    combined: dict[str, dict] = {}
    for result in reversed(runtime.hook.document_requirements(runtime=runtime, procedure=procedure, data=dict(data))):
        for item in result or []:
            if isinstance(item, dict) and item.get("key"):
                combined[item["key"]] = dict(item)
    return list(combined.values())


_UPLOADED_KEYS = (
    select(Document.__table__.c.requirement_key).where(Document.__table__.c.case_id == bindparam("cid")).distinct()
)


def uploaded_requirement_keys(session, case_id: int) -> list[str]:
    """Requirement keys with at least one uploaded document (for the document-check rule)."""
    return sorted(session.connection().execute(_UPLOADED_KEYS, {"cid": case_id}).scalars())
