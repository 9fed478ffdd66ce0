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
    has no requirement for this case.  Results of all plugins are combined; a later plugin's
    entry with the same key replaces an earlier one."""


@hookspec
def validate_task_data(case, step, form_key, data):
    """Called before a user task is completed, after the form's own validation passed and
    before anything is written.  ``case`` is an ``engine.CaseView``; ``step`` the BPMN element
    id; ``data`` the submitted values merged over the case data.  Return a dict
    ``{field: [message, ...]}`` (use ``"_"`` for errors not tied to a field) or ``None``.
    Messages are English msgids, translated where shown.  Results are combined; any error
    refuses the completion."""


@hookspec
def validate_case_start(procedure, office_code, data):
    """Called before a case is started, after the start form's validation passed.
    ``procedure`` is the process key, ``office_code`` the office that starts it, ``data`` the
    start data.  Return ``{field: [message, ...]}`` or ``None``, as ``validate_task_data``;
    results are combined and any error refuses the start with nothing written."""


@hookspec
def case_event(event, case):
    """Called after the transaction that recorded an event has committed (never for a
    rolled-back change).  ``event`` is a dict (kind, actor, at, step, detail, after), ``case``
    an ``engine.CaseView``.  The return value is ignored; an exception is logged and does not
    undo the event.  Use it for notifications and statistics."""


@hookspec
def case_event_recorded(runtime, event, case, queue):
    """Called inside the transaction that records an event, right after the event is written
    and before anything is committed: what a plugin queues here is committed with the event, or
    rolled back with it (a notification for a step that never happened is never sent).
    ``runtime`` is the node's ``engine.Runtime``; ``event`` and ``case`` are as for
    ``case_event``.  ``queue(destination, kind, payload,
    key)`` adds a message to the outbox in that transaction: ``destination`` names who gets it
    (an office code, or a plugin's own address such as ``"resident"``), ``payload`` is JSON,
    ``key`` makes it idempotent (the same key queued twice is one message).  The worker hands
    it to ``deliver_outbox_message``, with retries and backoff, in queue order; it is not held
    behind the case's messages to other offices.  The return value is ignored.  An exception
    is logged and drops only that plugin's messages for this event: the event is recorded."""


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
    ``<locale>/LC_MESSAGES/messages.mo`` with the plugin's own translations.  Combined."""


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


@hookspec
def case_details(runtime, case):
    """Called by ``engine.get_case`` (so by ``simpul cases show``, the case page and
    ``GET /api/v1/cases/<receipt>``) after the reader's access to the case was checked.
    ``case`` is an ``engine.CaseView``.  Return a dict of extra top-level fields for the case
    (e.g. ``{"lookup_code": "ABCD-EFGH"}``; JSON values only) or ``None``.  Results are
    merged in registration order, a later plugin's key replacing an earlier one's; a key the
    engine itself returns (``receipt``, ``status``, ...) is never replaced."""


@hookspec
def case_links(runtime, case):
    """Called by the web layer when a clerk's case page is rendered (inside the request, so
    ``flask.url_for`` works).  ``case`` is the dict ``engine.get_case`` returned.  Return a
    list of ``{"label": str, "url": str}`` (``label`` an English msgid, translated where
    shown) for actions on the case the plugin offers, shown under the case title (e.g.
    printing the resident's receipt slip), or ``[]``.  Results are combined in order."""
