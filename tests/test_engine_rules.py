"""Deploy checks, the script sandbox, service jobs, timers and plugins, through the engine API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from simpul import engine
from simpul.engine import Conflict, DeployError, PluginError, hookimpl
from simpul.engine.models import Job, ProcessVersion
from simpul.engine.plugins import make_plugin_manager
from simpul.engine.worker import run_due

from .bpmn_samples import script_process, service_process
from .conftest import make_runtime, seed_offices
from .flows import actor, complete, open_task, resident, start_new_card


def _count(rt, model):
    with rt.read() as s:
        return s.scalar(select(func.count()).select_from(model))


# -- deploy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<not xml", "not well-formed XML"),
        (b"<?xml version='1.0'?><html><body>hello</body></html>", "not a BPMN 2.0 file"),
        (service_process("nobody.provides_this").encode(), "Service operator nobody.provides_this is not provided"),
        (script_process("x = 1", lane="janitor").encode(), "Lane janitor is not mapped to a role"),
        (script_process("x = (").encode(), "does not compile"),
        (script_process("import os").encode(), "does not compile"),
    ],
)
def test_bad_process_is_refused_and_nothing_is_written(bare_runtime, content, message):
    with pytest.raises(DeployError, match=message) as err:
        engine.deploy_process(bare_runtime, content, deployed_by="admin")
    assert err.value.errors and all("message" in e for e in err.value.errors)
    assert _count(bare_runtime, ProcessVersion) == 0


@pytest.mark.parametrize("tag, word", [("preScript", "Pre-script"), ("postScript", "Post-script")])
def test_a_task_s_pre_or_post_script_that_does_not_compile_refuses_the_deploy(bare_runtime, tag, word):
    script = f"<spiffworkflow:{tag}>import os</spiffworkflow:{tag}>"
    xml = script_process("x = 1").replace(
        "</spiffworkflow:properties></bpmn:extensionElements>",
        f"</spiffworkflow:properties>{script}</bpmn:extensionElements>",
        1,
    )
    with pytest.raises(DeployError, match=f"{word} does not compile in the sandbox") as err:
        engine.deploy_process(bare_runtime, xml, deployed_by="admin")
    assert [e["element"] for e in err.value.errors] == ["ask"]
    assert _count(bare_runtime, ProcessVersion) == 0


def _add_form_dir(runtime, folder) -> None:
    """A plugin that ships forms from ``folder`` (the ``form_dirs`` hook)."""

    class ExtraForms:
        @hookimpl
        def form_dirs(self):
            return [str(folder)]

    runtime.pm.register(ExtraForms())


def test_problem_is_pinned_to_its_element(bare_runtime):
    with pytest.raises(DeployError) as err:
        engine.deploy_process(bare_runtime, service_process("nobody.provides_this"), deployed_by="admin")
    assert {"svc"} <= {e["element"] for e in err.value.errors}


def test_form_field_shadowing_python_is_refused(bare_runtime, tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "evil.form.json").write_text(
        json.dumps(
            {
                "components": [
                    {"type": "textfield", "key": "__class__", "label": "x"},
                    {"type": "textfield", "key": "setting"},
                ]
            }
        )
    )

    _add_form_dir(bare_runtime, forms)
    xml = script_process("x = 1").replace('value="documents_returned"', 'value="evil"')
    with pytest.raises(DeployError) as err:
        engine.deploy_process(bare_runtime, xml, deployed_by="admin")
    messages = " ".join(e["message"] for e in err.value.errors)
    assert "__class__" in messages and "setting" in messages
    assert _count(bare_runtime, ProcessVersion) == 0


@pytest.mark.parametrize(
    "content, template",
    [
        ('{"components": [', "Form {path} cannot be read: {error}"),
        ('{"type": "default"}', "Form {path} is not a form-js schema (no components)."),
    ],
)
def test_a_broken_form_refuses_the_deploy_naming_the_file_not_the_server_path(
    bare_runtime, tmp_path, content, template
):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "broken.form.json").write_text(content)

    _add_form_dir(bare_runtime, forms)
    xml = script_process("x = 1").replace('value="documents_returned"', 'value="broken"')
    with pytest.raises(DeployError) as err:
        engine.deploy_process(bare_runtime, xml, deployed_by="admin")
    (problem,) = [e for e in err.value.errors if "broken" in e["message"]]
    # the admin's language gets the template; the server's folders stay on the server
    assert problem["template"] == template and problem["params"]["path"] == "broken.form.json"
    assert problem["message"].startswith("Form broken.form.json ") and str(tmp_path) not in problem["message"]
    assert _count(bare_runtime, ProcessVersion) == 0


def test_same_content_twice_makes_no_new_version(bare_runtime):
    xml = script_process("x = 1")
    first = engine.deploy_process(bare_runtime, xml, deployed_by="admin")
    with pytest.raises(Conflict, match="already deployed as sandbox_probe version 1"):
        engine.deploy_process(bare_runtime, xml, deployed_by="admin")
    second = engine.deploy_process(bare_runtime, script_process("x = 2"), deployed_by="admin")
    assert (first.version, second.version) == (1, 2)
    assert _count(bare_runtime, ProcessVersion) == 2


def test_running_cases_stay_on_their_version(bare_runtime):
    engine.deploy_process(bare_runtime, script_process("x = 1"), deployed_by="admin")
    clerk = actor(bare_runtime, "operator")
    old = engine.start_case(bare_runtime, "sandbox_probe", resident(1), clerk)
    engine.deploy_process(bare_runtime, script_process("x = 2"), deployed_by="admin")
    new = engine.start_case(bare_runtime, "sandbox_probe", resident(2), clerk)
    assert engine.get_case(bare_runtime, old["receipt"], clerk)["process_version"] == 1
    assert engine.get_case(bare_runtime, new["receipt"], clerk)["process_version"] == 2


# -- sandbox -------------------------------------------------------------------------------

ESCAPES = {
    "subclasses": ("y = ().__class__.__base__.__subclasses__()", None),  # refused at deploy (underscore)
    "format_attr": ("y = '{0.__class__}'.format(1)", "format"),
    "format_map": ("y = '{x.__class__}'.format_map({'x': 1})", "format"),
    "open": ("y = open('/etc/passwd').read()", "open"),
    "import_call": ("y = __import__('os')", None),
    "getattr": ("y = getattr(1, 'real')", "getattr"),
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escapes_never_run(bare_runtime, name):
    script, needle = ESCAPES[name]
    try:
        engine.deploy_process(bare_runtime, script_process(script), deployed_by="admin")
    except DeployError as exc:  # refused before it could ever run: the best outcome
        assert "sandbox" in exc.render()
        return
    clerk = actor(bare_runtime, "operator")
    case = engine.start_case(bare_runtime, "sandbox_probe", resident(1), clerk)
    task = open_task(bare_runtime, case["receipt"], "operator")
    result = engine.complete_task(bare_runtime, task["id"], {"missing_documents_brought": True}, clerk)
    assert result["status"] == "incident"
    assert needle in result["incident"]
    shown = engine.get_case(bare_runtime, case["receipt"], clerk)
    assert shown["events"][-1]["kind"] == "incident"
    assert "y" not in shown["data"]


def test_endless_loop_becomes_an_incident_within_seconds(bare_runtime):
    engine.deploy_process(bare_runtime, script_process("while True:\n    pass"), deployed_by="admin")
    clerk = actor(bare_runtime, "operator")
    case = engine.start_case(bare_runtime, "sandbox_probe", resident(1), clerk)
    task = open_task(bare_runtime, case["receipt"], "operator")
    began = datetime.now()
    result = engine.complete_task(bare_runtime, task["id"], {"missing_documents_brought": True}, clerk)
    assert (datetime.now() - began).total_seconds() < 5
    assert result["status"] == "incident" and "time limit" in result["incident"]


def test_incident_can_be_retried_once_fixed(bare_runtime):
    engine.deploy_process(bare_runtime, script_process("y = 1 / zero"), deployed_by="admin")
    clerk = actor(bare_runtime, "operator")
    case = engine.start_case(bare_runtime, "sandbox_probe", resident(1), clerk)
    task = open_task(bare_runtime, case["receipt"], "operator")
    result = engine.complete_task(bare_runtime, task["id"], {"missing_documents_brought": True}, clerk)
    assert result["status"] == "incident" and "zero" in result["incident"]
    # Still failing: retry records the incident again, nothing is lost.
    again = engine.retry_incident(bare_runtime, case["receipt"], actor(bare_runtime, "camat"))
    assert again["status"] == "incident"


# -- service jobs --------------------------------------------------------------------------


class FlakyService:
    """A service that fails ``failures`` times, then answers."""

    def __init__(self, failures):
        self.failures = failures
        self.calls = []

    @hookimpl
    def service_operators(self):
        return {"test.flaky": self.call}

    def call(self, ctx, who):
        self.calls.append(who)
        if len(self.calls) <= self.failures:
            raise ConnectionError("link down")
        return {"greeted": who}


def _service_runtime(db, tmp_path, failures, attempts=3):
    service = FlakyService(failures)
    rt = make_runtime(db, tmp_path, extra_plugins=[service], job_max_attempts=attempts)
    seed_offices(rt)
    engine.deploy_process(rt, service_process("test.flaky"), deployed_by="admin")
    return rt, service


def _drain(rt, rounds=20):
    for _ in range(rounds):
        with rt.read() as s:
            pending = s.scalars(select(Job).where(Job.status == "pending")).all()
        if not pending:
            return
        with rt.transaction() as uow:  # make retries due now instead of sleeping through backoff
            for job in uow.session.scalars(select(Job).where(Job.status == "pending")):
                job.due_at = datetime.now(UTC) - timedelta(seconds=1)
        run_due(rt)


def test_service_task_runs_in_the_worker_with_retries(db, tmp_path):
    rt, service = _service_runtime(db, tmp_path, failures=2)
    case = engine.start_case(rt, "service_probe", resident(1), actor(rt, "operator"))
    assert case["open_tasks"] == [] and service.calls == []  # never inside the request
    _drain(rt)
    assert service.calls == ["Warga 1"] * 3
    shown = engine.get_case(rt, case["receipt"], actor(rt, "operator"))
    assert shown["status"] == "active" and shown["data"]["svc_result"] == {"greeted": "Warga 1"}
    assert [t["step"] for t in shown["open_tasks"]] == ["after"]
    rt.close()


def test_service_failing_after_last_try_is_an_incident_an_admin_can_retry(db, tmp_path):
    rt, service = _service_runtime(db, tmp_path, failures=3, attempts=3)
    case = engine.start_case(rt, "service_probe", resident(1), actor(rt, "operator"))
    _drain(rt)
    shown = engine.get_case(rt, case["receipt"], actor(rt, "operator"))
    assert shown["status"] == "incident" and "link down" in shown["incident"]
    assert shown["jobs"][0]["status"] == "failed" and shown["jobs"][0]["attempts"] == 3
    engine.retry_incident(rt, case["receipt"], actor(rt, "camat"))
    _drain(rt)
    shown = engine.get_case(rt, case["receipt"], actor(rt, "operator"))
    assert shown["status"] == "active" and [t["step"] for t in shown["open_tasks"]] == ["after"]
    assert [e["kind"] for e in shown["events"]].count("incident_retried") == 1
    rt.close()


# -- timers --------------------------------------------------------------------------------


def test_abandoned_case_closes_after_fourteen_days(runtime):
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", {"documents_complete": False})
    with runtime.read() as s:
        timer = s.scalar(select(Job).where(Job.kind == "timer"))
    assert timedelta(days=13, hours=23) < timer.due_at - datetime.now(UTC) <= timedelta(days=14)
    assert run_due(runtime)["timers"] == 0  # not due yet
    with time_machine.travel(datetime.now(UTC) + timedelta(days=14, minutes=1)):
        assert run_due(runtime)["timers"] == 1
    case = engine.get_case(runtime, receipt, actor(runtime, "operator"))
    assert case["status"] == "completed" and case["end_reason"].startswith("Permohonan ditutup")
    assert case["events"][-1]["kind"] == "timer_fired"


def test_resident_returning_in_time_cancels_the_timer(runtime):
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", {"documents_complete": False})
    complete(runtime, receipt, "operator", {"missing_documents_brought": True})
    assert open_task(runtime, receipt, "operator")["step"] == "Task_document_check"
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 0


# -- plugins -------------------------------------------------------------------------------


def test_unknown_hook_implementation_stops_start_up():
    class Typo:
        @hookimpl
        def document_requirement(self, procedure, data):  # missing "s"
            return []

    with pytest.raises(PluginError, match="unknown hook"):
        make_plugin_manager("", extra_plugins=[Typo()])


def test_plugins_can_be_blocked_by_name():
    pm = make_plugin_manager("-socialization,-coordination")
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert "verification" in names and "socialization" not in names and "coordination" not in names


def test_plugin_added_by_import_path(bare_runtime):
    pm = make_plugin_manager("tests.plugin_samples.police_letter")
    assert pm.get_plugin("police_letter") is not None


def test_duplicate_service_operator_stops_start_up(db, tmp_path):
    class Twin:
        @hookimpl
        def service_operators(self):
            return {"coordination.send_to_regency": lambda ctx: {}}

    with pytest.raises(PluginError, match="provided twice"):
        make_runtime(db, tmp_path, extra_plugins=[Twin()])
