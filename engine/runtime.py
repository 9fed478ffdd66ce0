"""The runtime: one per process (CLI, web app, worker, test), built by their factories.

It holds what every engine call shares: configuration, the database, the plugin manager,
the service operators the plugins provide, and the cache of parsed process specs.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ._specs import StateSerializer
from ._workflow_cache import WorkflowCache
from .config import Config
from .db import Database, after_commit, make_engine
from .errors import PluginError
from .i18n import gettext_for
from .plugins import make_plugin_manager
from .resources import PROCESSES_DIR
from .wakeup import CHANNEL, Wakeup

if TYPE_CHECKING:
    from ._sandbox_pool import SandboxPool

log = logging.getLogger("simpul.engine")


def _plain_data(value, depth: int = 0) -> bool:
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 20:
        return False
    if isinstance(value, (list, tuple)):
        return all(_plain_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_data(v, depth + 1) for k, v in value.items())
    return False


def checked_helper(name: str, function):
    """A plugin's expression helper as scripts see it: plain data (JSON values) out, or a
    clear script error, so no object of the node ever reaches a sandboxed script."""
    from ._sandbox import ScriptError, _check_data, _new_budget

    def helper(*args, **kwargs):
        result = function(*args, **kwargs)
        problem = None if _plain_data(result) else f"a {type(result).__name__} object is not plain data"
        problem = problem or _check_data(result, _new_budget())
        if problem:
            raise ScriptError(f"{name}() gave a value scripts cannot use: {problem}", "runtime")
        return result

    helper.__name__ = name
    return helper


def collect_task_inputs(hook) -> dict:
    """The ``task_inputs`` declarations of every plugin, by name (the CLI calls this too)."""
    inputs: dict = {}
    for impl in reversed(hook.task_inputs.get_hookimpls()):
        for decl in impl.function() or []:
            name = decl.get("name") if isinstance(decl, dict) else None
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
                raise PluginError(
                    "Plugin {plugin} declares a task input without a plain name.", plugin=impl.plugin_name
                )
            if name in inputs:
                raise PluginError("Task input {name} is declared twice.", name=name)
            inputs[name] = {**decl, "plugin": impl.plugin_name}
    return inputs


@dataclass(frozen=True)
class VersionInfo:
    id: int
    key: str
    name: str
    version: int
    forms: dict
    spec: tuple  # (spec, subprocess_specs)


@dataclass
class UnitOfWork:
    """One engine call's transaction, and the events to announce once it has committed."""

    session: Session
    events: list = field(default_factory=list)
    #: the runtime whose transaction this is (the ``case_event_recorded`` hook needs its plugins).
    runtime: Runtime | None = None


_POOL_LOCK = threading.Lock()


