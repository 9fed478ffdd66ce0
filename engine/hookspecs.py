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
def document_requirements(runtime, procedure, data):
    """Called whenever a case's document checklist is shown or checked (the document-check
    step cannot complete while one is missing).  ``runtime`` is the node's
    ``engine.Runtime`` (for ``runtime.plugin_settings``), ``procedure`` the process key (e.g.
    ``ektp_replacement``), ``data`` the case's task data.  Return a list of dicts
    ``{"key": str, "label": str, "label_en": str, "source": str}``; return ``[]`` when the plugin
    has no requirement for this case.  ``label`` is an English msgid (never text already
    translated), translated where the checklist is shown through the core catalogue and the
    plugins' (``translation_dirs``); ``label_en``, optional, is shown instead in English.
    Results of all plugins are combined; a later plugin's entry with the same key replaces an
    earlier one."""


@hookspec
def validate_task_data(case, step, form_key, data, extras, actor):
    """Called before a user task is completed, after the form's own validation passed and
    before anything is written.  ``case`` is an ``engine.CaseView``; ``step`` the BPMN element
    id; ``data`` the submitted values merged over the case data; ``extras`` the inputs given
    beside the form (``task_inputs``; ``{}`` when none); ``actor`` the ``engine.Actor``
    completing it (take only the arguments you need).  Raise ``engine.Forbidden`` when the
    actor may not give such an input at all.  Return a dict
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
    an ``engine.CaseView``.  The return value is ignored.  Each plugin's implementation is called
    on its own: an exception is logged with the plugin's name, does not undo the event, and
    does not keep the other plugins from hearing it.  Use it for notifications and statistics."""


@hookspec
def case_event_recorded(runtime, event, case, queue, note, session):
    """Called inside the transaction that records an event, right after the event is written
    and before anything is committed: what a plugin queues here is committed with the event, or
    rolled back with it (a notification for a step that never happened is never sent).
    ``runtime`` is the node's ``engine.Runtime``; ``event`` and ``case`` are as for
    ``case_event``.  ``queue(destination, kind, payload,
    key)`` adds a message to the outbox in that transaction: ``destination`` names who gets it
    (an office code, or a plugin's own address such as ``"resident"``), ``payload`` is JSON,
    ``key`` makes it idempotent (the same key queued twice is one message).  The worker hands
    it to ``deliver_outbox_message``, with retries and backoff, in queue order; it is not held
    behind the case's messages to other offices.  ``note(kind, detail=None, after=None)``
    records an event of the plugin's own ``kind`` on the case's timeline in that transaction
    (e.g. ``notification_queued``; the engine's own kinds are refused); ``after`` may hold
    ``{"msgid", "params"}``, which the timeline shows translated.  Take only the arguments you
    need.  The return value is ignored.  An exception is logged and drops only that plugin's
    messages and notes for this event: the event is recorded.
    ``session`` is that transaction's SQLAlchemy session, for a plugin's own summary tables
    (take it only if needed; never write the engine's tables through it)."""


