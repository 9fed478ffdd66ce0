"""A tiny local-rule plugin, loaded by import path in tests (SIMPUL_PLUGINS)."""

from simpul.engine import hookimpl


@hookimpl
def document_requirements(procedure, data):
    if procedure == "ektp_replacement" and data.get("reason") == "lost":
        return [{"key": "police_letter", "label": "Police report of the lost card", "source": "test"}]
    return []
