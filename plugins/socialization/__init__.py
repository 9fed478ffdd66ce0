"""Socialization: telling residents what to bring and where their case stands.

* public procedure pages (``/layanan``, ``/en/layanan``) with the documents the installed
  plugins ask for (``document_requirements``, the same list the counter checks);
* the receipt slip (tanda terima) the operator prints when a case starts, with its lookup
  code and a QR code to the status page (``simpul cases receipt RECEIPT -o slip.pdf``);
* the public status lookup (``/cek``, ``GET /api/v1/public/status``) with an expected date
  from this office's own recent cases;
* a plain-language status line per case event on the ``simpul.socialization`` log channel;
* the kelurahan resident registry (``registry``: import from CSV/XLSX, re-import diff), each
  resident's e-KTP state kept in step with the cases (``coverage``), the coverage figures and
  the list of residents without an e-KTP (``simpul residents ...``, ``/socialization/residents``).

Its tables are its own (``models``), created by its own Alembic history (``migrations/``,
``alembic_version_socialization``); its settings are declared by ``plugin_settings``
(``settings``).

Built-in plugin; registered exactly as a regency's own plugin would be, and using only the
hooks of ``engine.hookspecs`` and the functions ``simpul.engine`` exports.
"""

import logging
from importlib.resources import files
from pathlib import Path

from simpul.engine import N_, hookimpl

from .status import resident_status

log = logging.getLogger("simpul.socialization")

MIGRATIONS = Path(str(files(__name__))) / "migrations"


@hookimpl
def plugin_settings():
    """Two namespaces: ``socialization`` (registry, coverage) and ``notifications``."""
    from .notify import declaration
    from .settings import DECLARATION

    return [DECLARATION, declaration()]


@hookimpl
def plugin_migrations():
    from .models import Base

    return {"name": "socialization", "directory": MIGRATIONS, "metadata": Base.metadata}


@hookimpl
def menu_links(runtime, actor):
    if actor.office_code and any(actor.has_role(r) for r in ("operator", "verifier", "supervisor")):
        return [{"label": N_("Residents"), "endpoint": "residents.home"}]
    return []


@hookimpl
def case_event(event, case):
    line = resident_status(event, case)
    if line:
        log.info("%s: %s", case.receipt, line)


@hookimpl
def case_details(runtime, case):
    from .lookup import lookup_code

    return {"lookup_code": lookup_code(runtime.config, case.receipt)}


@hookimpl
def case_actions(runtime, case, actor):
    from .web import case_actions as actions

    return actions(runtime, case, actor)


@hookimpl
def run_due_work(runtime):
    from .import_jobs import run_due_work as run

    return run(runtime)


@hookimpl
def web_blueprints(runtime):
    from .campaigns_web import make_blueprint as campaigns_blueprint
    from .residents_web import make_blueprint as residents_blueprint
    from .web import make_blueprint

    return [make_blueprint(runtime), residents_blueprint(runtime), campaigns_blueprint(runtime)]


@hookimpl
def register_commands(cli):
    from .campaigns_cli import campaigns, visits
    from .cli import receipt_command
    from .residents_cli import residents

    for group in (residents, campaigns, visits):
        if group.name not in cli.commands:
            cli.add_command(group)
    cases = cli.commands.get("cases")
    if cases is not None and "receipt" not in cases.commands:
        cases.add_command(receipt_command)


@hookimpl
def case_event_recorded(runtime, event, case, queue, note, session):
    from .coverage import note_case_event
    from .notify import queue_notifications

    note_case_event(session, event, case)
    queue_notifications(runtime, event, case, queue, note)


@hookimpl
def case_ended(case, session):
    from .coverage import note_case_end

    note_case_end(session, case)


@hookimpl
def event_labels():
    from .notify_events import LABELS

    return dict(LABELS)


@hookimpl(tryfirst=True)
def deliver_outbox_message(runtime, message):
    from .notify import deliver

    return deliver(runtime, message)
