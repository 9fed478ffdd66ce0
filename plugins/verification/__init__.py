"""Verification: the national document requirements per procedure, and the check that the
document-check step cannot pass while one of them is missing.

Built-in plugin; registered exactly as a regency's own plugin would be.
"""
from engine import hookimpl

from .requirements import baseline_requirements, missing_documents


@hookimpl
def document_requirements(procedure, data):
    return baseline_requirements(procedure, data)


@hookimpl
def validate_task_data(case, step, form_key, data):
    if form_key != "document_check" or not data.get("documents_complete"):
        return None
    if data.get("requirements_override"):  # a supervisor's written, audited decision
        return None
    missing = missing_documents(data)
    if missing:
        return {"documents_received": ["Required document missing: {label}".format(label=m["label"])
                                       for m in missing]}
    return None
