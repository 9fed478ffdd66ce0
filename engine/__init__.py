"""Simpul's engine: models, persistence, running cases, hooks and the plugin manager.

It imports no web framework and no plugin: the CLI, the worker, the web app and the tests
all drive it through the functions exported here.
"""

from . import documents, recap, stats, supervision
from .actors import ROLES, Actor
from .cases import (
    cancel_case,
    case_page,
    claim_task,
    complete_task,
    deliver_message,
    get_case,
    get_task,
    list_cases,
    list_tasks,
    receive_message,
    requirements_for,
    retry_incident,
    start_case,
    task_inputs,
    unclaim_task,
)
from .config import Config
from .db import Base
from .decisions import task_outcome
from .documents import list_documents, open_document, store_document
from .errors import Conflict, DeployError, Forbidden, InvalidInput, NotFound, PluginError, SimpulError, ValidationFailed
from .hookspecs import hookimpl
from .i18n import N_, Message
from .i18n import render as render_message
from .inbox import mask_nik
from .keys import derived_key, node_secret
from .models import UTCDateTime
from .plugin_events import queue_office_message, record_case_event
from .processes import check_process, deploy_bundled, deploy_process, list_processes
from .runtime import Runtime
from .step_timings import step_timings
from .workflow import CaseView, ServiceContext

__all__ = [
    "Actor",
    "Base",
    "N_",
    "UTCDateTime",
    "CaseView",
    "Config",
    "Conflict",
    "DeployError",
    "Forbidden",
    "InvalidInput",
    "Message",
    "render_message",
    "NotFound",
    "PluginError",
    "ROLES",
    "Runtime",
    "ServiceContext",
    "SimpulError",
    "ValidationFailed",
    "cancel_case",
    "case_page",
    "check_process",
    "claim_task",
    "complete_task",
    "deliver_message",
    "deploy_bundled",
    "deploy_process",
    "derived_key",
    "documents",
    "get_case",
    "get_task",
    "hookimpl",
    "list_cases",
    "list_documents",
    "list_processes",
    "list_tasks",
    "mask_nik",
    "node_secret",
    "open_document",
    "queue_office_message",
    "receive_message",
    "record_case_event",
    "requirements_for",
    "recap",
    "stats",
    "supervision",
    "retry_incident",
    "start_case",
    "step_timings",
    "store_document",
    "task_inputs",
    "task_outcome",
    "unclaim_task",
]
