"""Inputs that used to give a 500 (or worse, the wrong case): Unicode digits as case
references, ids and page numbers beyond 64 bits, NUL characters (PostgreSQL text cannot hold
them).  Each is a clear 4xx, nothing is written, on both databases."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from simpul.engine.models import Case, CaseComment
from simpul.engine.models_accounts import LoginAttempt

from ..flows import resident, start_new_card
from .web_helpers import PASSWORD, page_text

HUGE = "9" * 30  # beyond 64 bits
JUST_TOO_BIG = str(2**63)


def arabic_indic(number: int) -> str:
    """The same number in Arabic-Indic digits (U+0660...): ``3`` -> ``٣``."""
    return "".join(chr(0x660 + int(d)) for d in str(number))


def _count(runtime, model) -> int:
    with runtime.read() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.fixture
def cases(runtime):
    return [start_new_card(runtime, n) for n in (1, 2, 3)]


def test_unicode_digits_do_not_open_a_case(browser, cases):
    third = cases[2]
    browser.login("operator")
    assert browser.get(f"/cases/{third['id']}").status_code == 200  # the ASCII id opens it
    for ref in (arabic_indic(third["id"]), "²", "³", "١٢", HUGE, JUST_TOO_BIG):
        response = browser.get(f"/cases/{ref}")
        assert response.status_code == 404, ref
        assert third["receipt"] not in page_text(response)


def test_api_case_references_and_pages_beyond_64_bits_are_4xx(app, cases, token_for):
    api, op = app.test_client(), token_for("operator")
    third = cases[2]
    assert api.get(f"/api/v1/cases/{third['id']}", headers=op).status_code == 200
    for ref in (arabic_indic(third["id"]), "²", HUGE, JUST_TOO_BIG):
        response = api.get(f"/api/v1/cases/{ref}", headers=op)
        assert response.status_code == 404 and response.get_json()["code"] == "not_found", ref
        assert api.post(f"/api/v1/cases/{ref}/cancel", json={"reason": "x"}, headers=op).status_code == 404
    for url in ("/api/v1/cases", "/api/v1/tasks"):
        for page in (HUGE, JUST_TOO_BIG, str(2**63 - 1), "٣", "²"):
            response = api.get(f"{url}?page={page}", headers=op)
            assert 400 <= response.status_code < 500, (url, page, response.status_code)
            assert response.get_json()["code"] in ("invalid_input", "validation_failed")
    response = api.get(f"/api/v1/tasks/x/complete?version={HUGE}", headers=op)
    assert response.status_code < 500


def test_pages_beyond_64_bits_are_a_clear_400(browser, cases):
    browser.login("camat")
    for url in ("/inbox", "/cases"):
        assert browser.get(f"{url}?page=1").status_code == 200
        for page in (HUGE, str(2**63 - 1), "٣", "²"):
            response = browser.get(f"{url}?page={page}")
            assert response.status_code == 400, (url, page)
            assert "tidak ada" in page_text(response)  # "Halaman ... tidak ada."


def test_int_routes_take_only_ascii_ids_within_64_bits(browser, runtime):
    browser.login("operator")
    for ref in (HUGE, JUST_TOO_BIG, "٣"):
        assert browser.get(f"/verification/documents/{ref}").status_code == 404
        assert browser.post(f"/account/tokens/{ref}/revoke", {}).status_code == 404


def test_nul_characters_are_refused_and_nothing_is_written(browser, app, runtime, cases, token_for):
    receipt = cases[0]["receipt"]
    browser.login("operator")
    browser.get(f"/cases/{receipt}")
    refused = browser.post(f"/cases/{receipt}/comments", {"body": "KK asli\x00besok"})
    assert refused.status_code == 400
    assert "karakter NUL" in page_text(refused)
    assert _count(runtime, CaseComment) == 0
    assert browser.get("/cases?q=abc%00def").status_code == 400
    assert browser.get(f"/cases/{receipt}%00").status_code == 400

    api, op = app.test_client(), token_for("operator")
    before = _count(runtime, Case)
    response = api.post(
        "/api/v1/cases",
        json={"process": "ektp_new_card", "data": resident(9, address="Jl. Merdeka\x004")},
        headers=op,
    )
    assert response.status_code == 400 and response.get_json()["code"] == "invalid_input"
    assert _count(runtime, Case) == before
    assert api.get("/api/v1/tasks?q=%00", headers=op).status_code == 400

    attempts = _count(runtime, LoginAttempt)
    stranger = app.test_client()
    assert stranger.post("/login", data={"username": "oper\x00ator", "password": PASSWORD}).status_code == 400
    assert _count(runtime, LoginAttempt) == attempts


def test_the_too_large_page_states_the_real_limit(browser, cases):
    """A body beyond what the app reads at all (not only beyond the upload limit, which the
    upload page explains itself) gets the 413 page: it names the upload limit, 5 MB."""
    browser.login("operator")
    receipt = cases[0]["receipt"]
    browser.get(f"/verification/cases/{receipt}/documents")
    response = browser.post(
        f"/verification/cases/{receipt}/documents",
        {"requirement": "family_card", "file": (io.BytesIO(b"%PDF-1.4 " + b"0" * (12 * 1024 * 1024)), "kk.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    text = page_text(response)
    assert "paling banyak 5 MB" in text and "10 MB" not in text


def test_ids_cursors_and_pages_beyond_32_bits_are_4xx_on_both_databases(app, cases, token_for):
    """PostgreSQL's INTEGER ids end at 2**31 - 1: one more was a 500 (integer out of range)."""
    api, op = app.test_client(), token_for("camat")
    beyond = str(2**31)
    assert api.get(f"/api/v1/cases/{beyond}", headers=op).status_code == 404
    for query in (f"before={beyond}", f"after={beyond}", f"page={beyond}", f"per_page={beyond}"):
        response = api.get(f"/api/v1/cases?{query}", headers=op)
        assert 400 <= response.status_code < 500, (query, response.status_code)
    assert 400 <= api.get(f"/api/v1/tasks?page={beyond}", headers=op).status_code < 500
    newest = api.get(f"/api/v1/cases?after={2**31 - 1}", headers=op)
    assert newest.status_code == 200 and newest.get_json()["items"] == []
    oldest = api.get(f"/api/v1/cases?before={2**31 - 1}", headers=op).get_json()["items"]
    assert {c["receipt"] for c in oldest} == {c["receipt"] for c in cases}
