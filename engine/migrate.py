"""Schema migrations (Alembic): every schema change is a revision in engine/migrations."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .resources import MIGRATIONS_DIR


def alembic_config(url: str | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(runtime, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (every head by default: plugins may add branches) on the runtime's engine."""
    cfg = alembic_config()
    with runtime.db.engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def current_revision(runtime) -> str | None:
    with runtime.db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revisions() -> tuple[str, ...]:
    """Every head: plugins' and features' migrations may branch from the initial schema."""
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
