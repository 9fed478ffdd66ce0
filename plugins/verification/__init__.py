"""Verification: identity checks when a case starts, the document checklist of each procedure,
the rule that the document check cannot pass while a document is missing (and the
supervisor's override of it, with a written reason, in the timeline), and the pages to
upload and download the scans.

A built-in plugin, registered exactly as a regency's own plugin is (see docs/plugins.md).
The engine itself refuses a second open case for the same NIK in an office, naming the open
case; this plugin does not repeat that.

Public API for other plugins (documented, kept stable): ``check_nik(nik, birth_date=None,
sex=None)`` and ``check_kk_number(value)`` return the faults of an identity number as
messages (``[]`` when accepted), and ``check_eligibility(birth_date, marital_status)``
the national eligibility rule; import them from ``simpul.plugins.verification``.  The
socialization plugin checks every row of a kelurahan resident list with them, so the list
and the counter apply the same rules.
"""

from __future__ import annotations

from simpul.engine import N_, hookimpl

from .identity import check_applicant, check_eligibility, check_kk_number, check_nik
from .requirements import (
    OVERRIDDEN_EVENT,
    OVERRIDE_INPUT,
    baseline_requirements,
    check_document_step,
    override_shown,
    record_override,
)

__all__ = ["check_eligibility", "check_kk_number", "check_nik"]


@hookimpl
def validate_case_start(procedure, office_code, data):
    # A case forwarded by another office (the regency's printing case) was checked where it
    # started; refusing it here would only leave the message stuck in that office's outbox.
    if data.get("origin_receipt"):
        return None
    return check_applicant(data) or None


@hookimpl
def document_requirements(procedure, data):
    return baseline_requirements(procedure, data)


@hookimpl
def validate_task_data(case, step, form_key, data, extras, actor):
    return check_document_step(data, extras, actor)


@hookimpl
def task_inputs():
    return [
        {
            "name": OVERRIDE_INPUT,
            "label": N_("Override: complete although documents are missing"),
            "help": N_("Only a supervisor. Write why the step is completed without them; it is shown in the timeline."),
            "shown": override_shown,
        }
    ]


@hookimpl
def event_labels():
    return {OVERRIDDEN_EVENT: N_("Requirement overridden")}


@hookimpl
def task_completing(case, step, form_key, data, extras, actor):
    return record_override(data, extras, actor)


@hookimpl
def register_commands(cli):
    from .commands import requirements_command

    if "requirements" not in cli.commands:
        cli.add_command(requirements_command)


@hookimpl
def case_actions(runtime, case, actor):
    label = N_("Upload or view scans") if case["status"] in ("active", "incident") else N_("View scans")
    return [{"label": label, "endpoint": "verification.documents", "values": {"receipt": case["receipt"]}}]


@hookimpl
def live_checks(runtime, process_key):
    return [
        {
            "field": "nik",
            "endpoint": "verification.nik_check",
            "with": ["birth_date", "sex"],
            "ok": N_("The NIK matches its rules."),
            "min_length": 16,
        }
    ]


@hookimpl
def web_blueprints(runtime):
    from .web import make_blueprint

    return [make_blueprint(runtime)]
