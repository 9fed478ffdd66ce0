"""The runtime: one per process (CLI, web app, worker, test), built by their factories.

It holds what every engine call shares: configuration, the database, the plugin manager,
the service operators the plugins provide, and the cache of parsed process specs.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

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

log = logging.getLogger("simpul.engine")


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


class Runtime:
    def __init__(
        self, config: Config | None = None, *, engine: Engine | None = None, plugin_manager=None, extra_plugins=()
    ):
        self.config = config or Config.from_env()
        self.config.instance_path.mkdir(parents=True, exist_ok=True)
        self.db = Database(engine or make_engine(self.config.database_url))
        self.pm = plugin_manager or make_plugin_manager(self.config.plugins, extra_plugins)
        self.hook = self.pm.hook
        self.operators = self._collect_operators()
        self._specs: dict[int, tuple] = {}
        self._specs_lock = threading.Lock()
        self._local = threading.local()
        self.workflows = WorkflowCache(self.config.workflow_cache_size)

    def _collect_operators(self) -> dict:
        operators: dict = {}
        for impl in self.hook.service_operators.get_hookimpls():
            provided = impl.function() or {}
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

    def setting(self, name: str, default=None):
        """Node settings readable from BPMN expressions as ``setting(name, default)``."""
        value = self.config.settings.get(name, default)
        if not isinstance(value, (str, int, float, bool, type(None))):
            return default
        return value

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def transaction(self):
        """A unit of work; ``case_event`` hooks run only after it has committed."""
        with self.db.write() as session:
            uow = UnitOfWork(session)
            after_commit(session, lambda: self._announce(uow.events))
            yield uow

    def _announce(self, events) -> None:
        for event, case in events:
            try:
                self.hook.case_event(event=event, case=case)
            except Exception:  # a notification must never undo a committed step
                log.exception("case_event hook failed for %s", event.get("kind"))

    def read(self):
        return self.db.read()

    def close(self):
        self.db.engine.dispose()