class Runtime:
    """A node's engine at run time: configuration, database, plugins and their hooks, the
    workflow cache; ``transaction()`` and ``read()`` open the unit of work every call runs in."""

    #: started at the first script (see ``sandbox_pool``)
    _sandbox_pool: SandboxPool | None = None

    def __init__(
        self, config: Config | None = None, *, engine: Engine | None = None, plugin_manager=None, extra_plugins=()
    ):
        self.config = config or Config.from_env()
        self.config.instance_path.mkdir(parents=True, exist_ok=True)
        self.db = Database(engine or make_engine(self.config.database_url))
        self.pm = plugin_manager or make_plugin_manager(self.config.plugins, extra_plugins)
        self.hook = self.pm.hook
        self.operators = self._collect_operators()
        self._settings_declared = self._collect_settings()
        self.expression_helpers = self._collect_expression_helpers()
        self.task_inputs = collect_task_inputs(self.hook)
        self._specs: dict[int, VersionInfo] = {}
        self._specs_lock = threading.Lock()
        self._local = threading.local()
        self.workflows = WorkflowCache(
            self.config.workflow_cache_size, max_bytes=int(self.config.workflow_cache_mb * 2**20)
        )
        self.wakeup = Wakeup(self.db.engine)
        for impl in reversed(self.hook.node_started.get_hookimpls()):  # registration order
            impl.function(self)

    def _collect_operators(self) -> dict:
        operators: dict = {}
        for impl in self.hook.service_operators.get_hookimpls():
            provided: Any = impl.function() or {}  # hook results are untyped: a dict by the spec
            for name, handler in provided.items():
                if name in operators:
                    raise PluginError(
                        "Service operator {op} is provided twice (by {a} and {b}).",
                        op=name,
                        a=operators[name][0],
                        b=impl.plugin_name,
                    )
                operators[name] = (impl.plugin_name, handler)
        return {name: handler for name, (_plugin, handler) in operators.items()}

    def _collect_settings(self) -> dict:
        declared: dict = {}
        for impl in self.hook.plugin_settings.get_hookimpls():
            result = impl.function()
            for decl in result if isinstance(result, list) else [result]:
                self._add_declaration(declared, impl.plugin_name, decl)
        return {namespace: decl for namespace, (_plugin, decl) in declared.items()}

    @staticmethod
    def _add_declaration(declared: dict, plugin: str, decl) -> None:
        if not decl:
            return
        namespace = decl.get("namespace") if isinstance(decl, dict) else None
        if not isinstance(decl, dict) or not namespace or not isinstance(decl.get("defaults", {}), dict):
            raise PluginError("Plugin {plugin} declares its settings without a namespace.", plugin=plugin)
        if namespace in declared:
            raise PluginError(
                "Settings {namespace} are declared twice (by {a} and {b}).",
                namespace=namespace,
                a=declared[namespace][0],
                b=plugin,
            )
        declared[namespace] = (plugin, decl)

    def _collect_expression_helpers(self) -> dict:
        from ._sandbox import RESERVED_NAMES
        from ._specs import SCRIPT_HELPERS

        helpers: dict = {}
        for impl in self.hook.expression_helpers.get_hookimpls():
            offered: Any = impl.function(self) or {}  # hook results are untyped: a dict by the spec
            for name, function in offered.items():
                plain = isinstance(name, str) and name.isidentifier() and not name.startswith("_")
                if not plain or name in RESERVED_NAMES or name in SCRIPT_HELPERS or not callable(function):
                    raise PluginError(
                        "Plugin {plugin} offers an expression helper {name} that is not allowed.",
                        plugin=impl.plugin_name,
                        name=str(name),
                    )
                if name in helpers:
                    raise PluginError(
                        "Expression helper {name} is provided twice (by {a} and {b}).",
                        name=name,
                        a=helpers[name][0],
                        b=impl.plugin_name,
                    )
                helpers[name] = (impl.plugin_name, function)
        return {name: checked_helper(name, function) for name, (_plugin, function) in helpers.items()}

    def plugin_settings(self, namespace: str) -> dict:
        """A plugin's settings: its declared defaults, then the environment variables it
        declared, then ``SIMPUL_SETTINGS[namespace]`` (see the ``plugin_settings`` hook)."""
        decl = self._settings_declared.get(namespace)
        if decl is None:
            raise PluginError("No plugin declares the settings {namespace}.", namespace=namespace)
        values = copy.deepcopy(decl.get("defaults") or {})
        layers = []
        for key, variable in (decl.get("environment") or {}).items():
            raw = self.config.environment.get(variable)
            if raw is not None:
                default = values.get(key)
                if isinstance(default, bool):
                    layers.append({key: raw.strip().lower() in ("1", "true", "yes", "on")})
                    continue
                try:
                    layers.append({key: raw if isinstance(default, str) else json.loads(raw)})
                except ValueError as exc:
                    raise PluginError(
                        "{variable} is not valid JSON: {error}", variable=variable, error=str(exc)
                    ) from exc
        own = (self.config.settings or {}).get(namespace)
        if isinstance(own, dict):
            layers.append(own)
        for layer in layers:
            for key, value in layer.items():
                if isinstance(values.get(key), dict) and isinstance(value, dict):
                    values[key] = {**values[key], **value}
                else:
                    values[key] = copy.deepcopy(value)
        return values

    # -- shared helpers --------------------------------------------------------------------

    @property
    def serializer(self) -> StateSerializer:
        """SpiffWorkflow's serializer is not thread-safe: one per thread."""
        ser = getattr(self._local, "serializer", None)
        if ser is None:
            ser = self._local.serializer = StateSerializer()
        return ser

    def spec_for(self, version) -> tuple:
        """The parsed spec of a process version, restored once and then cached."""
        return self.version_info(None, version.id, version).spec

    def version_info(self, session, version_id: int, version=None) -> VersionInfo:
        """A process version's spec and forms, read once (versions never change)."""
        cached = self._specs.get(version_id)
        if cached is None:
            with self._specs_lock:
                cached = self._specs.get(version_id)
                if cached is None:
                    if version is None:
                        from .models import ProcessVersion

                        version = session.get(ProcessVersion, version_id)
                    cached = self._specs[version_id] = VersionInfo(
                        id=version.id,
                        key=version.process_key,
                        name=version.name,
                        version=version.version,
                        forms=dict(version.forms or {}),
                        spec=self.serializer.load_spec(version.spec_json),
                    )
        return cached

    def form_dirs(self) -> list[Path]:
        dirs = [PROCESSES_DIR / "forms"]
        for result in self.hook.form_dirs():
            dirs.extend(Path(d) for d in result or [])
        return dirs

    def translation_dirs(self) -> list[str]:
        return [str(d) for result in self.hook.translation_dirs() for d in (result or [])]

    def gettext(self, locale: str | None = None):
        return gettext_for(locale or self.config.locale, tuple(self.translation_dirs()))

    def translations(self, locale: str | None = None):
        """The node's catalogues (the core's and the plugins') for ``locale``: an object with
        ``gettext`` and ``ngettext``, for a plugin that renders text outside a web request."""
        from .i18n import translations

        return translations(locale or self.config.locale, tuple(self.translation_dirs()))

    def setting(self, name: str, default=None):
        """Node settings readable from BPMN expressions as ``setting(name, default)``."""
        value = self.config.settings.get(name, default)
        if not isinstance(value, (str, int, float, bool, type(None))):
            return default
        return value

    def today(self):
        """Today in the office's time zone (the node setting ``timezone``), not the server's
        nor UTC's: between 00:00 and 08:00 WITA the UTC date is still yesterday's."""
        from .stats import office_today

        return office_today(self.config.timezone)

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """A unit of work; ``case_event`` hooks run only after it has committed."""
        with self.db.write() as session:
            uow = UnitOfWork(session, runtime=self)
            after_commit(session, lambda: self._announce(uow.events))
            outer = self.wakeup.begin()
            try:
                yield uow
            except BaseException:
                self.wakeup.end(outer)
                raise
            if self.wakeup.end(outer):  # a job or outbox message written: wake the worker(s)
                if self.db.dialect == "postgresql":
                    session.execute(text(f"NOTIFY {CHANNEL}"))  # delivered on commit, to every listener
                after_commit(session, self.wakeup.notify_local)

    def _announce(self, events) -> None:
        """Each plugin hears each event on its own: one that raises is logged with its name
        and neither the others nor the committed step are affected."""
        impls = self.hook.case_event.get_hookimpls()
        for event, case in events:
            for impl in reversed(impls):  # pluggy's own calling order: last registered first
                try:
                    impl.function(*[{"event": event, "case": case}[a] for a in impl.argnames])
                except Exception:  # a notification must never undo a committed step
                    log.exception("case_event of plugin %s failed for %s", impl.plugin_name, event.get("kind"))

    def read(self):
        return self.db.read()

    def sandbox_pool(self):
        """The sandbox worker processes of this node (started at the first script), or None
        when ``sandbox_workers`` is 0 and scripts run in this process."""
        if self.config.sandbox_workers <= 0:
            return None
        pool = getattr(self, "_sandbox_pool", None)
        if pool is None:
            from ._sandbox_pool import SandboxPool

            with _POOL_LOCK:
                pool = getattr(self, "_sandbox_pool", None)
                if pool is None:
                    pool = self._sandbox_pool = SandboxPool(self.config.sandbox_workers, self.config.script_time_limit)
        return pool

    def close(self):
        pool = getattr(self, "_sandbox_pool", None)
        if pool is not None:
            pool.close()
            self._sandbox_pool = None
        self.db.engine.dispose()
