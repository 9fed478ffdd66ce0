"""Simpul's engine: models, persistence, running cases, hooks and the plugin manager.

It imports no web framework and no plugin.  What is exported here (``__all__``) is the
engine's API: the CLI, the worker, the web app and plugins call these names, and only these
(``tests/test_engine_api.py`` holds them to it).  Every function taking a ``runtime`` runs in
its own transaction, with office isolation inside its queries; one taking a ``uow`` works
inside the caller's transaction (``with runtime.transaction() as uow:``), for a plugin that
writes its own tables in the same commit.

Public submodules, for what is better read with its module's name in front (also in
``__all__``, as modules):

* ``i18n`` -- the message contract: ``N_``, ``Message``, ``render``, ``LOCALES``,
  ``translations_for``, ``load_catalogue``;
* ``validators`` -- marshmallow validators whose messages keep their msgid;
* ``backup`` -- consistent copies of the database, restore, the start-up integrity check;
* ``documents`` -- scans of a case's documents and the upload limits;
* ``stats`` -- the camat's dashboard figures;
* ``recap`` -- the monthly recap (PDF, spreadsheet);
* ``supervision`` -- the supervisor's hands (reassign, release, move back, reopen).

Every other module is where an exported name is defined and is not imported from outside
the engine; modules whose names start with ``_`` are the engine's own business.
"""

from . import backup, documents, i18n, recap, stats, supervision, validators
from ._timeline import ENGINE_EVENT_KINDS
from .actors import ROLES, Actor
from .auth import (
    actor_for_token,
    authenticate,
    change_own_password,
    create_token,
    end_session,
    get_locale,
    get_user,
    list_tokens,
    list_users,
    open_session,
    revoke_token,
    save_user,
    session_actor,
    set_locale,
    token_actor_and_locale,
)
from .case_migration import migrate_cases, migration_runs, plan_migration
from .cases import (
    cancel_case,
    case_by_correlation,
    case_context,
    case_page,
    claim_task,
    complete_task,
    correlated_cases,
    count_tasks,
    deliver_message,
    get_case,
    get_task,
    has_cases,
    list_cases,
    list_tasks,
    receive_message,
    retry_incident,
    start_case,
    task_completion,
    task_inputs,
    unclaim_task,
)
from .comments import add_comment, list_comments
from .config import Config
from .db import Base
from .decisions import task_outcome
from .diagrams import case_diagram
from .directory import (
    OfficeInfo,
    actor_for,
    create_user,
    display_names,
    ensure_office,
    get_office,
    kelurahan_list,
    list_offices,
    office_colleagues,
    office_exists,
    office_names,
    user_exists,
)
from .documents import list_documents, open_document, store_document
from .drafts import (
    bundled_form,
    deploy_draft,
    deploy_preview,
    editor_catalogue,
    get_draft,
    open_process,
    process_overview,
    save_draft,
    version_xml,
)
from .errors import Conflict, DeployError, Forbidden, InvalidInput, NotFound, PluginError, SimpulError, ValidationFailed
from .forms import CONTAINER_TYPES, FILL_SIGNED_IN_USER, INPUT_TYPES, validate_form_data
from .hookspecs import hookimpl
from .i18n import LOCALES, N_, Message
from .i18n import render as render_message
from .ids import MAX_ID, as_id, strict_int
from .inbox import MAX_PER_PAGE as INBOX_MAX_PER_PAGE
from .inbox import SORTS as INBOX_SORTS
from .inbox import VIEWS as INBOX_VIEWS
from .inbox import inbox as inbox_page
from .inbox import inbox_counts, inbox_options, mask_nik
from .keys import derived_key, node_secret
from .migrate import upgrade as upgrade_database
from .models import UTCDateTime, utcnow
from .outbox import (
    book_outbox_delivery,
    defer_outbox_messages,
    discard_inbox_message,
    discard_outbox_message,
    inbox_receipt,
    lease_outbox_batch,
    note_message_event,
    outbox_overview,
    prune_sent_messages,
    record_inbox_receipt,
    retry_outbox_now,
    wake_outbox_destination,
    was_sent,
)
from .outcomes import OUTCOMES
from .plugin_events import queue_office_message, record_case_event
from .plugin_types import CaseView, ServiceContext
from .plugins import make_plugin_manager, plugin_info
from .procedures import field_labels, start_form, startable_processes
from .processes import check_process, deploy_bundled, deploy_process, list_processes
from .refusals import refusal_line
from .requirements import requirements_for
from .retry import backoff
from .runtime import Runtime, collect_task_inputs
from .slim import slim_rejected_cases
from .step_timings import step_timings
from .validation import validate_process
from .worker import run_due, run_forever

