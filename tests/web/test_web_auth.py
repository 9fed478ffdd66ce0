"""Signing in: argon2 passwords, throttling, sessions, CSRF, the language switch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from simpul.engine.models import User
from simpul.engine.models_accounts import LoginAttempt

from .web_helpers import PASSWORD, Browser, page_text

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def test_pages_need_sign_in_and_sign_in_leads_back(browser):
    response = browser.get("/inbox?view=roles")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/inbox")
    login = browser.get(response.headers["Location"])
    assert "Masuk" in page_text(login)  # Indonesian by default
    done = browser.post("/login", {"username": "operator", "password": PASSWORD, "next": "/inbox?view=roles"})
    assert done.status_code == 302 and done.headers["Location"] == "/inbox?view=roles"
    assert "Kotak masuk" in page_text(browser.get("/inbox?view=roles"))


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(browser, runtime):
    browser.get("/login")
    response = browser.post("/login", {"username": "operator", "password": "salah"})
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in page_text(response)
    unknown = browser.post("/login", {"username": "nobody-here", "password": "salah"})
    assert unknown.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in page_text(unknown)
    assert browser.get("/inbox").status_code == 302  # still signed out
    with runtime.read() as s:
        attempts = s.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(a.username, a.success) for a in attempts] == [("operator", False), ("nobody-here", False)]


def test_sign_in_is_throttled_after_five_failures(browser, make_browser):
    browser.get("/login")
    for _ in range(5):
        assert browser.post("/login", {"username": "operator", "password": "salah"}).status_code == 401
    refused = browser.post("/login", {"username": "operator", "password": PASSWORD})
    assert refused.status_code == 429
    assert "Terlalu banyak percobaan masuk yang gagal" in page_text(refused)
    # another clerk at the same counter PC can still sign in
    make_browser().login("operator2")


def test_a_successful_sign_in_resets_the_failure_count(browser):
    browser.get("/login")
    for _ in range(4):
        browser.post("/login", {"username": "operator", "password": "salah"})
    browser.login("operator")
    browser.logout()
    for _ in range(4):
        assert browser.post("/login", {"username": "operator", "password": "salah"}).status_code == 401
    browser.login("operator")


def test_inactive_user_cannot_sign_in(browser, runtime):
    with runtime.transaction() as uow:
        uow.session.get(User, "operator2").active = False
    browser.get("/login")
    assert browser.post("/login", {"username": "operator2", "password": PASSWORD}).status_code == 401


def test_forms_without_csrf_token_are_refused(browser):
    browser.get("/login")
    response = browser.post("/login", {"username": "operator", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "Formulir sudah kedaluwarsa" in page_text(response)


def test_session_cookie_is_httponly_samesite_and_secure_over_https(app):
    client = app.test_client()
    page = client.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = app.test_client()
    page = https.get("/login", base_url="https://kecamatan.example")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = https.post(
        "/login",
        data={"username": "operator", "password": PASSWORD, "csrf_token": token},
        base_url="https://kecamatan.example",
        headers={"Referer": "https://kecamatan.example/login"},
    )
    assert response.status_code == 302
    assert "Secure" in response.headers["Set-Cookie"] and "HttpOnly" in response.headers["Set-Cookie"]


def test_sign_out_ends_the_session(browser):
    browser.login("operator")
    browser.logout()
    assert browser.get("/inbox").status_code == 302


def test_password_change_signs_out_other_sessions(make_browser):
    first, second = make_browser(), make_browser()
    first.login("operator")
    second.login("operator")
    first.get("/account")
    changed = first.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "baru-sekali-99", "confirm_password": "baru-sekali-99"},
    )
    assert changed.status_code == 302
    assert first.get("/inbox").status_code == 200  # the session that changed it stays in
    assert second.get("/inbox").status_code == 302  # the other one must sign in again
    second.login("operator", "baru-sekali-99")


def test_password_change_errors_are_shown_next_to_the_fields(browser):
    browser.login("operator")
    browser.get("/account")
    response = browser.post(
        "/account/password", {"current_password": "salah", "new_password": "pendek", "confirm_password": "pendek"}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="current_password-error"' in html and "Kata sandi salah." in html


def test_language_switch_is_kept_in_the_session_and_for_the_user(browser, make_browser):
    browser.login("operator")
    assert "Kotak masuk" in page_text(browser.get("/inbox"))
    browser.language("en")
    text = page_text(browser.get("/inbox"))
    assert "Inbox" in text and "Kotak masuk" not in text
    later = make_browser()
    later.login("operator")  # a new session: the user's choice is remembered
    assert "Inbox" in page_text(later.get("/inbox"))
    assert "Masuk" in page_text(make_browser().get("/login"))  # signed out: the node's default
    browser.language("id")
    assert "Kotak masuk" in page_text(browser.get("/inbox"))


def test_redirects_after_sign_in_stay_on_this_site(browser):
    browser.get("/login")
    response = browser.post(
        "/login", {"username": "operator", "password": PASSWORD, "next": "https://evil.example/phish"}
    )
    assert response.headers["Location"] == "/inbox"


def test_pages_carry_security_headers(browser):
    response = browser.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_new_browser_is_not_signed_in(app):
    assert Browser(app).get("/cases").status_code == 302


def test_the_login_page_names_the_office_and_the_favicon_is_served(browser):
    """Issue 14 item 11: a clerk sees which office this server is before signing in; the
    browser's /favicon.ico is an icon, not a 404."""
    page = browser.get("/login")
    assert '<p class="lead" id="login-office">Kecamatan Sangasanga</p>' in page.get_data(as_text=True)
    icon = browser.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
