"""Every schema change is an Alembic migration: the migrated database matches the models,
for the engine's history and for each plugin's own."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from simpul import engine
from simpul.engine.migrate import (
    alembic_config,
    current_heads,
    head_revisions,
    plugin_migrations,
    schema_differences,
    upgrade,
)

from .conftest import make_runtime, seed_offices
from .flows import actor, start_new_card


def test_migrations_reach_every_head_and_match_the_models(db, tmp_path):
    rt = make_runtime(db, tmp_path)
    assert set(current_heads(rt)) == set(head_revisions())
    plugins = {p.name: p for p in plugin_migrations(rt)}
    assert "coordination" in plugins  # the built-in plugin's table is its own history
    for plugin in plugins.values():
        assert set(current_heads(rt, plugin)) == set(head_revisions(plugin))
    assert schema_differences(rt) == {"engine": [], "coordination": [], "socialization": []}
    rt.close()


def test_a_database_from_before_the_plugin_history_upgrades_and_keeps_its_peers(fresh_db, tmp_path):
    """A node at the old head (the coordination table made by the engine's 0004_coordination,
    cases in it) upgrades cleanly: the plugin's first revision adopts the table."""
    rt = make_runtime(fresh_db, tmp_path)
    upgrade(rt)
    seed_offices(rt)
    engine.deploy_bundled(rt)
    receipt = start_new_card(rt)["receipt"]
    coordination = next(p for p in plugin_migrations(rt) if p.name == "coordination")
    with rt.db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO coordination_peers (office_code, failures_in_row, clock_offset, "
                "messages_sent, bytes_sent, messages_received, refused) VALUES ('6402', 3, 0, 7, 0, 0, 0)"
            )
        )
        # what a 0.2.0 database holds: the old merge head, no plugin version table
        conn.execute(sa.text(f"DROP TABLE {coordination.version_table}"))
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006_merge")  # the engine's revisions after 0.2.0 not applied yet
    upgrade(rt)
    assert set(current_heads(rt, coordination)) == set(head_revisions(coordination))
    with rt.read() as s:
        assert s.execute(sa.text("SELECT messages_sent FROM coordination_peers")).scalar() == 7
    assert engine.get_case(rt, receipt, actor(rt, "operator"))["status"] == "active"
    assert schema_differences(rt) == {"engine": [], "coordination": [], "socialization": []}
    upgrade(rt)  # and again: nothing left to do
    rt.close()


def test_a_database_stopped_at_the_retired_revision_upgrades(fresh_db, tmp_path):
    """Only 0001 and the old 0004_coordination applied: the rest of the engine's history runs."""
    rt = make_runtime(fresh_db, tmp_path)
    upgrade(rt)
    with rt.db.engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001_initial")
        coordination = next(p for p in plugin_migrations(rt) if p.name == "coordination")
        conn.execute(sa.text(f"DELETE FROM {coordination.version_table}"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0004_coordination'"))
    upgrade(rt)
    assert set(current_heads(rt)) == set(head_revisions())
    assert schema_differences(rt) == {"engine": [], "coordination": [], "socialization": []}
    rt.close()
