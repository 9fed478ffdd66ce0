"""Schema migrations (Alembic): the engine's revisions in engine/migrations, then each
plugin's own (``plugin_migrations`` hook).

A plugin's revisions are a history of their own with their own version table
(``alembic_version_<name>``): a plugin is installed, upgraded or removed without touching the
engine's history, and its revision ids can never collide with the engine's.  Both run through
the one ``env.py`` of engine/migrations, on the runtime's connection.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text

from .errors import PluginError
from .resources import MIGRATIONS_DIR

#: revision ids the engine no longer has, and the engine revision a database holding one is at.
#: ``0004_coordination`` created the coordination plugin's table; the plugin's own first
#: revision now adopts that table (see plugins/coordination/migrations).
RETIRED_REVISIONS = {"0004_coordination": "0001_initial"}
PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


@dataclass(frozen=True)
class PluginMigrations:
    name: str
    directory: Path
    metadata: MetaData | None

    @property
    def version_table(self) -> str:
        return f"alembic_version_{self.name}"


def alembic_config(url: str | None = None, plugin: PluginMigrations | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if plugin is not None:
        cfg.set_main_option("version_locations", str(plugin.directory))
        cfg.attributes["version_table"] = plugin.version_table
        cfg.attributes["target_metadata"] = plugin.metadata
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def plugin_migrations(runtime) -> list[PluginMigrations]:
    """What the registered plugins declare through ``plugin_migrations``, in registration order."""
    found: dict[str, PluginMigrations] = {}
    for impl in reversed(runtime.hook.plugin_migrations.get_hookimpls()):
        decl = impl.function()
        if not decl:
            continue
        name = decl.get("name") if isinstance(decl, dict) else None
        directory = Path(decl.get("directory") or "") if isinstance(decl, dict) else None
        if not name or not PLUGIN_NAME.match(name) or directory is None or not directory.is_dir():
            raise PluginError(
                "Plugin {plugin} declares its migrations without a name (lower case letters, digits, _) "
                "or an existing directory.",
                plugin=impl.plugin_name,
            )
        if name in found:
            raise PluginError("Migrations {name} are declared twice.", name=name)
        found[name] = PluginMigrations(name, directory, decl.get("metadata"))
    return list(found.values())


def _forget_retired_revisions(connection) -> None:
    if not inspect(connection).has_table("alembic_version"):
        return
    rows = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    retired = rows & set(RETIRED_REVISIONS)
    if not retired:
        return
    for revision in retired:
        connection.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": revision})
    # Every engine revision descends from the one a retired id maps to, so that one is only
    # written back when nothing else is left to stand for it.
    if not rows - retired:
        for revision in sorted({RETIRED_REVISIONS[r] for r in retired}):
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def upgrade(runtime, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (every engine head by default), then every
    plugin's migrations to their heads, on the runtime's engine, in one transaction."""
    with runtime.db.engine.begin() as connection:
        _forget_retired_revisions(connection)
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)
        for plugin in plugin_migrations(runtime):
            cfg = alembic_config(plugin=plugin)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "heads")


def current_revision(runtime) -> str | None:
    with runtime.db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revisions(plugin: PluginMigrations | None = None) -> tuple[str, ...]:
    """Every head of the engine's history (or of one plugin's)."""
    return tuple(ScriptDirectory.from_config(alembic_config(plugin=plugin)).get_heads())


def current_heads(runtime, plugin: PluginMigrations | None = None) -> tuple[str, ...]:
    opts = {"version_table": plugin.version_table} if plugin else {}
    with runtime.db.engine.connect() as connection:
        return tuple(MigrationContext.configure(connection, opts=opts).get_current_heads())


def schema_differences(runtime) -> dict[str, list]:
    """What differs between the migrated database and the models, per history (``engine``
    and each plugin that gives its metadata): ``{name: [alembic diff, ...]}``, all empty when
    the migrations and the models agree.  Each history is compared on its own tables only."""
    from .db import Base, load_all_models
    from .search import is_search_object

    load_all_models()
    histories = [("engine", Base.metadata)] + [(p.name, p.metadata) for p in plugin_migrations(runtime) if p.metadata]
    plugin_tables = {t for _name, md in histories[1:] for t in md.tables}
    plugin_tables |= {p.version_table for p in plugin_migrations(runtime)}
    result = {}
    with runtime.db.engine.connect() as connection:
        for name, metadata in histories:
            keep: Callable[..., bool]
            if name == "engine":
                keep = lambda table: table not in plugin_tables  # noqa: E731
            else:
                keep = lambda table, md=metadata: table in md.tables  # noqa: E731

            def include_name(obj_name, type_, parent_names, keep=keep):
                if is_search_object(obj_name):  # one dialect's search objects, made by scale_0001_search
                    return False
                return keep(obj_name) if type_ == "table" else True

            context = MigrationContext.configure(connection, opts={"compare_type": True, "include_name": include_name})
            result[name] = compare_metadata(context, metadata)
    return result
