"""Simpul's engine: models, persistence, running cases, hooks and the plugin manager.

It imports no web framework and no plugin: the CLI, the worker, the web app and the tests
all drive it through the functions exported here.
"""

from .actors import ROLES, Actor
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
from .config import Config
from .db import Base
from .errors import Conflict, DeployError, Forbidden, InvalidInput, NotFound, PluginError, SimpulError, ValidationFailed
from .hookspecs import hookimpl
from .i18n import Message
from .processes import check_process, deploy_bundled, deploy_process, list_processes
from .runtime import Runtime
from .workflow import CaseView, ServiceContext

__all__ = [
    "Actor",
    "Base",
    "CaseView",
    "Config",
    "Conflict",
    "DeployError",
    "Forbidden",
    "InvalidInput",
    "Message",
    "NotFound",
    "PluginError",
    "ROLES",
    "Runtime",
    "ServiceContext",
    "SimpulError",
    "ValidationFailed",
    "cancel_case",
    "check_process",
    "claim_task",
    "complete_task",
    "deliver_message",
    "deploy_bundled",
    "deploy_process",
    "get_case",
    "get_task",
    "hookimpl",
    "list_cases",
    "list_processes",
    "list_tasks",
    "receive_message",
    "retry_incident",
    "start_case",
    "unclaim_task",
]
