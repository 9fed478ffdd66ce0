"""Verification: identity checks when a case starts, the document checklist of each procedure,
the rule that the document check cannot pass while a document is missing, and the pages to
upload and download the scans.

A built-in plugin, registered exactly as a regency's own plugin is (see docs/plugins.md).
The engine itself refuses a second open case for the same NIK in an office, naming the open
case; this plugin does not repeat that.
"""

from __future__ import annotations

from simpul.engine import hookimpl

from .identity import check_applicant
from .requirements import baseline_requirements, check_document_step


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
def validate_task_data(case, step, form_key, data):
    return check_document_step(data)


@hookimpl
def register_commands(cli):
    from simpul.cli.verification import requirements_command

    if "requirements" not in cli.commands:
        cli.add_command(requirements_command)


@hookimpl
def web_blueprints(runtime):
    from .web import make_blueprint

    return [make_blueprint(runtime)]
