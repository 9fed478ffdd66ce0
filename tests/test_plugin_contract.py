"""The plugin contract's acceptance test: a third party's plugin (tests/plugin_samples/
tally.py), written only against the documented hooks, adds a case action, a page, a table
with its own migration, a setting and a BPMN helper; each is seen where a user or an
administrator would see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa

from simpul import engine
from simpul.engine.migrate import current_heads, plugin_migrations, schema_differences

from . import regency_plugin
from .bpmn_samples import HEAD
from .conftest import make_runtime, seed_offices
from .flows import actor, complete, open_task, resident, start_new_card
from .plugin_samples import tally

ROOT = Path(__file__).resolve().parents[1]
SIMPUL = str(Path(sys.executable).with_name("simpul"))
PLUGIN = "tests.plugin_samples.tally"


def copying(condition: str, script: str) -> str:
    """start -> script (the fee) -> gateway on a condition -> "Collect the fee" or "Hand over"."""
    tasks = "".join(
        f"""<bpmn:userTask id="{tid}" name="{name}"><bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="documents_returned"/></spiffworkflow:properties>
        </bpmn:extensionElements><bpmn:incoming>{flow}</bpmn:incoming><bpmn:outgoing>{out}</bpmn:outgoing>
        </bpmn:userTask>"""
        for tid, name, flow, out in (
            ("collect", "Collect the fee", "to_collect", "e1"),
            ("hand", "Hand over", "to_hand", "e2"),
        )
    )
    return f"""{HEAD}
  <bpmn:process id="copying" name="Copying" isExecutable="true">
    <bpmn:laneSet id="LS"><bpmn:lane id="Lane_1" name="operator">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fee</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>gw</bpmn:flowNodeRef><bpmn:flowNodeRef>collect</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>hand</bpmn:flowNodeRef><bpmn:flowNodeRef>end1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>end2</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="fee" name="Compute the fee"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:exclusiveGateway id="gw" name="Anything to pay?" default="to_hand">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>to_collect</bpmn:outgoing><bpmn:outgoing>to_hand</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    {tasks}
    <bpmn:endEvent id="end1"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="completed"/></spiffworkflow:properties>
      </bpmn:extensionElements><bpmn:incoming>e1</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="end2"><bpmn:extensionElements><spiffworkflow:properties>
      <spiffworkflow:property name="outcome" value="completed"/></spiffworkflow:properties>
      </bpmn:extensionElements><bpmn:incoming>e2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fee"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fee" targetRef="gw"/>
    <bpmn:sequenceFlow id="to_collect" sourceRef="gw" targetRef="collect">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_hand" sourceRef="gw" targetRef="hand"/>
    <bpmn:sequenceFlow id="e1" sourceRef="collect" targetRef="end1"/>
    <bpmn:sequenceFlow id="e2" sourceRef="hand" targetRef="end2"/>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def node(fresh_db, tmp_path):
    """A node with the tally plugin, migrated as `simpul init` does (tally's table included)."""
    from simpul.engine.migrate import upgrade

    rt = make_runtime(fresh_db, tmp_path, plugins=PLUGIN)
    upgrade(rt)
    seed_offices(rt)
    engine.deploy_bundled(rt)
    yield rt
    rt.close()


def test_simpul_init_migrates_the_plugins_table(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMPUL_")}
    env.update(
        SIMPUL_INSTANCE_PATH=str(tmp_path / "instance"),
        SIMPUL_PLUGINS=PLUGIN,
        PYTHONPATH=str(ROOT),
    )
    run = lambda *a: subprocess.run([SIMPUL, *a], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)  # noqa: E731
    assert run("init").returncode == 0
    plugins = {p["name"]: p for p in json.loads(run("plugins", "--json").stdout)}
    assert {"plugin_settings", "plugin_migrations", "expression_helpers", "case_actions"} <= set(
        plugins["tally"]["hooks"]
    )
    db = sa.create_engine(f"sqlite:///{tmp_path / 'instance' / 'simpul.db'}")
    with db.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert {"tally_copies", "alembic_version_tally", "coordination_peers", "cases"} <= tables
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version_tally")).scalars().all() == [
            "tally_0001_copies"
        ]
    db.dispose()
    assert run("init").returncode == 0  # a second init changes nothing


def test_the_table_matches_its_migration(node):
    tally_history = next(p for p in plugin_migrations(node) if p.name == "tally")
    assert current_heads(node, tally_history) == ("tally_0001_copies",)
    assert schema_differences(node)["tally"] == []


