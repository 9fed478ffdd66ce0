"""The document checklist of each procedure, the document-check step, and the supervisor's
override."""

from __future__ import annotations

import pytest

from simpul import engine
from simpul.engine import Forbidden, ValidationFailed, hookimpl
from simpul.engine.cases import requirements_for
from simpul.engine.documents import store_document

from ..bpmn_samples import HEAD
from ..conftest import INSTALLED_PLUGINS_BLOCKED, make_runtime, seed_offices
from ..flows import actor, complete, open_task, resident, start_new_card
from .samples import pdf


@pytest.fixture
def runtime(db, tmp_path):
    """The national baseline: this module's subject, so a regency's installed plugin is blocked."""
    rt = make_runtime(db, tmp_path, plugins=INSTALLED_PLUGINS_BLOCKED)
    seed_offices(rt)
    engine.deploy_bundled(rt, deployed_by="test")
    yield rt
    rt.close()


def keys(rt, procedure, **data):
    return [r["key"] for r in requirements_for(rt, procedure, data)]


def test_national_baseline_per_procedure(runtime):
    assert keys(runtime, "ektp_new_card") == ["family_card"]
    assert keys(runtime, "ektp_renewal", request_type="renewal") == ["family_card"]
    assert keys(runtime, "ektp_renewal", request_type="data_change") == ["old_card", "change_evidence"]
    assert keys(runtime, "ektp_replacement", reason="damaged") == ["damaged_card"]
    assert keys(runtime, "ektp_replacement", reason="lost") == []
    labels = {r["key"]: r for r in requirements_for(runtime, "ektp_new_card", {})}
    assert labels["family_card"]["label"] == "Family card (Kartu Keluarga)"
    assert labels["family_card"]["source"] == "national"


def test_the_clerk_sees_the_checklist_of_the_case(runtime):
    receipt = engine.start_case(runtime, "ektp_replacement", resident(1, reason="damaged"), actor(runtime, "operator"))[
        "receipt"
    ]
    task = engine.get_task(runtime, open_task(runtime, receipt, "operator")["id"], actor(runtime, "operator"))
    assert [r["key"] for r in task["requirements"]] == ["damaged_card"]


def test_document_check_cannot_complete_while_a_document_is_missing(runtime):
    receipt = engine.start_case(
        runtime, "ektp_renewal", resident(1, request_type="data_change"), actor(runtime, "operator")
    )["receipt"]
    task = open_task(runtime, receipt, "operator")
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(
            runtime,
            task["id"],
            {"documents_complete": True, "documents_received": ["old_card"]},
            actor(runtime, "operator"),
        )
    assert err.value.errors == {"documents_received": ["Required document missing: Evidence of the changed data"]}
    assert open_task(runtime, receipt, "operator")["id"] == task["id"]
    # Ticking something the case does not require is refused too, not silently kept.
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(
            runtime,
            task["id"],
            {"documents_complete": False, "documents_received": ["passport"]},
            actor(runtime, "operator"),
        )
    assert err.value.errors == {"documents_received": ["passport is not a requirement of this case."]}
    done = engine.complete_task(
        runtime,
        task["id"],
        {"documents_complete": True, "documents_received": ["old_card", "change_evidence"]},
        actor(runtime, "operator"),
    )
    assert done["open_tasks"][0]["step"] != "Task_document_check"


def test_an_uploaded_scan_counts_as_received_without_a_tick(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "operator")
    store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    done = engine.complete_task(
        runtime, task["id"], {"documents_complete": True, "documents_received": []}, actor(runtime, "operator")
    )
    assert done["open_tasks"][0]["role"] == "verifier"


def test_a_lost_card_needs_nothing_nationally(runtime):
    receipt = engine.start_case(runtime, "ektp_replacement", resident(1, reason="lost"), actor(runtime, "operator"))[
        "receipt"
    ]
    done = complete(runtime, receipt, "operator", {"documents_complete": True})
    assert done["open_tasks"][0]["step"] != "Task_document_check"


def test_override_needs_a_supervisor_and_a_reason_and_is_in_the_timeline(runtime):
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "camat")
    data = {"documents_complete": True, "documents_received": []}
    with pytest.raises(Forbidden):
        engine.complete_task(
            runtime, task["id"], data, actor(runtime, "operator"), extras={"override_reason": "KK hilang"}
        )
    for blank in ("", "   "):
        with pytest.raises(ValidationFailed) as err:
            engine.complete_task(runtime, task["id"], data, actor(runtime, "camat"), extras={"override_reason": blank})
        assert "override_reason" in err.value.errors
    with pytest.raises(ValidationFailed):  # no override at all: the rule holds for the camat too
        engine.complete_task(runtime, task["id"], data, actor(runtime, "camat"))
    kinds = [e["kind"] for e in engine.get_case(runtime, receipt, actor(runtime, "camat"))["events"]]
    assert kinds == ["case_started"]

    reason = "KK terbakar; salinan dari Disdukcapil menyusul"
    engine.complete_task(runtime, task["id"], data, actor(runtime, "camat"), extras={"override_reason": reason})
    events = engine.get_case(runtime, receipt, actor(runtime, "camat"))["events"]
    override = next(e for e in events if e["kind"] == "requirements_overridden")
    assert override["actor"] == "camat" and override["detail"] == reason
    assert override["after"] == {"missing": ["family_card"]}
    assert [e["kind"] for e in events][-2:] == ["requirements_overridden", "task_completed"]


