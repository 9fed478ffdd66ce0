"""The document checklist of a case, as the installed plugins compute it
(``document_requirements`` hook)."""

from __future__ import annotations

#: the form field (``valuesKey``) that shows a case's checklist; the engine hands the
#: checklist to ``validate_task_data`` under this key.
REQUIREMENTS_KEY = "document_requirements"


def requirements_for(runtime, procedure: str, data: dict) -> list[dict]:
    """The document checklist for a case, as the installed plugins compute it.

    Plugins' lists are combined in registration order; a later entry with the same key
    replaces an earlier one (a regency may reword or tighten a national requirement)."""
    combined: dict[str, dict] = {}
    for result in reversed(runtime.hook.document_requirements(procedure=procedure, data=dict(data))):
        for item in result or []:
            if isinstance(item, dict) and item.get("key"):
                combined[item["key"]] = dict(item)
    return list(combined.values())
