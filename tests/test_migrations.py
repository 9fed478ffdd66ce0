"""Every schema change is an Alembic migration: the migrated database matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from simpul.engine.db import Base, load_all_models
from simpul.engine.migrate import head_revisions
from simpul.engine.search import is_search_object

from .conftest import make_runtime


def _not_search(obj, name, type_, reflected, compare_to):
    return not is_search_object(name)  # dialect-specific, made outside the models (engine/search.py)


def test_migrations_reach_every_head_and_match_the_models(db, tmp_path):
    rt = make_runtime(db, tmp_path)
    load_all_models()

    with rt.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _not_search})
        assert set(context.get_current_heads()) == set(head_revisions())
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from the migrations: {diff}"
    rt.close()
