"""The upload and download pages of the verification plugin, in a minimal Flask app that
registers every blueprint of the ``web_blueprints`` hook (as the web app does) and signs
users in by a test header."""

from __future__ import annotations

import html
import io

import pytest
from flask import Flask, g, request
from sqlalchemy import func, select

from simpul.engine import deploy_bundled, directory
from simpul.engine import documents as store
from simpul.engine.i18n import gettext_for, render, translations_for
from simpul.engine.models_documents import Document
from simpul.plugins.verification.identity import check_nik
from simpul.plugins.verification.web import MSG_CHOOSE_FILE, MSG_REMOVED, MSG_UPLOADED, TEXT

from ..conftest import make_runtime, seed_offices
from ..flows import DOCS_OK, actor, complete, start_new_card
from .samples import MB, PhotoRequirement, exe, image, pdf


def make_client(runtime):
    app = Flask("verification-test")
    app.config["TESTING"] = True
    for blueprints in runtime.hook.web_blueprints(runtime=runtime):
        for bp in blueprints:
            app.register_blueprint(bp)

    @app.before_request
    def _sign_in():
        username = request.headers.get("X-Test-User")
        g.actor = directory.actor_for(runtime, username) if username else None

    return app.test_client()


@pytest.fixture
def client(runtime):
    return make_client(runtime)


def as_user(name, **headers):
    return {"X-Test-User": name, **headers}


JSON = {"Accept": "application/json"}


def indonesian(message: str, **params) -> str:
    """What the clerk reads (the node's default language is Indonesian)."""
    text = gettext_for("id")(message)
    assert text != message, f"no Indonesian translation of {message!r}"
    return text.format(**params) if params else text


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def upload(client, receipt, content, name="kk.pdf", requirement="family_card", user="operator", headers=None):
    return client.post(
        f"/verification/cases/{receipt}/documents",
        data={"requirement": requirement, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
        headers=as_user(user, **(headers or {})),
    )


def documents_in_db(rt):
    with rt.read() as s:
        return s.scalar(select(func.count()).select_from(Document))


def test_upload_page_lists_the_checklist_in_indonesian(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    page = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("operator"))
    assert page.status_code == 200
    text = page_text(page)
    assert indonesian("Family card (Kartu Keluarga)") in text and 'name="requirement" value="family_card"' in text
    assert indonesian(TEXT["limit"], mb="5") in text


def test_upload_then_download_by_a_colleague(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    result = upload(client, receipt, pdf(), name="KK Budi.pdf", headers=JSON)
    assert result.status_code == 201
    body = result.get_json()
    assert body["message"] == indonesian(MSG_UPLOADED) and body["content_type"] == "application/pdf"
    page = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("verifier"))
    assert f"/verification/documents/{body['id']}" in page.get_data(as_text=True)
    download = client.get(f"/verification/documents/{body['id']}", headers=as_user("verifier"))
    assert download.status_code == 200 and download.data == pdf()
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "KK Budi.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.headers["Cache-Control"] == "private, no-store"


@pytest.mark.parametrize(
    "content, name, msgid, params",
    [
        (exe(), "setup.pdf", store.MSG_UNKNOWN_TYPE, {}),
        (b"", "kosong.pdf", store.MSG_EMPTY, {}),
        (image("JPEG")[:700], "foto.jpg", store.MSG_BROKEN_JPEG, {}),
        (pdf(pad=6 * MB), "besar.pdf", store.MSG_TOO_LARGE, {"limit": "5"}),
    ],
)
def test_bad_uploads_are_refused_in_the_clerks_language(client, runtime, content, name, msgid, params):
    message = indonesian(msgid, **params)
    receipt = start_new_card(runtime)["receipt"]
    page = upload(client, receipt, content, name=name)
    assert page.status_code == 422
    assert message in page_text(page)
    as_json = upload(client, receipt, content, name=name, headers=JSON)
    assert as_json.status_code == 422 and message in as_json.get_json()["message"]
    assert documents_in_db(runtime) == 0 and not store.store_root(runtime).exists()


def test_no_file_chosen(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    response = client.post(
        f"/verification/cases/{receipt}/documents",
        data={"requirement": "family_card"},
        headers=as_user("operator", **JSON),
    )
    assert response.status_code == 422 and response.get_json()["message"] == indonesian(MSG_CHOOSE_FILE)


def test_another_office_gets_not_found_everywhere(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    assert client.get(f"/verification/cases/{receipt}/documents", headers=as_user("other")).status_code == 404
    assert upload(client, receipt, pdf(pad=5), user="other").status_code == 404
    assert upload(client, receipt, b"", user="other").status_code == 404  # even a bad file says nothing more
    refused = client.get(f"/verification/documents/{doc['id']}", headers=as_user("other"))
    assert refused.status_code == 404 and pdf() not in refused.data
    assert documents_in_db(runtime) == 1


def test_signed_out_users_get_nothing(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    doc = store.store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "operator"))
    assert client.get(f"/verification/documents/{doc['id']}").status_code == 401
    assert client.get(f"/verification/cases/{receipt}/documents").status_code == 401


def test_a_wrong_upload_is_removed_with_its_name_in_the_message_until_a_step_relied_on_it(client, runtime):
    receipt = start_new_card(runtime)["receipt"]
    wrong = upload(client, receipt, pdf(pad=7), name="salah.pdf", headers=JSON).get_json()
    kept = upload(client, receipt, pdf(), name="kk-warga.pdf", headers=JSON).get_json()
    link = f"/verification/documents/{wrong['id']}/remove"
    page = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("operator"))
    assert link in page.get_data(as_text=True)  # the clerk is offered the removal
    listed = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("operator", **JSON))
    assert [d["removable"] for d in listed.get_json()["documents"]] == [True, True]

    done = indonesian(MSG_REMOVED, file="salah.pdf")
    removed = client.post(link, data={"confirm": "yes"}, headers=as_user("operator"))
    assert removed.status_code == 200 and done in page_text(removed)
    assert "salah.pdf" not in page_text(removed).replace(done, "")
    again = client.post(
        f"/verification/documents/{kept['id']}/remove", data={"confirm": "yes"}, headers=as_user("operator", **JSON)
    )
    assert again.get_json()["message"] == indonesian(MSG_REMOVED, file="kk-warga.pdf")
    assert documents_in_db(runtime) == 0

    # once the document check relied on a scan, it stays: no removal is offered
    last = upload(client, receipt, pdf(), name="kk.pdf", headers=JSON).get_json()
    complete(runtime, receipt, "operator", DOCS_OK)
    page = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("operator"))
    assert f"/verification/documents/{last['id']}/remove" not in page.get_data(as_text=True)


