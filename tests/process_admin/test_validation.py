"""Validation at save: every rule of issue #6, each problem pinned to its diagram element.

An invalid diagram is saved as a draft (nothing is lost) but can never be deployed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from simpul.engine import Actor, DeployError, Forbidden, drafts, hookimpl
from simpul.engine.errors import Conflict
from simpul.engine.models import ProcessVersion

from ..conftest import make_runtime, seed_offices
from ..flows import actor
from .diagrams import add_user_task, new_card_xml, replace, set_attr, set_property, set_text

ADMIN = Actor("admin", "640205", frozenset({"process_admin"}))


def errors_of(runtime, xml, **kw):
    draft = drafts.save_draft(runtime, ADMIN, xml, **kw)
    assert draft["valid"] is False, "the draft should have been found invalid"
    with pytest.raises(DeployError) as info:
        drafts.deploy_draft(runtime, draft["id"], ADMIN)
    assert info.value.errors == draft["errors"] or [e["message"] for e in info.value.errors] == [
        e["message"] for e in draft["errors"]
    ]
    return draft["errors"]


def pinned(errors, shape):
    return [e["message"] for e in errors if e["shape"] == shape]


def versions(runtime, key="ektp_new_card"):
    with runtime.read() as s:
        return s.scalar(select(func.count()).select_from(ProcessVersion).where(ProcessVersion.process_key == key))


def test_bundled_process_is_valid_and_saving_it_unchanged_cannot_deploy_twice(runtime):
    draft = drafts.save_draft(runtime, ADMIN, new_card_xml())
    assert draft["valid"] and draft["errors"] == [] and draft["process_key"] == "ektp_new_card"
    with pytest.raises(Conflict, match="already deployed as ektp_new_card version 1"):
        drafts.deploy_draft(runtime, draft["id"], ADMIN)
    assert versions(runtime) == 1


def test_lane_must_map_to_a_known_role(runtime):
    xml = replace(new_card_xml(), 'name="verifier"', 'name="kelurahan"')
    errors = errors_of(runtime, xml)
    assert any("Lane kelurahan is not mapped to a role" in m for m in pinned(errors, "Lane_verifier"))
    assert versions(runtime) == 1


def test_lane_mapped_to_a_role_simpul_does_not_know(db, tmp_path):
    roles = {
        "operator": "operator",
        "verifier": "lurah",
        "supervisor": "supervisor",
        "regency_officer": "regency_officer",
    }
    rt = make_runtime(db, tmp_path, lane_roles=roles)
    seed_offices(rt)
    errors = errors_of(rt, new_card_xml())
    assert any("maps to role lurah, which Simpul does not know" in m for m in pinned(errors, "Lane_verifier"))
    rt.close()


def test_user_task_needs_a_form(runtime):
    errors = errors_of(runtime, add_user_task(new_card_xml(), form_key=None))
    assert pinned(errors, "Task_field_check") == ["User task Pemeriksaan lapangan has no form (formKey)."]
    assert versions(runtime) == 1


def test_user_task_form_must_exist(runtime):
    errors = errors_of(runtime, add_user_task(new_card_xml(), form_key="no_such_form"))
    assert pinned(errors, "Task_field_check") == ["Form no_such_form is not found."]


def test_form_edited_with_the_draft_is_used_and_checked(runtime):
    xml = add_user_task(new_card_xml(), form_key="field_check")
    bad = {"field_check": {"components": [{"type": "textfield", "key": "_secret", "label": "x"}]}}
    errors = errors_of(runtime, xml, forms=bad)
    assert any("field name _secret is not allowed" in m for m in pinned(errors, "Task_field_check"))
    good = {
        "field_check": {
            "type": "default",
            "components": [
                {"type": "textfield", "key": "field_notes", "label": "Catatan lapangan", "validate": {"required": True}}
            ],
        }
    }
    draft = drafts.save_draft(runtime, ADMIN, xml, forms=good)
    assert draft["valid"], draft["errors"]
    version = drafts.deploy_draft(runtime, draft["id"], ADMIN)
    with runtime.read() as s:
        assert s.get(ProcessVersion, version["id"]).forms["field_check"] == good["field_check"]


def test_form_that_is_not_a_form_js_schema(runtime):
    xml = add_user_task(new_card_xml(), form_key="field_check")
    errors = errors_of(runtime, xml, forms={"field_check": {"title": "no components"}})
    assert "Form field_check is not a form-js schema (no components)." in pinned(errors, "Task_field_check")


def test_service_operator_must_be_provided_by_a_plugin(runtime):
    xml = replace(new_card_xml(), 'id="coordination.send_to_regency"', 'id="kukar.send_by_fax"')
    errors = errors_of(runtime, xml)
    assert pinned(errors, "Service_send_to_regency") == [
        "Service operator kukar.send_by_fax is not provided by any installed plugin."
    ]


def test_script_must_compile_in_the_sandbox(runtime):
    xml = replace(
        new_card_xml(),
        "<bpmn:script>suket_issued = True</bpmn:script>",
        "<bpmn:script>import os\nos.system('x')</bpmn:script>",
    )
    errors = errors_of(runtime, xml)
    assert any(m.startswith("Script does not compile in the sandbox") for m in pinned(errors, "Script_suket_issued"))


def test_condition_must_compile_in_the_sandbox(runtime):
    xml = replace(
        new_card_xml(),
        "documents_complete == True</bpmn:conditionExpression>",
        "documents_complete ==</bpmn:conditionExpression>",
    )
    errors = errors_of(runtime, xml)
    assert any(
        m.startswith("Condition does not compile in the sandbox") for m in pinned(errors, "Flow_documents_complete")
    )


def test_condition_with_a_dunder_is_refused(runtime):
    xml = replace(
        new_card_xml(),
        "residence_verified == True</bpmn:conditionExpression>",
        "().__class__.__bases__</bpmn:conditionExpression>",
    )
    errors = errors_of(runtime, xml)
    assert pinned(errors, "Flow_residence_ok")


def test_timer_must_parse(runtime):
    xml = replace(new_card_xml(), '>"P14D"</bpmn:timeDuration>', '>"fourteen days"</bpmn:timeDuration>')
    errors = errors_of(runtime, xml)
    # the problem is about the timer definition, and it shows on the boundary event that holds it
    assert pinned(errors, "Boundary_documents_abandoned") == [
        "Timer value fourteen days is not an ISO 8601 date, duration or cycle."
    ]


def test_timer_duration_must_be_quoted(runtime):
    xml = replace(new_card_xml(), '>"P14D"</bpmn:timeDuration>', ">P14D</bpmn:timeDuration>")
    errors = errors_of(runtime, xml)
    assert pinned(errors, "Boundary_documents_abandoned") == [
        'Timer value P14D must be quoted, as "P14D": a timer is an expression.'
    ]


def test_due_in_must_be_a_duration(runtime):
    xml = set_property(new_card_xml(), "Task_handover", "dueIn", "a week")
    errors = errors_of(runtime, xml)
    assert pinned(errors, "Task_handover") == ["dueIn a week is not an ISO 8601 duration."]


def test_message_name_must_be_known(runtime):
    xml = replace(new_card_xml(), 'name="card_printed"', 'name="card_posted"')
    errors = errors_of(runtime, xml)
    assert any(
        m.startswith("Message card_posted is not known to Simpul") for m in pinned(errors, "Receive_card_printed")
    )


def test_message_event_must_name_a_message(runtime):
    xml = replace(
        new_card_xml(),
        'id="MessageEventDefinition_Boundary_enrolment_problem" messageRef="Message_enrolment_problem"',
        'id="MessageEventDefinition_Boundary_enrolment_problem"',
    )
    errors = errors_of(runtime, xml)
    assert any("names none" in m for m in pinned(errors, "Boundary_enrolment_problem"))


def test_message_needs_its_correlation_key(db, tmp_path):
    class NoKey:
        @hookimpl
        def bpmn_messages(self):
            return {"dukcapil_ping": {"description": "a message without a correlation key"}}

    rt = make_runtime(db, tmp_path, extra_plugins=(NoKey(),))
    seed_offices(rt)
    xml = replace(new_card_xml(), 'name="temporary_certificate_issued"', 'name="dukcapil_ping"')
    errors = errors_of(rt, xml)
    assert pinned(errors, "Boundary_suket_issued") == [
        "Message dukcapil_ping has no correlation key, so no case can be found for it."
    ]
    rt.close()


def test_message_correlated_by_another_key_in_the_diagram(runtime):
    corr = (
        '<bpmn:correlationProperty id="CP_nik" name="nik">'
        '<bpmn:correlationPropertyRetrievalExpression messageRef="Message_card_printed">'
        "<bpmn:messagePath>nik</bpmn:messagePath></bpmn:correlationPropertyRetrievalExpression>"
        "</bpmn:correlationProperty>\n  <bpmn:process "
    )
    xml = replace(new_card_xml(), "<bpmn:process ", corr)
    errors = errors_of(runtime, xml)
    assert pinned(errors, "Receive_card_printed") == [
        "Message card_printed is correlated by nik in the diagram, but Simpul matches it to a case by receipt."
    ]


def test_imported_diagram_reports_each_element_simpul_does_not_run(runtime):
    xml = replace(
        new_card_xml(),
        '<bpmn:exclusiveGateway id="Gateway_resolution"',
        '<bpmn:complexGateway id="Gateway_complex"/>\n    <bpmn:exclusiveGateway id="Gateway_resolution"',
    )
    xml = replace(
        xml,
        '<bpmn:scriptTask id="Script_suket_issued"',
        '<bpmn:businessRuleTask id="Rule_fee"/>\n    <bpmn:scriptTask id="Script_suket_issued"',
    )
    errors = errors_of(runtime, xml)
    messages = {e["element"]: e["message"] for e in errors}
    assert messages["Gateway_complex"] == "Simpul does not run BPMN element complexGateway."
    assert messages["Rule_fee"] == "Simpul does not run BPMN element businessRuleTask."


def test_not_xml_is_saved_as_draft_with_an_error(runtime):
    draft = drafts.save_draft(runtime, ADMIN, "<bpmn:definitions")
    assert not draft["valid"] and "not well-formed XML" in draft["errors"][0]["message"]
    with pytest.raises(DeployError):
        drafts.deploy_draft(runtime, draft["id"], ADMIN)


def test_invalid_draft_keeps_its_content_and_can_be_fixed(runtime):
    xml = add_user_task(new_card_xml(), form_key=None)
    draft = drafts.save_draft(runtime, ADMIN, xml)
    assert drafts.get_draft(runtime, draft["id"], ADMIN)["bpmn_xml"] == xml
    fixed = drafts.save_draft(
        runtime, ADMIN, add_user_task(new_card_xml()), draft_id=draft["id"], expected_revision=draft["revision"]
    )
    assert fixed["valid"] and fixed["revision"] == draft["revision"] + 1
    with pytest.raises(Conflict, match="Someone else saved this draft"):
        drafts.save_draft(runtime, ADMIN, xml, draft_id=draft["id"], expected_revision=draft["revision"])
    version = drafts.deploy_draft(runtime, draft["id"], ADMIN)
    assert version["version"] == 2 and version["deployed_by"] == "admin"
    with pytest.raises(Conflict, match="already deployed"):
        drafts.deploy_draft(runtime, draft["id"], ADMIN)
    assert drafts.open_process(runtime, ADMIN, "ektp_new_card")["version"]["version"] == 2


def test_only_process_admins_edit(runtime):
    with pytest.raises(Forbidden):
        drafts.save_draft(runtime, actor(runtime, "camat"), new_card_xml())
    with pytest.raises(Forbidden):
        drafts.process_overview(runtime, actor(runtime, "operator"))


def test_catalogue_offers_what_the_installed_plugins_provide(runtime):
    cat = drafts.editor_catalogue(runtime)
    assert "coordination.send_to_regency" in cat["operators"]
    assert {"name": "verifier", "role": "verifier"} in cat["lanes"]
    assert "residence_verification" in cat["forms"]
    assert {m["name"]: m["correlation"] for m in cat["messages"]} == {
        "card_printed": "receipt",
        "enrolment_problem": "receipt",
        "temporary_certificate_issued": "receipt",
    }


def test_element_ids_are_pinned_even_without_a_diagram_shape(runtime):
    # a timer definition has its own id but no shape: the error shows on its event
    xml = set_text(
        new_card_xml(),
        "//bpmn:boundaryEvent[@id='Boundary_card_sla']//bpmn:timeDuration",
        'setting("card_return_sla", ',
    )
    errors = errors_of(runtime, xml)
    assert [
        e
        for e in errors
        if e["shape"] == "Boundary_card_sla" and e["element"] == "TimerEventDefinition_Boundary_card_sla"
    ]
    assert set_attr  # (helper kept for other tests)


def test_a_checkbox_whose_unticked_default_ends_the_case_is_warned_about(runtime):
    """The trap of issue 14: an untouched tick box that rejects a resident.  The bundled forms
    have none; the old checkbox form, edited with the draft, is warned about on its task."""
    import json

    from simpul.engine.resources import PROCESSES_DIR

    clean = drafts.save_draft(runtime, ADMIN, new_card_xml())
    assert clean["valid"] and clean["warnings"] == []
    old = json.loads((PROCESSES_DIR / "forms" / "residence_verification.form.json").read_text(encoding="utf-8"))
    for comp in old["components"]:
        if comp.get("key") == "residence_verified":
            comp.clear()
            comp.update(
                type="checkbox",
                key="residence_verified",
                id="Field_residence_verified",
                label="Domisili sesuai",
                defaultValue=False,
                validate={"required": False},
                properties={"label_en": "Residence matches"},
            )
    draft = drafts.save_draft(runtime, ADMIN, new_card_xml(), forms={"residence_verification": old})
    assert draft["valid"]  # a warning, not an error: it can still be deployed
    assert [(w["shape"], w["params"]["field"], w["params"]["end"]) for w in draft["warnings"]] == [
        ("Task_residence_verification", "Domisili sesuai", "Ditolak: data domisili tidak sesuai")
    ]
