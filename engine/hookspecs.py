"""The hooks a Simpul plugin can implement.

A plugin is a module (or object) with functions marked ``@hookimpl`` (``from engine import
hookimpl``), named exactly as the specifications below.  Built-in plugins and a regency's own
are registered the same way; see docs/plugins.md.  An implementation of a hook that is not
specified here stops the node at start-up, so a typo never fails silently.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("simpul")
hookimpl = pluggy.HookimplMarker("simpul")


@hookspec
def processes():
    """Called when processes are deployed at ``simpul init`` (and by ``simpul processes deploy``
    without a path).  Return a list of paths: BPMN files, or directories whose ``*.bpmn``
    files are deployed.  A directory's ``forms/`` subdirectory is searched for the
    ``<formKey>.form.json`` files its user tasks use.  Results of all plugins are combined;
    content already deployed is skipped."""


@hookspec
def form_dirs():
    """Called when a process is validated or deployed.  Return a list of directories holding
    ``<formKey>.form.json`` form-js schemas that BPMN user tasks may reference (beside the
    bundled ``processes/forms``).  Results are combined; the first file found wins."""


@hookspec
def service_operators():
    """Called once when the runtime starts.  Return a dict mapping an operator name (the
    ``spiffworkflow:serviceTaskOperator`` id in BPMN, e.g. ``coordination.send_to_regency``) to
    a callable ``handler(ctx, **params) -> dict``.  ``ctx`` is an ``engine.ServiceContext``
    (the case, its data, ``ctx.send(...)`` for the outbox); ``params`` are the BPMN
    parameters, already evaluated in the sandbox.  The returned dict (JSON values only) is
    stored in the task's result variable.  Raise to fail the attempt; the worker retries with
    backoff and raises an incident after the last try.  Results are merged; two plugins
    providing the same name stop the node at start-up."""


@hookspec
def document_requirements(procedure, data):
    """Called whenever a case's document checklist is shown or checked (the document-check
    step cannot complete while one is missing).  ``procedure`` is the process key (e.g.
    ``ektp_replacement``), ``data`` the case's task data.  Return a list of dicts
    ``{"key": str, "label": str, "label_en": str, "source": str}``; return ``[]`` when the plugin
    has no requirement for this case.  ``label`` is an English msgid (never text already
    translated), translated where the checklist is shown through the core catalogue and the
    plugins' (``translation_dirs``); ``label_en``, optional, is shown instead in English.
    Results of all plugins are combined; a later plugin's entry with the same key replaces an
    earlier one."""


@hookspec
def validate_task_data(case, step, form_key, data):
    """Called before a user task is completed, after the form's own validation passed and
    before anything is written.  ``case`` is an ``engine.CaseView``; ``step`` the BPMN element
    id; ``data`` the submitted values merged over the case data.  Return a dict
    ``{field: [message, ...]}`` (use ``"_"`` for errors not tied to a field) or ``None``.
    Each message follows the message contract of ``simpul.engine.i18n``: a plain msgid, or a
    ``simpul.engine.Message`` -- the msgid template and its parameters,
    ``Message("Required document missing: {label}", label=Message(label_msgid))``, and
    ``Message.plural(singular, plural, n, ...)`` where a count is involved -- never English
    text already formatted.  It is translated where it is shown (the web app: the request's
    locale; the CLI: the node's), a ``Message`` parameter with it.  Results are combined; any
    error refuses the completion."""


@hookspec
def validate_case_start(procedure, office_code, data):
    """Called before a case is started, after the start form's validation passed.
    ``procedure`` is the process key, ``office_code`` the office that starts it, ``data`` the
    start data.  Return ``{field: [message, ...]}`` or ``None``, messages as for
    ``validate_task_data``; results are combined and any error refuses the start with nothing
    written."""


@hookspec
def case_event(event, case):
    """Called after the transaction that recorded an event has committed (never for a
    rolled-back change).  ``event`` is a dict (kind, actor, at, step, detail, after), ``case``
    an ``engine.CaseView``.  The return value is ignored; an exception is logged and does not
    undo the event.  Use it for notifications and statistics."""


@hookspec(firstresult=True)
def deliver_outbox_message(runtime, message):
    """Called by the worker for each due outbox message, oldest first and in order within a
    case.  ``message`` is a dict (message_id, case_id, source_office, destination_office,
    kind, payload, attempts).  Return ``True`` when the destination has accepted it (it is
    then marked sent), ``False`` to try again later with backoff, or ``None`` if this plugin
    does not deliver to that destination.  The first non-``None`` result wins.  An exception
    also means "try again later", with its text as the message's last error; if it has a
    ``retry_at`` attribute (an aware datetime) the next attempt is then, not after the backoff."""


@hookspec
def translation_dirs():
    """Called when message catalogues are loaded.  Return a list of directories laid out as
    ``<locale>/LC_MESSAGES/messages.mo`` (or only ``messages.po``, compiled when loaded) with
    the plugin's own translations, plural forms under the catalogue's own ``Plural-Forms``.
    Combined: each plugin catalogue is a fallback behind the core one, so it adds msgids and
    never changes how a core msgid is translated."""


@hookspec
def register_commands(cli):
    """Called once when the ``simpul`` command starts, before arguments are parsed.  ``cli`` is
    the Click group; add subcommands with ``@cli.command()`` or ``cli.add_command(...)``.
    The return value is ignored."""


@hookspec
def web_blueprints(runtime):
    """Called once by the web app factory.  Return a list of Flask blueprints (pages or API
    endpoints a plugin adds); each is registered on the app as it is.  Results are combined.
    The engine itself never imports Flask: only the web layer calls this hook."""


@hookspec
def bpmn_messages():
    """Called whenever a diagram is validated in process administration (at every save of a
    draft and before it is deployed).  Return a dict mapping each BPMN message name the
    plugin delivers or answers (the ``name`` of a ``bpmn:message``, e.g. ``card_printed``) to
    ``{"correlation": str, "description": str}``: ``correlation`` names the key a message is
    matched to a waiting case by (in Simpul always ``"receipt"``: the case's correlation key,
    carried to the regency case).  A diagram that catches or throws a message no plugin
    names, or one without a correlation key, cannot be deployed.  Results of all plugins are
    merged; the same name given twice with different correlation keys is a PluginError."""
