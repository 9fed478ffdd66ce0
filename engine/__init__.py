"""Simpul's engine: models, persistence, running cases, hooks and the plugin manager.

It imports no web framework and no plugin.  What is exported here (``__all__``) is the
engine's API: the CLI, the worker, the web app and plugins call these names, and only
these.  Every function taking a ``runtime`` runs in its own transaction, with office
isolation inside its queries.

Modules whose names start with ``_`` are the engine's own business.  The public modules
(``cases``, ``documents``, ``drafts``, ``models`` ...) are where the exported names are
defined; ``models`` and ``db.Base`` are also what a plugin builds its own tables on.
"""

from .actors import ROLES, Actor
from .auth import (
    active_actor,
    actor_for_token,
    authenticate,
    change_own_password,
    create_token,
    get_locale,
    get_user,
    list_tokens,
    list_users,
    revoke_token,
    save_user,
    session_fingerprint,
    set_locale,
)
from .case_migration import migrate_cases, migration_runs, plan_migration
from .cases import (
    cancel_case,
    claim_task,
    complete_task,
    deliver_message,
    get_case,
    get_task,
    list_cases,
    list_tasks,
    receive_message,
    retry_incident,
    start_case,
    unclaim_task,
)
from .comments import add_comment, list_comments
from .config import Config
from .db import Base
from .diagrams import case_diagram
from .directory import (
    actor_for,
    create_user,
    display_names,
    ensure_office,
    get_office,
    list_offices,
    office_names,
)
from .documents import (
    DocumentDamaged,
    format_mb,
    list_documents,
    max_upload_bytes,
    open_document,
    read_document,
    store_document,
)
from .drafts import (
    bundled_form,
    deploy_draft,
    editor_catalogue,
    get_draft,
    list_drafts,
    open_process,
    process_overview,
    save_draft,
    version_xml,
)
from .errors import Conflict, DeployError, Forbidden, InvalidInput, NotFound, PluginError, SimpulError, ValidationFailed
from .forms import CONTAINER_TYPES, INPUT_TYPES
from .hookspecs import hookimpl
from .i18n import LOCALES, N_
from .inbox import INBOX_MAX_PER_PAGE, INBOX_SORTS, INBOX_VIEWS, inbox_counts, inbox_options, inbox_page, mask_nik
from .labels import field_labels, step_names
from .plugin_types import CaseView, ServiceContext
from .procedures import start_form, startable_processes
from .processes import check_process, deploy_bundled, deploy_process, list_processes
from .requirements import requirements_for
from .resources import TRANSLATIONS_DIR
from .retry import backoff
from .runtime import Runtime
from .validation import validate_process
from .worker import run_due, run_forever

__all__ = [
    # actors, configuration, the runtime
    "Actor",
    "Config",
    "ROLES",
    "Runtime",
    # errors (each carries a message template and its parameters)
    "Conflict",
    "DeployError",
    "DocumentDamaged",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PluginError",
    "SimpulError",
    "ValidationFailed",
    # cases and tasks
    "cancel_case",
    "claim_task",
    "complete_task",
    "deliver_message",
    "get_case",
    "get_task",
    "list_cases",
    "list_tasks",
    "receive_message",
    "retry_incident",
    "start_case",
    "unclaim_task",
    "add_comment",
    "list_comments",
    "case_diagram",
    "requirements_for",
    # the clerks' inbox and the procedures they start
    "INBOX_MAX_PER_PAGE",
    "INBOX_SORTS",
    "INBOX_VIEWS",
    "inbox_counts",
    "inbox_options",
    "inbox_page",
    "mask_nik",
    "start_form",
    "startable_processes",
    "field_labels",
    "step_names",
    # documents
    "format_mb",
    "list_documents",
    "max_upload_bytes",
    "open_document",
    "read_document",
    "store_document",
    # processes: deploying, editing, migrating cases between versions
    "bundled_form",
    "check_process",
    "deploy_bundled",
    "deploy_draft",
    "deploy_process",
    "editor_catalogue",
    "get_draft",
    "list_drafts",
    "list_processes",
    "migrate_cases",
    "migration_runs",
    "open_process",
    "plan_migration",
    "process_overview",
    "save_draft",
    "validate_process",
    "version_xml",
    "CONTAINER_TYPES",
    "INPUT_TYPES",
    # offices, users, sign-in
    "active_actor",
    "actor_for",
    "actor_for_token",
    "authenticate",
    "change_own_password",
    "create_token",
    "create_user",
    "display_names",
    "ensure_office",
    "get_locale",
    "get_office",
    "get_user",
    "list_offices",
    "list_tokens",
    "list_users",
    "office_names",
    "revoke_token",
    "save_user",
    "session_fingerprint",
    "set_locale",
    # the worker
    "run_due",
    "run_forever",
    # for plugins: hooks, the types they are handed, their own tables and messages
    "Base",
    "CaseView",
    "LOCALES",
    "N_",
    "TRANSLATIONS_DIR",
    "ServiceContext",
    "backoff",
    "hookimpl",
]