# -- an override never carries over to a later document check -------------------------------

TWO_CHECKS = f"""{HEAD}
  <bpmn:process id="two_checks" name="Two document checks" isExecutable="true">
    <bpmn:laneSet id="LS"><bpmn:lane id="Lane_1" name="operator">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>check1</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>check2</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check1" name="Pemeriksaan berkas 1">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="document_check"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="check2" name="Pemeriksaan berkas 2">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="document_check"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing></bpmn:userTask>
    <bpmn:endEvent id="end">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="completed"/>
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check1"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check1" targetRef="check2"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check2" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""


class NeedsLetter:
    @hookimpl
    def document_requirements(self, procedure, data):
        return [{"key": "letter", "label": "A letter", "source": "test"}] if procedure == "two_checks" else []


@pytest.fixture
def two_checks(db, tmp_path):
    rt = make_runtime(db, tmp_path, extra_plugins=[NeedsLetter()], plugins=INSTALLED_PLUGINS_BLOCKED)
    seed_offices(rt)
    engine.deploy_process(rt, TWO_CHECKS, deployed_by="test")
    yield rt
    rt.close()


def test_an_override_at_one_check_does_not_pass_the_next(two_checks):
    rt = two_checks
    receipt = engine.start_case(rt, "two_checks", resident(1), actor(rt, "camat"))["receipt"]
    data = {"documents_complete": True, "documents_received": []}
    engine.complete_task(
        rt,
        open_task(rt, receipt, "camat")["id"],
        data,
        actor(rt, "camat"),
        extras={"override_reason": "Surat menyusul besok"},
    )
    second = open_task(rt, receipt, "camat")
    assert second["step"] == "check2"
    with pytest.raises(ValidationFailed) as err:
        engine.complete_task(rt, second["id"], data, actor(rt, "camat"))
    assert err.value.errors == {"documents_received": ["Required document missing: A letter"]}


def test_simpul_requirements_prints_the_checklist(tmp_path):
    import json

    from ..cli_runner import node_env, run_in_process

    # the national checklist is printed here
    env = node_env(SIMPUL_INSTANCE_PATH=str(tmp_path / "instance"), SIMPUL_PLUGINS=INSTALLED_PLUGINS_BLOCKED)

    def run(*args):
        return run_in_process(args, env)

    text = run("requirements", "ektp_renewal", "--data", '{"request_type": "data_change"}')
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["KEY", "LABEL", "SOURCE"]
    assert lines[1].startswith("old_card") and lines[2].startswith("change_evidence")
    assert "national" in lines[1] and "The old e-KTP" not in text.stdout  # Indonesian by default
    as_json = json.loads(run("requirements", "ektp_new_card", "--json").stdout)
    assert as_json == [
        {
            "key": "family_card",
            "label": "Family card (Kartu Keluarga)",
            "label_en": "Family card (Kartu Keluarga)",
            "source": "national",
            "kind": "document",
        }
    ]
    assert run("requirements", "ektp_replacement", "--data", '{"reason": "lost"}').stdout.strip() == "(none)"
    bad = run("requirements", "ektp_new_card", "--data", "[1]")
    assert bad.returncode == 1 and bad.stderr.strip().startswith("Error: --data harus berupa objek JSON")


def test_a_verifier_who_is_no_supervisor_cannot_override_the_documents(runtime):
    from simpul.engine import directory

    from ..conftest import OFFICE

    with runtime.transaction() as uow:
        directory.create_user(uow.session, "loket", "Petugas loket", OFFICE, ["operator", "verifier"])
    receipt = start_new_card(runtime)["receipt"]
    task = open_task(runtime, receipt, "loket")
    data = {"documents_complete": True, "documents_received": []}
    with pytest.raises(Forbidden):
        engine.complete_task(
            runtime, task["id"], data, actor(runtime, "loket"), extras={"override_reason": "KK hilang"}
        )
    kinds = [e["kind"] for e in engine.get_case(runtime, receipt, actor(runtime, "camat"))["events"]]
    assert kinds == ["case_started"]
