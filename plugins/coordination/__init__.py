"""Coordination between offices: the kecamatan sends recorded cases to the regency registry
(Disdukcapil) and the regency answers, through the durable outbox.

Each office runs its own node; messages travel as signed, compressed HTTP batches between
them (``transport``, ``inbox``, ``protocol``), or are applied directly when both offices are
on one node.  See docs/coordination.md.

Built-in plugin; registered exactly as a regency's own plugin would be.
"""

from importlib.resources import files
from pathlib import Path

from simpul.engine import N_, PluginError, hookimpl

from .operators import reply_to_origin, send_to_regency
from .settings import DECLARATION, settings_for
from .transport import deliver

MIGRATIONS = Path(str(files(__name__))) / "migrations"  # a package resource: a real directory once installed


@hookimpl
def plugin_settings():
    return DECLARATION


@hookimpl
def node_started(runtime):
    # A peer without a url or secret is found when the node starts, not at the first delivery.
    try:
        settings_for(runtime)
    except (ValueError, TypeError) as exc:
        raise PluginError("The coordination settings are not valid: {error}", error=str(exc)) from exc


@hookimpl
def plugin_migrations():
    from . import summaries  # noqa: F401  (its table joins the metadata)
    from .models import Base

    return {"name": "coordination", "directory": MIGRATIONS, "metadata": Base.metadata}


@hookimpl
def service_operators():
    return {
        "coordination.send_to_regency": send_to_regency,
        "coordination.reply_to_origin": reply_to_origin,
    }


@hookimpl
def deliver_outbox_message(runtime, message):
    return deliver(runtime, message)


@hookimpl
def menu_links(runtime, actor):
    if actor.has_role("supervisor") or actor.has_role("system_admin"):
        return [{"label": N_("Coordination"), "endpoint": "coordination.status_page"}]
    return []


@hookimpl
def case_actions(runtime, case, actor):
    """On a case sent by another office (the regency's printing case): its scans, fetched
    from that office when the officer opens the page."""
    if (case.get("data") or {}).get("origin_office"):
        return [
            {
                "label": N_("Scans from the sending office"),
                "endpoint": "coordination.scans_page",
                "values": {"receipt": case["receipt"]},
            }
        ]
    return []


@hookimpl
def event_labels():
    return {
        "message_discarded": N_("Message discarded"),
        "message_undeliverable": N_("Message could not be delivered"),
    }


@hookimpl
def web_blueprints(runtime):
    from .web import blueprint

    return [blueprint(runtime)]


@hookimpl
def register_commands(cli):
    from .cli import register
    from .summaries import register_command

    register(cli)
    register_command(cli)


@hookimpl
def case_event_recorded(runtime):
    from .summaries import note_due

    note_due(runtime)


@hookimpl
def case_event():
    from .summaries import send_due

    send_due()


@hookimpl
def office_summaries(runtime, actor):
    from .summaries import office_summaries as kept

    return kept(runtime, actor)


@hookimpl
def bpmn_messages():
    # The regency's answers to a kecamatan case, delivered by receive_message and matched to
    # the waiting case by its receipt (the correlation key the regency case carries back).
    return {
        "card_printed": {
            "correlation": "receipt",
            "description": "The regency printed the card; it is on its way to the kecamatan.",
        },
        "enrolment_problem": {
            "correlation": "receipt",
            "description": "The regency found a problem with the recorded data (double record, failed enrolment).",
        },
        "temporary_certificate_issued": {
            "correlation": "receipt",
            "description": "The regency issued a temporary certificate (suket).",
        },
    }