__all__ = [
    "FILL_SIGNED_IN_USER",
    "ENGINE_EVENT_KINDS",
    # the coordination outbox (plugins/coordination reads and prunes it through these)
    "discard_outbox_message",
    "outbox_overview",
    "prune_sent_messages",
    "retry_outbox_now",
    "was_sent",
    "office_exists",
    "case_by_correlation",
    # the coordination transport: batches and their outcome, receipts, correlated cases
    "book_outbox_delivery",
    "case_context",
    "correlated_cases",
    "defer_outbox_messages",
    "discard_inbox_message",
    "inbox_receipt",
    "lease_outbox_batch",
    "note_message_event",
    "record_inbox_receipt",
    "wake_outbox_destination",
    # public submodules (see above)
    "backup",
    "documents",
    "i18n",
    "recap",
    "stats",
    "supervision",
    "validators",
    # actors, configuration, the runtime, the database
    "Actor",
    "Config",
    "ROLES",
    "Runtime",
    "upgrade_database",
    "utcnow",
    # errors (each carries a message template and its parameters)
    "Conflict",
    "DeployError",
    "Forbidden",
    "InvalidInput",
    "Message",
    "render_message",
    "NotFound",
    "PluginError",
    "SimpulError",
    "ValidationFailed",
    "refusal_line",
    # identifiers in URLs and forms
    "MAX_ID",
    "as_id",
    "strict_int",
    # cases and tasks
    "cancel_case",
    "case_page",
    "claim_task",
    "complete_task",
    "deliver_message",
    "get_case",
    "get_task",
    "has_cases",
    "kelurahan_list",
    "list_cases",
    "count_tasks",
    "list_tasks",
    "receive_message",
    "queue_office_message",
    "record_case_event",
    "retry_incident",
    "start_case",
    "task_completion",
    "task_inputs",
    "task_outcome",
    "unclaim_task",
    "add_comment",
    "list_comments",
    "requirements_for",
    "step_timings",
    "OUTCOMES",
    # the clerks' inbox, the diagrams and labels they see, the procedures they start
    "INBOX_MAX_PER_PAGE",
    "INBOX_SORTS",
    "INBOX_VIEWS",
    "case_diagram",
    "field_labels",
    "inbox_counts",
    "inbox_options",
    "inbox_page",
    "mask_nik",
    "start_form",
    "startable_processes",
    # documents
    "list_documents",
    "open_document",
    "store_document",
    # forms
    "CONTAINER_TYPES",
    "INPUT_TYPES",
    "validate_form_data",
    # processes: deploying, editing, migrating cases between versions
    "bundled_form",
    "check_process",
    "deploy_bundled",
    "deploy_draft",
    "deploy_preview",
    "deploy_process",
    "editor_catalogue",
    "get_draft",
    "list_processes",
    "migrate_cases",
    "migration_runs",
    "open_process",
    "plan_migration",
    "process_overview",
    "save_draft",
    "validate_process",
    "version_xml",
    # offices, users, sign-in, sessions
    "OfficeInfo",
    "actor_for",
    "actor_for_token",
    "authenticate",
    "change_own_password",
    "create_token",
    "create_user",
    "display_names",
    "end_session",
    "ensure_office",
    "get_locale",
    "get_office",
    "get_user",
    "list_offices",
    "list_tokens",
    "list_users",
    "office_colleagues",
    "office_names",
    "open_session",
    "revoke_token",
    "save_user",
    "session_actor",
    "set_locale",
    "token_actor_and_locale",
    "user_exists",
    "derived_key",
    "node_secret",
    # the worker
    "run_due",
    "run_forever",
    "slim_rejected_cases",
    # plugins: the manager, hooks, the types they are handed, their own tables and messages
    "Base",
    "CaseView",
    "LOCALES",
    "N_",
    "ServiceContext",
    "UTCDateTime",
    "backoff",
    "collect_task_inputs",
    "hookimpl",
    "make_plugin_manager",
    "plugin_info",
]
