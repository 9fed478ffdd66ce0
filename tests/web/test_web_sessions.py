"""Sessions end on the server: a copied cookie opens nothing after sign-out, a password change
or an idle period; behind a TLS proxy cookies are Secure and pages send HSTS; parallel wrong
passwords cannot slip past the throttle."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from simpul.engine import auth
from simpul.engine.models_accounts import LoginAttempt, WebSession

from .web_helpers import PASSWORD, Browser

COOKIE = "simpul_session"


def _copy_of(app, browser) -> Browser:
    """A second browser holding a copy of the first one's session cookie (a stolen cookie)."""
    thief = Browser(app)
    thief.client.set_cookie(COOKIE, browser.client.get_cookie(COOKIE).value)
    return thief


def test_a_copied_cookie_opens_nothing_after_sign_out(app, browser):
    browser.login("operator")
    thief = _copy_of(app, browser)
    assert thief.get("/inbox").status_code == 200  # the copy works while the session lives
    browser.logout()
    refused = thief.get("/inbox")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/login")


def test_a_password_change_ends_every_other_session_and_copies_of_this_one(app, make_browser, runtime):
    first, second = make_browser(), make_browser()
    first.login("operator")
    second.login("operator")
    copy_before = _copy_of(app, first)
    first.get("/account")
    changed = first.post(
        "/account/password",
        {"current_password": PASSWORD, "new_password": "baru-sekali-99", "confirm_password": "baru-sekali-99"},
    )
    assert changed.status_code == 302
    assert first.get("/inbox").status_code == 200
    assert second.get("/inbox").status_code == 302
    assert copy_before.get("/inbox").status_code == 302  # the old cookie, copied before the change
    with runtime.read() as s:
        reasons = s.scalars(select(WebSession.end_reason).where(WebSession.username == "operator")).all()
    assert sorted(r for r in reasons if r) == ["password_changed", "password_changed"]


def test_a_password_set_from_the_command_line_ends_sessions_too(browser, runtime):
    browser.login("operator")
    auth.set_password(runtime, "operator", "dari-baris-perintah-1")
    assert browser.get("/inbox").status_code == 302


def test_an_idle_session_ends_after_the_period_the_office_sets(app, browser, runtime):
    runtime.config.session_idle_minutes = 20
    with time_machine.travel(time.time(), tick=False) as clock:
        browser.login("operator")
        clock.shift(timedelta(minutes=19))
        assert browser.get("/inbox").status_code == 200  # in use: the idle time starts again
        clock.shift(timedelta(minutes=19))
        assert browser.get("/inbox").status_code == 200
        thief = _copy_of(app, browser)
        clock.shift(timedelta(minutes=21))
        assert browser.get("/inbox").status_code == 302
        assert thief.get("/inbox").status_code == 302
    with runtime.read() as s:
        assert s.scalar(select(WebSession.end_reason).where(WebSession.username == "operator")) == "idle"


def test_a_deactivated_user_is_signed_out_at_once(browser, runtime):
    from simpul.engine.models import User

    browser.login("operator")
    with runtime.transaction() as uow:
        uow.session.get(User, "operator").active = False
    assert browser.get("/inbox").status_code == 302


def test_behind_a_tls_proxy_cookies_are_secure_and_pages_send_hsts(runtime, password_hash):
    from simpul.web import create_app

    from .conftest import set_passwords

    set_passwords(runtime, password_hash)
    runtime.config.behind_tls_proxy = True
    app = create_app(runtime=runtime, config={"TESTING": True})
    browser = Browser(app)
    page = browser.get("/login")  # even a plain request (a proxy not passing the scheme)
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in page.headers["Set-Cookie"]
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.7", "X-Forwarded-Host": "kecamatan.example"}
    browser.client = app.test_client()  # the proxy talks HTTPS to the clerk's browser
    browser.get("/login", headers=proxied, base_url="https://kecamatan.example")
    response = browser.post(
        "/login",
        {"username": "operator", "password": PASSWORD},
        headers={**proxied, "Referer": "https://kecamatan.example/login"},
        base_url="https://kecamatan.example",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    assert "Secure" in response.headers["Set-Cookie"]
    with runtime.read() as s:
        assert s.scalar(select(WebSession.remote_addr)) == "10.0.0.7"  # the clerk's PC, not the proxy


def test_without_the_proxy_setting_plain_http_sends_no_hsts(browser):
    assert "Strict-Transport-Security" not in browser.get("/login").headers


@pytest.mark.parametrize("parallel", [12])
def test_parallel_wrong_passwords_do_not_slip_past_the_throttle(runtime, password_hash, parallel):
    from .conftest import set_passwords

    set_passwords(runtime, password_hash, ["operator"])
    outcomes, gate = [], threading.Barrier(parallel)

    def attempt():
        gate.wait()
        try:
            auth.authenticate(runtime, "operator", "salah-sekali", remote_addr="10.1.1.1")
        except auth.TooManyAttempts:
            outcomes.append("throttled")
        except auth.Unauthorized:
            outcomes.append("checked")

    threads = [threading.Thread(target=attempt) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("checked") == auth.MAX_FAILURES_PER_USER
    assert outcomes.count("throttled") == parallel - auth.MAX_FAILURES_PER_USER
    with runtime.read() as s:
        failures = s.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.success.is_(False)))
    assert failures == auth.MAX_FAILURES_PER_USER
    with pytest.raises(auth.TooManyAttempts):  # the right password is refused now too
        auth.authenticate(runtime, "operator", PASSWORD)