@hookspec
def case_ended(runtime, case, session):
    """Called inside the transaction in which a case ends (its last step completed it, or it
    was cancelled), after its status, outcome and end reason are written and before anything
    is committed.  ``case`` is an ``engine.CaseView`` of the ended case (``status`` is
    ``completed`` or ``cancelled``; ``outcome`` and ``end_reason`` set); ``session`` is the
    transaction's session, for a plugin's own summary tables (never the engine's tables).  A
    case reopened later ends again, and this is called again.  Take only the arguments you
    need; the return value is ignored.  Each plugin is called on its own, in a savepoint: an
    exception is logged with the plugin's name, undoes that plugin's writes and not the end."""


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
    the Click group; add subcommands with ``@cli.command()`` or ``cli.add_command(...)``.  A
    command reaches the node's runtime (built on first use) as ``ctx.find_root().obj.runtime``
    (``@click.pass_context``).  The return value is ignored."""


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
def plugin_settings():
    """Called once when the runtime starts.  Return ``{"namespace": str, "defaults": dict}``
    (optionally ``"environment": {setting: "SIMPUL_..."}``) declaring the plugin's settings,
    or ``None``.  A node sets them in ``SIMPUL_SETTINGS`` under the namespace
    (``{"coordination": {"batch_size": 50}}``); a declared environment variable (read as
    on/off when the default is a bool, as text when it is text, else as JSON) comes between
    the default and ``SIMPUL_SETTINGS``, and dict values of both are merged one level.  Read
    them with ``runtime.plugin_settings(namespace)``: a fresh dict on every call, holding
    every declared key.  Declarations are combined (a plugin with several namespaces returns
    a list of them); two declarations of the same namespace stop the node at start-up
    (PluginError)."""


@hookspec
def node_started(runtime):
    """Called once when a runtime has been built (by ``simpul``, the web app, the worker or a
    test), after every plugin's settings are known and before it serves anything.  The
    database may not be migrated yet (``simpul init`` migrates after this), so check settings
    and prepare caches here, not tables.  The return value is ignored; raising
    ``engine.PluginError`` stops the node with its message (a misconfiguration found at once,
    not at the first request).  Every plugin is called, in registration order."""


@hookspec
def plugin_migrations():
    """Called when the database is migrated (``simpul init``, ``engine.migrate.upgrade``) and
    by the schema check.  Return ``{"name": str, "directory": path, "metadata": MetaData}``
    (``metadata`` optional: the plugin's tables, for the schema check) or ``None``.  The
    directory holds the plugin's own Alembic revision files; they form a history of their own,
    recorded in the table ``alembic_version_<name>``, and run after the engine's migrations
    (so the engine's tables exist), each plugin in registration order.  A plugin's first
    revision has ``down_revision = None``.  Results are combined; the same name twice is a
    PluginError."""


@hookspec
def expression_helpers(runtime):
    """Called once when the runtime starts.  Return a dict mapping a name to a callable that
    BPMN scripts, conditions and parameter expressions may call, like the built-in
    ``setting(name, default)``; ``None`` for none.  Helpers run outside the sandbox as trusted
    plugin code: take and return plain data only (the result is checked and refused
    otherwise).  Names must be plain identifiers not starting with ``_``.  Results are merged;
    a name given twice, or clashing with a sandbox name, stops the node (PluginError)."""


@hookspec
def event_labels():
    """Called once by the web app, when a case's timeline is first shown.  Return a dict
    mapping each event kind the plugin records (through ``task_completing`` or its own
    writes, e.g. ``requirements_overridden``) to an English msgid, the label the timeline
    shows; ``None`` for none.  Results are merged in registration order (a later plugin's
    label for the same kind wins); a kind nobody names is shown as it is."""


@hookspec
def task_inputs():
    """Called when ``simpul`` starts and whenever a task page is shown or a task completed.
    Return a list of inputs a user may give when completing a task besides its form:
    ``{"name": str, "label": msgid, "help": msgid, "shown": callable}``.  ``simpul tasks
    complete`` gets an option ``--<name with dashes>``; the JSON API accepts them under
    ``extras``; the task page shows the input as a text area where ``shown(runtime, task,
    actor)`` is true (``task`` as ``engine.get_task`` returns it; no ``shown``: never on the
    page).  Given values reach ``validate_task_data`` and ``task_completing`` as ``extras``; a
    name no plugin declared is refused.  Results are combined; a name declared twice is a
    PluginError."""


@hookspec
def task_completing(case, step, form_key, data, extras, actor):
    """Called while a user task is completed, after every validation passed, inside the
    completing transaction.  Arguments as ``validate_task_data``; ``extras`` the inputs given
    beside the form (see ``task_inputs``), ``actor`` the ``engine.Actor`` completing it.
    Return ``None`` or ``{"data": dict, "events": [{"kind": str, "detail": str, "after":
    dict}]}``: ``data`` is stored with the form's values (JSON values only); each event is
    recorded in the case's timeline before ``task_completed`` (with the step and the actor).
    Results are combined in registration order; a raise refuses the completion and nothing is
    written."""


@hookspec
def case_actions(runtime, case, actor):
    """Called by the web app when a case page or a task page is shown.  ``case`` is the case
    as ``engine.get_case`` returns it, ``actor`` the signed-in ``engine.Actor``.  Return a list
    of links the page shows as buttons: ``{"label": msgid, "endpoint": str, "values": dict}``
    (a Flask endpoint of the plugin's blueprint and its URL values; the page builds the URL)
    or ``{"label": msgid, "url": str}``; ``[]``/``None`` for none.  Labels are English msgids,
    translated where shown.  Results of all plugins are combined in registration order."""


@hookspec
def menu_links(runtime, actor):
    """Called by the web app for every page with the navigation bar, for a signed-in
    ``actor``.  Return a list of ``{"label": msgid, "endpoint": str, "values": dict}`` (or
    ``"url"``) to add to the menu after the core entries; ``[]``/``None`` for none.  Show a
    link only to the roles that may open the page.  Results are combined in registration
    order; a link whose endpoint the app does not have is left out."""


@hookspec
def live_checks(runtime, process_key):
    """Called by the web app when a case start form is shown.  Return a list of checks the
    page runs while the clerk types: ``{"field": str, "endpoint": str, "with": [field, ...],
    "ok": msgid, "min_length": int}``; once the field holds ``min_length`` characters (default
    1) and is left or changed, the browser sends the field's value and the ``with`` fields as query
    arguments to the endpoint (GET, JSON) and shows its answer ``{"ok": bool, "errors":
    [text]}`` beside the field.  Advisory only: the start is checked again by
    ``validate_case_start``.  Results are combined in registration order."""


@hookspec
def office_summaries(runtime, actor):
    """Called by the web dashboard for each viewer.  Return a list of the figures of offices
    that run their own node (and so are not in this node's database), as their node last sent
    them: ``{"office", "name", "as_of" (ISO time), "weeks": [{"week", "started", "recorded",
    "sent", "printed", "handed_over", "rejected", "breaches"}], "open_by_step": [{"step",
    "name", "name_en", "open", "overdue"}], "open_total", "overdue_total", "incidents"}``; only
    offices ``actor`` may see.  ``[]``/``None`` for none.  Results are combined."""


@hookspec
def run_due_work(runtime):
    """Called by the worker at every pass (``simpul worker``, the embedded worker, ``simpul
    worker --once`` and ``engine.run_due``), after the engine's due jobs and outbox messages,
    outside any transaction.  Do a bounded piece of the plugin's own background work (e.g. one
    queued import) in the plugin's own transactions.  Return how many units were done (``0``
    or ``None`` for none): a non-zero total makes the worker pass again at once instead of
    sleeping.  A raise is logged with the plugin's name and does not stop the other plugins or
    the worker.  Every plugin is called."""