def test_the_setting_has_its_default_and_the_node_overrides_it(fresh_db, tmp_path):
    rt = make_runtime(fresh_db, tmp_path, plugins=PLUGIN)
    assert rt.plugin_settings("tally") == {"fee_per_page": 500}
    rt.close()
    rt = make_runtime(fresh_db, tmp_path, plugins=PLUGIN, settings={"tally": {"fee_per_page": 1000}})
    assert rt.plugin_settings("tally")["fee_per_page"] == 1000
    rt.close()
    config = engine.Config.from_env(
        {"SIMPUL_PLUGINS": PLUGIN, "SIMPUL_TALLY_FEE": "750"}, instance_path=tmp_path / "env", database_url=fresh_db
    )
    rt = engine.Runtime(config)
    assert rt.plugin_settings("tally")["fee_per_page"] == 750
    rt.close()
    with pytest.raises(engine.PluginError, match="cannot be negative"):  # its start-up check
        make_runtime(fresh_db, tmp_path, plugins=PLUGIN, settings={"tally": {"fee_per_page": -1}})


def test_the_bpmn_helper_decides_a_condition_and_computes_in_a_script(fresh_db, tmp_path):
    from simpul.engine.migrate import upgrade

    rt = make_runtime(fresh_db, tmp_path, plugins=PLUGIN)
    upgrade(rt)
    seed_offices(rt)
    engine.deploy_process(rt, copying("copy_fee(pages) > 0", "fee = copy_fee(pages)"), deployed_by="test")
    rt.close()
    for fee_per_page, step in ((500, "collect"), (0, "hand")):  # the node's setting decides the way
        rt = make_runtime(fresh_db, tmp_path, plugins=PLUGIN, settings={"tally": {"fee_per_page": fee_per_page}})
        receipt = engine.start_case(rt, "copying", {**resident(fee_per_page + 1), "pages": 3}, actor(rt, "operator"))[
            "receipt"
        ]
        assert open_task(rt, receipt, "operator")["step"] == step
        assert engine.get_case(rt, receipt, actor(rt, "operator"))["data"]["fee"] == 3 * fee_per_page
        complete(rt, receipt, "operator", {"missing_documents_brought": True})
        rt.close()


def test_the_case_action_leads_to_the_plugins_page_which_uses_its_table(node):
    from argon2 import PasswordHasher

    from simpul.web import create_app

    from .web.conftest import set_passwords
    from .web.web_helpers import PASSWORD, Browser

    set_passwords(node, PasswordHasher().hash(PASSWORD))
    browser = Browser(create_app(runtime=node, config={"TESTING": True}))
    browser.login("operator")
    receipt = start_new_card(node)["receipt"]
    page = browser.get(f"/cases/{receipt}").get_data(as_text=True)
    assert f'<a class="button secondary" href="/tally/cases/{receipt}">Copies</a>' in page
    task = open_task(node, receipt, "operator")
    assert f'href="/tally/cases/{receipt}"' in browser.get(f"/tasks/{task['id']}").get_data(as_text=True)

    assert browser.get(f"/tally/cases/{receipt}").get_json() == {"receipt": receipt, "copies": [], "total": 0}
    assert browser.post(f"/tally/cases/{receipt}", {"pages": "4"}).status_code == 302
    assert browser.post(f"/tally/cases/{receipt}", {"pages": "nol"}).status_code == 422
    shown = browser.get(f"/tally/cases/{receipt}").get_json()
    assert shown == {"receipt": receipt, "copies": ["4 pages, Rp 2000, by operator"], "total": 2000}
    with node.read() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(tally.Copy)) == 1
    browser.logout()
    browser.login("other")  # another office's clerk: the plugin's page keeps the engine's isolation
    assert browser.get(f"/tally/cases/{receipt}").status_code == 404


def test_the_plugin_list_shows_built_in_plugins_as_part_of_the_simpul_distribution(runtime):
    """``simpul plugins`` (and the admin page) say where each plugin comes from: the built-in
    ones ship in, and are versioned with, the simpul distribution."""
    import importlib.metadata

    from simpul.engine.plugins import plugin_info

    rows = {r["module"]: r for r in plugin_info(runtime.pm)}
    row = rows["simpul.plugins.coordination"]
    assert row["builtin"] is True and row["distribution"] == "simpul"
    assert row["version"] == importlib.metadata.version("simpul")


@pytest.mark.skipif(not regency_plugin.WANTED, reason="SIMPUL_TEST_REGENCY_PLUGIN=0: the suite runs without it")
def test_the_suite_runs_with_a_regency_plugin_installed(runtime, tmp_path):
    """Every test's node, in this process and in the ``simpul`` processes tests start, has the
    Kutai Kartanegara plugin (tests/regency_plugin.py): without it the suite would no longer
    show that a regency's plugin leaves the node working."""
    assert "kukar" in {row["name"] for row in engine.plugin_info(runtime.pm)}
    env = {**os.environ, "SIMPUL_INSTANCE_PATH": str(tmp_path / "instance")}
    proc = subprocess.run([SIMPUL, "plugins", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "kukar" in {row["name"] for row in json.loads(proc.stdout)}
