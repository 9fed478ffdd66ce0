"""The JSON API under /api/v1, on SQLite and PostgreSQL: every endpoint, the error format
{code, message, errors} with 400/401/403/404/409/422, bearer tokens, and office isolation."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import update

from simpul.engine import auth
from simpul.engine.models import HumanTask, User, utcnow

from ..flows import DOCS_OK, complete, open_task, resident, start_new_card


def error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"code", "message", "errors"} and body["code"] == code and body["message"]
    return body


@pytest.fixture
def api(app):
    return app.test_client()


@pytest.fixture
def op(token_for):
    return token_for("operator")


def test_no_bad_or_revoked_token_is_401(api, runtime, token_for):
    body = error(api.get("/api/v1/me"), 401, "unauthorized")
    assert api.get("/api/v1/me").headers["WWW-Authenticate"].startswith("Bearer")
    assert body["message"] == "Diperlukan token API yang sah."
    error(api.get("/api/v1/me", headers={"Authorization": "Basic b3A6cGFzcw=="}), 401, "unauthorized")
    error(api.get("/api/v1/me", headers={"Authorization": "Bearer smp_not-a-real-token"}), 401, "unauthorized")
    headers = token_for("operator2")
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    token_id = auth.list_tokens(runtime, "operator2", auth.active_actor(runtime, "operator2"))[0]["id"]
    auth.revoke_token(runtime, token_id, auth.active_actor(runtime, "operator2"))
    error(api.get("/api/v1/me", headers=headers), 401, "unauthorized")
    headers = token_for("verifier")
    with runtime.transaction() as uow:
        uow.session.get(User, "verifier").active = False
    error(api.get("/api/v1/tasks", headers=headers), 401, "unauthorized")
    # a session cookie is not an API credential
    error(api.post("/api/v1/cases", json={"process": "ektp_new_card", "data": resident(1)}), 401, "unauthorized")


def test_me_and_processes(api, op):
    me = api.get("/api/v1/me", headers=op).get_json()
    assert me["username"] == "operator" and me["roles"] == ["operator"]
    assert me["office"] == {
        "code": "640205",
        "name": "Kecamatan Sangasanga",
        "kind": "kecamatan",
        "timezone": "Asia/Makassar",
    }
    assert me["inbox"] == {"mine": 0, "roles": 0}
    processes = {p["key"]: p for p in api.get("/api/v1/processes", headers=op).get_json()}
    assert processes["ektp_new_card"]["startable"] and not processes["ektp_regency_printing"]["startable"]
    assert processes["ektp_new_card"]["title"] == "Perekaman e-KTP Baru"
    english = api.get("/api/v1/processes", headers={**op, "Accept-Language": "en"}).get_json()
    assert {p["key"]: p["title"] for p in english}["ektp_new_card"] == "New e-KTP recording"


def test_cases_start_list_show_cancel_and_their_errors(api, op):
    started = api.post("/api/v1/cases", headers=op, json={"process": "ektp_new_card", "data": resident(1)})
    assert started.status_code == 201
    case = started.get_json()
    assert case["status"] == "active" and case["open_tasks"][0]["step"] == "Task_document_check"
    receipt = case["receipt"]

    body = error(
        api.post("/api/v1/cases", headers=op, json={"process": "ektp_new_card", "data": resident(1)}), 409, "conflict"
    )
    assert body["errors"] == {"case": receipt} and receipt in body["message"]
    body = error(
        api.post("/api/v1/cases", headers=op, json={"process": "ektp_new_card", "data": resident(2, nik="123")}),
        422,
        "validation_failed",
    )
    assert body["errors"]["nik"] == ["Isi tepat 16 digit angka."]
    body = error(
        api.post(
            "/api/v1/cases",
            headers={**op, "Accept-Language": "en"},
            json={"process": "ektp_new_card", "data": resident(2, nik="123")},
        ),
        422,
        "validation_failed",
    )
    assert body["message"] == "Some fields need attention."
    assert body["errors"]["nik"] == ["Enter exactly 16 digits (numbers only)."]
    body = error(api.post("/api/v1/cases", headers=op, json={"data": resident(2)}), 422, "validation_failed")
    assert body["errors"] == {"process": ["Isian wajib belum diisi."]}
    error(
        api.post("/api/v1/cases", headers={**op, "Content-Type": "application/json"}, data="{not json"),
        400,
        "invalid_input",
    )
    error(api.post("/api/v1/cases", headers=op, json={"process": "no_such", "data": resident(2)}), 404, "not_found")

    api.post("/api/v1/cases", headers=op, json={"process": "ektp_new_card", "data": resident(2)})
    listed = api.get("/api/v1/cases?status=open&per_page=1", headers=op).get_json()
    assert len(listed["items"]) == 1 and listed["has_more"] is True
    assert [c["resident_name"] for c in api.get("/api/v1/cases?q=warga%201", headers=op).get_json()["items"]] == [
        "Warga 1"
    ]
    error(api.get("/api/v1/cases?status=bogus", headers=op), 422, "validation_failed")

    shown = api.get(f"/api/v1/cases/{receipt}", headers=op).get_json()
    assert shown["receipt"] == receipt and shown["events"][0]["kind"] == "case_started"
    assert shown["open_tasks"][0]["name"] == "Pemeriksaan berkas" and shown["comments"] == []
    assert api.get(f"/api/v1/cases/{shown['id']}", headers=op).get_json()["receipt"] == receipt
    error(api.get("/api/v1/cases/640205-2026-99999", headers=op), 404, "not_found")

    error(api.post(f"/api/v1/cases/{receipt}/cancel", headers=op, json={"reason": ""}), 422, "validation_failed")
    cancelled = api.post(f"/api/v1/cases/{receipt}/cancel", headers=op, json={"reason": "Pindah domisili"})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    error(api.post(f"/api/v1/cases/{receipt}/cancel", headers=op, json={"reason": "lagi"}), 409, "conflict")


def test_inbox_filters_views_and_paging(api, runtime, op, token_for):
    receipts = [start_new_card(runtime, n)["receipt"] for n in range(1, 6)]
    complete(runtime, receipts[0], "operator", DOCS_OK)
    with runtime.transaction() as uow:
        uow.session.execute(
            update(HumanTask).where(HumanTask.step == "Task_document_check").values(due_at=utcnow() + timedelta(days=1))
        )
        task = uow.session.query(HumanTask).join(HumanTask.case).filter_by(receipt=receipts[3]).one()
        task.due_at = utcnow() - timedelta(hours=1)
    inbox = api.get("/api/v1/tasks", headers=op).get_json()
    assert inbox["view"] == "roles" and inbox["total"] == 4 and inbox["counts"] == {"mine": 0, "roles": 4}
    first = inbox["items"][0]
    assert first["receipt"] == receipts[3] and first["overdue"] is True  # sorted by due date
    assert first["nik_masked"] == "••••••••••••0004" and "nik" not in first
    assert api.get("/api/v1/tasks?overdue=true", headers=op).get_json()["total"] == 1
    assert api.get("/api/v1/tasks?nik=0002", headers=op).get_json()["items"][0]["resident_name"] == "Warga 2"
    assert api.get("/api/v1/tasks?q=warga%205", headers=op).get_json()["total"] == 1
    assert api.get(f"/api/v1/tasks?receipt={receipts[2]}", headers=op).get_json()["total"] == 1
    assert api.get("/api/v1/tasks?procedure=ektp_renewal", headers=op).get_json()["total"] == 0
    assert api.get("/api/v1/tasks?step=Task_document_check", headers=op).get_json()["total"] == 4
    first_page = api.get("/api/v1/tasks?per_page=3", headers=op).get_json()
    paged = api.get(first_page["next"], headers=op).get_json()
    assert paged["pages"] == 2 and paged["page"] == 2 and len(paged["items"]) == 1 and paged["next"] is None
    assert {t["id"] for t in paged["items"]}.isdisjoint(t["id"] for t in first_page["items"])
    last = api.get("/api/v1/tasks?per_page=3&last=true", headers=op).get_json()
    assert last["page"] == 2 and last["items"][-1]["id"] == paged["items"][-1]["id"]
    error(api.get("/api/v1/tasks?per_page=3&page=2", headers=op), 400, "invalid_input")
    error(api.get("/api/v1/tasks?after=xyz", headers=op), 400, "invalid_input")
    body = error(api.get("/api/v1/tasks?view=office", headers=op), 403, "forbidden")
    assert "pengawas" in body["message"]
    error(api.get("/api/v1/tasks?view=everything", headers=op), 422, "validation_failed")
    error(api.get("/api/v1/tasks?per_page=1000", headers=op), 422, "validation_failed")
    camat = token_for("camat")
    assert api.get("/api/v1/tasks?view=office", headers=camat).get_json()["total"] == 5
    verifier = api.get("/api/v1/tasks", headers=token_for("verifier")).get_json()
    assert [t["step"] for t in verifier["items"]] == ["Task_residence_verification"]


@pytest.mark.national_checklist
def test_task_claim_unclaim_complete_and_conflicts(api, runtime, op, token_for):
    receipt = start_new_card(runtime, 1)["receipt"]
    task_id = open_task(runtime, receipt, "operator")["id"]
    andi = token_for("operator2")
    detail = api.get(f"/api/v1/tasks/{task_id}", headers=op).get_json()
    assert detail["form"]["id"] == "Form_document_check" and detail["version"] == 1
    assert [r["key"] for r in detail["requirements"]] == ["family_card"]
    assert detail["case_data"]["resident_name"] == "Warga 1"
    error(api.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", headers=op), 404, "not_found")

    claimed = api.post(f"/api/v1/tasks/{task_id}/claim", headers=op, json={"version": 1}).get_json()
    assert claimed["assignee"] == "operator" and claimed["version"] == 2
    body = error(api.post(f"/api/v1/tasks/{task_id}/claim", headers=andi, json={}), 409, "conflict")
    assert "Siti" in body["message"]  # the holder by name, as people know her
    error(api.post(f"/api/v1/tasks/{task_id}/complete", headers=andi, json={"data": DOCS_OK}), 409, "conflict")
    assert api.get("/api/v1/tasks?view=mine", headers=op).get_json()["total"] == 1
    released = api.post(f"/api/v1/tasks/{task_id}/unclaim", headers=op, json={}).get_json()
    assert released["assignee"] is None and released["version"] == 3

    body = error(
        api.post(
            f"/api/v1/tasks/{task_id}/complete", headers=op, json={"data": {"documents_complete": True}, "version": 3}
        ),
        422,
        "validation_failed",
    )
    assert body["errors"]["documents_received"] == ["Berkas persyaratan belum ada: Kartu Keluarga (KK)"]
    body = error(
        api.post(
            f"/api/v1/tasks/{task_id}/complete", headers=op, json={"data": {**DOCS_OK, "typo_field": 1}, "version": 3}
        ),
        422,
        "validation_failed",
    )
    assert body["errors"]["typo_field"] == ["Isian tidak dikenal."]
    error(
        api.post(f"/api/v1/tasks/{task_id}/complete", headers=op, json={"data": DOCS_OK, "version": 1}), 409, "conflict"
    )
    error(api.post(f"/api/v1/tasks/{task_id}/complete", headers=op, json={"data": "yes"}), 422, "validation_failed")
    done = api.post(f"/api/v1/tasks/{task_id}/complete", headers=op, json={"data": DOCS_OK, "version": 3})
    assert done.status_code == 200
    assert [t["step"] for t in done.get_json()["open_tasks"]] == ["Task_residence_verification"]
    body = error(api.post(f"/api/v1/tasks/{task_id}/complete", headers=andi, json={"data": DOCS_OK}), 409, "conflict")
    assert "Siti" in body["message"]  # who completed it, by name

    verify_id = open_task(runtime, receipt, "verifier")["id"]
    body = error(
        api.post(
            f"/api/v1/tasks/{verify_id}/complete",
            headers=op,
            json={"data": {"residence_verified": True, "kelurahan_officer": "Budi"}},
        ),
        403,
        "forbidden",
    )
    assert "verifier" in body["message"]
    error(api.post(f"/api/v1/tasks/{verify_id}/claim", headers=op, json={}), 403, "forbidden")


def test_office_isolation_on_every_endpoint(api, runtime, op, token_for, caplog):
    receipt = start_new_card(runtime, 1)["receipt"]
    task_id = open_task(runtime, receipt, "operator")["id"]
    other = token_for("other")  # operator, verifier and supervisor of another kecamatan
    caplog.set_level(logging.WARNING, logger="simpul.security")
    assert api.get("/api/v1/cases", headers=other).get_json()["items"] == []
    for view in ("mine", "roles", "office"):
        assert api.get(f"/api/v1/tasks?view={view}", headers=other).get_json()["total"] == 0
    error(api.get(f"/api/v1/cases/{receipt}", headers=other), 404, "not_found")
    error(api.post(f"/api/v1/cases/{receipt}/cancel", headers=other, json={"reason": "x"}), 404, "not_found")
    error(api.get(f"/api/v1/tasks/{task_id}", headers=other), 404, "not_found")
    error(api.post(f"/api/v1/tasks/{task_id}/claim", headers=other, json={}), 404, "not_found")
    error(api.post(f"/api/v1/tasks/{task_id}/unclaim", headers=other, json={}), 404, "not_found")
    error(api.post(f"/api/v1/tasks/{task_id}/complete", headers=other, json={"data": DOCS_OK}), 404, "not_found")
    # the same NIK in another office is a separate resident file there: not a conflict with ours
    assert (
        api.post("/api/v1/cases", headers=other, json={"process": "ektp_new_card", "data": resident(1)}).status_code
        == 201
    )
    denied = [r.getMessage() for r in caplog.records if "office isolation" in r.getMessage()]
    assert len(denied) >= 6
    assert api.get(f"/api/v1/tasks/{task_id}", headers=op).status_code == 200  # untouched


def test_openapi_description_and_docs_page(api, browser):
    spec = api.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    for path, methods in {
        "/api/v1/me": {"get"},
        "/api/v1/processes": {"get"},
        "/api/v1/cases": {"get", "post"},
        "/api/v1/cases/{case_ref}": {"get"},
        "/api/v1/cases/{case_ref}/cancel": {"post"},
        "/api/v1/tasks": {"get"},
        "/api/v1/tasks/{task_id}": {"get"},
        "/api/v1/tasks/{task_id}/claim": {"post"},
        "/api/v1/tasks/{task_id}/unclaim": {"post"},
        "/api/v1/tasks/{task_id}/complete": {"post"},
    }.items():
        assert methods <= set(paths[path]), path
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"401", "404", "409", "422"} <= set(paths["/api/v1/tasks/{task_id}/complete"]["post"]["responses"])
    docs = browser.get("/api/docs")
    html = docs.get_data(as_text=True)
    assert docs.status_code == 200 and "POST /api/v1/tasks/{task_id}/complete" in html
    assert 'src="http' not in html and 'href="http' not in html


def test_unknown_endpoints_answer_json_and_unknown_pages_html(api, browser, op):
    body = error(api.get("/api/v1/nothing-here", headers=op), 404, "not_found")
    assert body["message"] == "Tidak ditemukan."
    error(api.delete("/api/v1/me", headers=op), 405, "not_allowed")
    page = browser.get("/nothing-here")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Tidak ditemukan. Mungkin milik kantor lain" in page.get_data(as_text=True)


def test_the_camat_overrides_a_missing_document_through_the_api(api, runtime, token_for):
    receipt = start_new_card(runtime, 1)["receipt"]
    task_id = open_task(runtime, receipt, "camat")["id"]
    camat = token_for("camat")
    nothing = {"documents_complete": True, "documents_received": []}
    offered = api.get(f"/api/v1/tasks/{task_id}", headers=camat).get_json()["inputs"]
    assert [i["name"] for i in offered] == ["override_reason"]
    assert api.get(f"/api/v1/tasks/{task_id}", headers=token_for("operator")).get_json()["inputs"] == []
    url = f"/api/v1/tasks/{task_id}/complete"
    error(api.post(url, headers=camat, json={"data": nothing, "extras": {"overide": "x"}}), 400, "invalid_input")
    body = error(
        api.post(url, headers=camat, json={"data": nothing, "extras": {"override_reason": " "}}),
        422,
        "validation_failed",
    )
    assert list(body["errors"]) == ["override_reason"]
    done = api.post(url, headers=camat, json={"data": nothing, "extras": {"override_reason": "KK menyusul"}})
    assert done.status_code == 200
    events = api.get(f"/api/v1/cases/{receipt}", headers=camat).get_json()["events"]
    assert any(e["kind"] == "requirements_overridden" and e["detail"] == "KK menyusul" for e in events)