def test_photo_warnings_are_shown_not_refused(db, tmp_path):
    rt = make_runtime(db, tmp_path, extra_plugins=[PhotoRequirement()])
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    try:
        client = make_client(rt)
        receipt = start_new_card(rt)["receipt"]
        result = upload(
            client,
            receipt,
            image("JPEG", (400, 400), (200, 30, 30)),
            name="foto.jpg",
            requirement="photos",
            headers=JSON,
        )
        assert result.status_code == 201
        ratio = indonesian(store.MSG_WARN_RATIO, width=400, height=400)
        assert result.get_json()["warning_texts"] == [ratio, indonesian(store.MSG_WARN_BACKGROUND)]
        page = client.get(f"/verification/cases/{receipt}/documents", headers=as_user("operator"))
        assert ratio in page_text(page)
        # The family card is no photo: a dark, square scan gets no warning.
        scan = upload(client, receipt, image("JPEG", (500, 500), (20, 20, 20)), name="kk.jpg", headers=JSON)
        assert scan.status_code == 201 and scan.get_json()["warning_texts"] == []
    finally:
        rt.close()


def test_nik_check_for_the_form(client, runtime):
    ok = client.get(
        "/verification/nik?nik=6402054507000001&birth_date=2000-07-05&sex=P", headers=as_user("operator")
    ).get_json()
    assert ok == {
        "nik": "6402054507000001",
        "ok": True,
        "errors": [],
        "region": "640205",
        "sex": "P",
        "birth": "05-07-00",
    }
    bad = client.get("/verification/nik?nik=6402054513000001", headers=as_user("operator")).get_json()
    assert bad["ok"] is False
    [english] = check_nik("6402054513000001")
    assert "month of birth" in english
    assert bad["errors"] == [render(english, translations_for("id"))] and bad["errors"] != [english]
    assert bad["errors"] == ["Digit 9\u201310 (13) bukan bulan lahir (01\u201312)."]


def test_in_the_web_app_the_page_uses_its_layout_and_uploads_need_a_csrf_token(runtime):
    """The real app (web.create_app) registers the plugin's blueprint from the hook."""
    import re

    from argon2 import PasswordHasher

    web = pytest.importorskip("web")
    with runtime.transaction() as uow:
        directory.create_user(
            uow.session,
            "operator",
            "Siti",
            "640205",
            ["operator"],
            password_hash=PasswordHasher().hash("kata-sandi-123"),
        )
    receipt = start_new_card(runtime)["receipt"]
    app = web.create_app(runtime=runtime)
    assert "verification" in app.blueprints
    browser = app.test_client()
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    login = browser.get("/login")
    signed_in = browser.post(
        "/login",
        data={
            "username": "operator",
            "password": "kata-sandi-123",
            "csrf_token": token.search(login.get_data(as_text=True)).group(1),
        },
    )
    assert signed_in.status_code == 302
    page = browser.get(f"/verification/cases/{receipt}/documents")
    assert page.status_code == 200 and indonesian("Family card (Kartu Keluarga)") in page_text(page)
    form = {"requirement": "family_card", "file": (io.BytesIO(pdf()), "kk.pdf")}
    forged = browser.post(f"/verification/cases/{receipt}/documents", data=form, content_type="multipart/form-data")
    assert forged.status_code == 400 and documents_in_db(runtime) == 0
    form = {
        "requirement": "family_card",
        "file": (io.BytesIO(pdf()), "kk.pdf"),
        "csrf_token": token.search(page.get_data(as_text=True)).group(1),
    }
    uploaded = browser.post(f"/verification/cases/{receipt}/documents", data=form, content_type="multipart/form-data")
    assert uploaded.status_code == 201 and indonesian(MSG_UPLOADED) in page_text(uploaded)
    assert documents_in_db(runtime) == 1
