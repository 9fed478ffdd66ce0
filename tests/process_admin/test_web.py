"""The process administration pages and their JSON endpoints (Flask test client, CSRF on)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from simpul.engine import directory

from ..conftest import OFFICE
from ..flows import start_new_card
from ..web.conftest import password_hash, set_passwords  # noqa: F401  (fixture)
from ..web.web_helpers import Browser, page_text
from .diagrams import add_user_task, new_card_xml


@pytest.fixture
def admin(runtime, password_hash):  # noqa: F811
    from simpul.web import create_app

    with runtime.transaction() as uow:
        directory.create_user(uow.session, "admin", "Admin Proses", OFFICE, ["process_admin"])
    set_passwords(runtime, password_hash)
    app = create_app(runtime=runtime, config={"TESTING": True})
    browser = Browser(app)
    browser.login("admin")
    browser.language("en")  # assertions read the English texts
    return browser


def _csrf(browser) -> str:
    page = browser.get("/admin/processes/ektp_new_card/edit").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


def post_json(browser, url, body, token):
    return browser.client.post(
        url, data=json.dumps(body), content_type="application/json", headers={"X-CSRFToken": token}
    )


def test_process_list_shows_versions_who_when_and_cases(admin, runtime):
    start_new_card(runtime, 1)
    text = page_text(admin.get("/admin/processes"))
    assert "ektp_new_card" in text
    html = admin.last.get_data(as_text=True)
    assert re.search(r'data-version="1">.*?test.*?class="open-cases">1<', html, re.S)


def test_non_admin_is_refused(runtime, password_hash):  # noqa: F811
    from simpul.web import create_app

    set_passwords(runtime, password_hash)
    browser = Browser(create_app(runtime=runtime, config={"TESTING": True}))
    browser.login("camat")
    assert browser.get("/admin/processes").status_code == 403
    assert browser.get("/admin/processes/api/catalogue").status_code == 403


def test_modeler_page_embeds_the_diagram_and_the_catalogue(admin):
    html = admin.get("/admin/processes/ektp_new_card/edit").get_data(as_text=True)
    data = json.loads(
        re.search(r'<script type="application/json" id="modeler-data">(.*?)</script>', html, re.S).group(1)
    )
    assert data["xml"].startswith("<?xml") and data["base_version"]["version"] == 1
    assert "coordination.send_to_regency" in data["catalogue"]["operators"]
    assert "https://" not in html.replace("http://www.w3.org", "")  # nothing from outside the app


def test_validate_save_and_deploy_through_json(admin, runtime):
    token = _csrf(admin)
    bad = post_json(
        admin, "/admin/processes/api/validate", {"bpmn_xml": add_user_task(new_card_xml(), form_key=None)}, token
    ).get_json()
    assert bad["valid"] is False and bad["errors"][0]["shape"] == "Task_field_check"
    saved = post_json(
        admin, "/admin/processes/api/drafts", {"bpmn_xml": add_user_task(new_card_xml(), form_key=None)}, token
    )
    assert saved.status_code == 200 and saved.get_json()["valid"] is False
    draft = saved.get_json()
    refused = post_json(admin, f"/admin/processes/api/drafts/{draft['id']}/deploy", {}, token)
    assert refused.status_code == 400 and refused.get_json()["errors"][0]["element"] == "Task_field_check"
    fixed = post_json(
        admin,
        "/admin/processes/api/drafts",
        {"bpmn_xml": add_user_task(new_card_xml()), "draft_id": draft["id"], "expected_revision": draft["revision"]},
        token,
    )
    assert fixed.get_json()["valid"] is True
    deployed = post_json(admin, f"/admin/processes/api/drafts/{draft['id']}/deploy", {}, token)
    assert deployed.status_code == 201 and deployed.get_json()["version"] == 2
    # without the CSRF header nothing is saved
    assert (
        admin.client.post("/admin/processes/api/drafts", data="{}", content_type="application/json").status_code == 400
    )


def test_import_reports_what_simpul_does_not_run_and_download(admin):
    xml = new_card_xml().replace(
        '<bpmn:exclusiveGateway id="Gateway_resolution"',
        '<bpmn:complexGateway id="Gateway_complex"/>\n<bpmn:exclusiveGateway id="Gateway_resolution"',
    )
    admin.get("/admin/processes")
    response = admin.post(
        "/admin/processes/import",
        {"file": (io.BytesIO(xml.encode()), "camunda.bpmn")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and "/drafts/" in response.headers["Location"]
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert "Simpul does not run BPMN element complexGateway." in page
    download = admin.get("/admin/processes/ektp_new_card/versions/1.bpmn")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.get_data(as_text=True).startswith("<?xml")


def test_migration_page_dry_run_then_migrate_all(admin, runtime):
    from simpul.engine import Actor, drafts

    cases = [start_new_card(runtime, n) for n in (1, 2)]
    actor = Actor("admin", OFFICE, frozenset({"process_admin"}))
    draft = drafts.save_draft(runtime, actor, add_user_task(new_card_xml()))
    drafts.deploy_draft(runtime, draft["id"], actor)
    text = page_text(admin.get("/admin/processes/ektp_new_card/migrate?target=2"))
    assert "Steps added: Field check" in text and text.count("can migrate") >= 2
    response = admin.post("/admin/processes/ektp_new_card/migrate", {"target": "2", "scope": "all"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for case in cases:
        assert re.search(rf'data-receipt="{case["receipt"]}".*?class="outcome">migrated<', html, re.S)
    plan = admin.client.get("/admin/processes/api/ektp_new_card/migration?target=2").get_json()
    assert plan["cases"] == []  # all on v2 now


def test_a_deploy_refused_in_indonesian_shows_the_problem_in_indonesian_on_its_element(admin):
    admin.language("id")
    token = _csrf(admin)
    draft = post_json(
        admin, "/admin/processes/api/drafts", {"bpmn_xml": add_user_task(new_card_xml(), form_key=None)}, token
    ).get_json()
    problem = next(p for p in draft["errors"] if p["element"] == "Task_field_check")
    assert problem["message"] == "Tugas pengguna Pemeriksaan lapangan tidak memiliki formulir (formKey)."
    assert problem["template"] == "User task {name} has no form (formKey)."  # the stable English stays
    refused = post_json(admin, f"/admin/processes/api/drafts/{draft['id']}/deploy", {}, token)
    assert refused.status_code == 400
    body = refused.get_json()
    pinned = [p for p in body["errors"] if p["shape"] == "Task_field_check"]
    assert [p["message"] for p in pinned] == ["Tugas pengguna Pemeriksaan lapangan tidak memiliki formulir (formKey)."]
    assert "tidak dapat dipasang: Tugas pengguna" in body["message"]
    # the modeler opened on the draft shows the same, in Indonesian
    html = admin.get(f"/admin/processes/drafts/{draft['id']}/edit").get_data(as_text=True)
    data = json.loads(re.search(r'id="modeler-data">(.*?)</script>', html, re.S).group(1))
    assert "Tugas pengguna Pemeriksaan lapangan tidak memiliki formulir (formKey)." in [
        p["message"] for p in data["draft"]["errors"]
    ]
    # in English the same problem reads in English
    admin.language("en")
    again = post_json(
        admin, "/admin/processes/api/validate", {"bpmn_xml": add_user_task(new_card_xml(), form_key=None)}, token
    ).get_json()
    assert "User task Pemeriksaan lapangan has no form (formKey)." in [p["message"] for p in again["errors"]]


def test_sandbox_words_and_placeholders_of_problems_are_translated(admin):
    admin.language("id")
    token = _csrf(admin)
    xml = re.sub(r"(<bpmn:conditionExpression[^>]*>)([^<]*)(<)", r"\1import os\3", new_card_xml(), count=1)
    errors = post_json(admin, "/admin/processes/api/validate", {"bpmn_xml": xml}, token).get_json()["errors"]
    assert any(p["message"].startswith("Kondisi tidak dapat dikompilasi di sandbox") for p in errors), errors


def test_migration_refusal_reasons_are_shown_in_indonesian(admin, runtime):
    from simpul.engine import Actor, drafts

    from ..flows import DOCS_OK, complete
    from .diagrams import bypass

    case = start_new_card(runtime, 1)
    complete(runtime, case["receipt"], "operator", DOCS_OK)
    actor = Actor("admin", OFFICE, frozenset({"process_admin"}))
    draft = drafts.save_draft(runtime, actor, bypass(new_card_xml(), "Task_residence_verification"))
    drafts.deploy_draft(runtime, draft["id"], actor)
    admin.language("id")
    plan = admin.client.get("/admin/processes/api/ektp_new_card/migration?target=2").get_json()
    assert plan["cases"][0]["reason"].startswith(
        "Permohonan berada di langkah Verifikasi domisili, yang dihapus oleh versi 2"
    )
    response = admin.post("/admin/processes/ektp_new_card/migrate", {"target": "2", "scope": "all"})
    assert "yang dihapus oleh versi 2" in page_text(response)


def test_the_simpul_panel_labels_follow_the_users_language(admin):
    def labels():
        html = admin.get("/admin/processes/ektp_new_card/edit").get_data(as_text=True)
        return json.loads(re.search(r'id="modeler-labels">(.*?)</script>', html, re.S).group(1))

    english = labels()
    assert english["new_form"] == "New form key" and english["form"] == "Form"
    admin.language("id")
    indonesian = labels()
    assert indonesian["new_form"] == "Kunci formulir baru" and indonesian["form"] == "Formulir"
    assert indonesian["lane_role"] == "Peran (lajur)"
    assert indonesian["new_form_exists"] == "Formulir {key} sudah ada; pilih kunci lain."
    assert set(indonesian) == set(english)


def test_the_words_of_bpmn_js_and_form_js_come_from_the_catalogues_in_the_users_language(admin):
    """The modeler page hands translate-id.js every library string it knows, translated by the
    message catalogues: English as the libraries write it, Indonesian complete (a library
    string left in English would show in the Indonesian editor); a field type's name has its
    own context ("Select" the field type is not "Select" the button)."""
    from babel.messages.pofile import read_po

    from simpul.web.modeler_text import LIBRARY_TEXT

    def words():
        html = admin.get("/admin/processes/ektp_new_card/edit").get_data(as_text=True)
        return json.loads(re.search(r'id="modeler-translations">(.*?)</script>', html, re.S).group(1))

    english = words()
    assert set(english["text"]) == set(LIBRARY_TEXT)
    assert all(english["text"][k] == k for k in english["text"])
    assert all(english["form_fields"][k] == k for k in english["form_fields"])
    admin.language("id")
    indonesian = words()
    assert indonesian["text"]["Search components"] == "Cari komponen"
    assert indonesian["text"]["Field label"] == "Label kolom"
    assert indonesian["text"]["Create a {label} element"] == "Buat elemen {label}"
    assert indonesian["text"]["Create task"] == "Buat tugas"  # bpmn-js's, moved from translate-id.js
    assert indonesian["form_fields"]["Select"] == "Daftar pilihan"
    assert indonesian["form_fields"]["Text field"] == "Kolom teks"

    # every one is translated in translations/id (the words that are the same in both languages
    # are translated to themselves there)
    root = Path(__file__).resolve().parents[2]
    with (root / "translations" / "id" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        po = read_po(f, locale="id")
    entries = {(m.context, m.id): m.string for m in po if m.id}
    missing = [k for k in english["text"] if not entries.get((None, k))]
    missing += [k for k in english["form_fields"] if not entries.get(("form field", k))]
    assert missing == []
