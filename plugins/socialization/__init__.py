"""Socialization: telling residents what to bring and where their case stands.

* public procedure pages (``/layanan``, ``/en/layanan``) with the documents the installed
  plugins ask for (``document_requirements``, the same list the counter checks);
* the receipt slip (tanda terima) the operator prints when a case starts, with its lookup
  code and a QR code to the status page (``simpul cases receipt RECEIPT -o slip.pdf``);
* the public status lookup (``/cek``, ``GET /api/v1/public/status``) with an expected date
  from this office's own recent cases;
* a plain-language status line per case event on the ``simpul.socialization`` log channel.

Built-in plugin; registered exactly as a regency's own plugin would be, and using only the
hooks of ``engine.hookspecs`` and the functions ``simpul.engine`` exports.
"""

import logging

from simpul.engine import hookimpl

from .status import resident_status

log = logging.getLogger("simpul.socialization")


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
def web_blueprints(runtime):
    from .web import make_blueprint

    return [make_blueprint(runtime)]


@hookimpl
def register_commands(cli):
    from .cli import receipt_command

    cases = cli.commands.get("cases")
    if cases is not None and "receipt" not in cases.commands:
        cases.add_command(receipt_command)


@hookimpl
def case_event_recorded(runtime, event, case, queue, note):
    from .notify import queue_notifications

    queue_notifications(runtime, event, case, queue, note)


@hookimpl
def plugin_settings():
    from .notify import declaration

    return declaration()


@hookimpl
def event_labels():
    from .notify_events import LABELS

    return dict(LABELS)


@hookimpl(tryfirst=True)
def deliver_outbox_message(runtime, message):
    from .notify import deliver

    return deliver(runtime, message)
