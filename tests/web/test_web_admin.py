"""The account page (API tokens, password), the user admin pages and `simpul users`."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from simpul.engine import directory
from simpul.engine.models import User

from .web_helpers import page_text

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


@pytest.fixture
def admin(runtime, password_hash):
    with runtime.transaction() as uow:
        user = directory.create_user(uow.session, "admin", "Admin Sistem", "640205", ["system_admin"])
        user.password_hash = password_hash
    return "admin"


def test_tokens_are_shown_once_work_on_the_api_and_can_be_revoked(browser, app):
    browser.login("operator")
    browser.get("/account")
    missing = browser.post("/account/tokens", {"name": ""})
    assert missing.status_code == 422 and 'id="token-name-error"' in missing.get_data(as_text=True)
    created = browser.post("/account/tokens", {"name": "SIAK bridge"})
    token = re.search(r'<code id="new-token">(smp_[^<]+)</code>', created.get_data(as_text=True)).group(1)
    api = app.test_client()
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["username"] == "operator"
    page = browser.get("/account")
    assert token not in page.get_data(as_text=True)  # never shown again
    assert "SIAK bridge" in page_text(page)
    revoke = re.search(r'action="(/account/tokens/\d+/revoke)"', page.get_data(as_text=True)).group(1)
    assert browser.post(revoke, {}).status_code == 302
    assert "dicabut" in page_text(browser.get("/account"))
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_only_a_system_administrator_manages_users(browser, admin, make_browser):
    browser.login("operator")
    assert browser.get("/admin/users").status_code == 403
    assert "Pengguna" not in page_text(browser.get("/inbox")).split("Keluar")[0].split("Permohonan baru")[1]

    boss = make_browser()
    boss.login(admin)
    listing = page_text(boss.get("/admin/users"))
    assert "operator Siti Kecamatan Sangasanga Operator" in listing
    boss.get("/admin/users/new")
    bad = boss.post(
        "/admin/users/new", {"username": "op baru!", "display_name": "", "office": "640205", "password": "pendek"}
    )
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for field in ("username", "display_name", "roles", "password"):
        assert f'id="u-{field}-error"' in html, field
    assert "Kata sandi paling sedikit 8 karakter." in page_text(bad)
    ok = boss.post(
        "/admin/users/new",
        {
            "username": "dewi",
            "display_name": "Dewi Lestari",
            "office": "640205",
            "roles": ["operator", "verifier"],
            "active": "on",
            "password": "rahasia-dewi-1",
        },
    )
    assert ok.status_code == 302
    dewi = make_browser()
    dewi.login("dewi", "rahasia-dewi-1")
    assert "Dewi Lestari" in page_text(dewi.get("/inbox"))
    boss.get("/admin/users/dewi")
    boss.post("/admin/users/dewi", {"display_name": "Dewi Lestari", "office": "640205", "roles": ["operator"]})
    assert dewi.get("/inbox").status_code == 302  # deactivated: signed out at once
    assert (
        boss.post(
            "/admin/users/dewi", {"display_name": "x", "office": "640205", "roles": ["operator"], "active": "on"}
        ).status_code
        == 302
    )


def test_cli_users_create_list_and_token(runtime, app, monkeypatch, tmp_path):
    from simpul.cli import main

    monkeypatch.setenv("SIMPUL_DATABASE_URL", runtime.config.database_url)
    monkeypatch.setenv("SIMPUL_INSTANCE_PATH", str(runtime.config.instance_path))
    runner = CliRunner()
    created = runner.invoke(
        main,
        [
            "users",
            "create",
            "rina",
            "--name",
            "Rina Operator",
            "--role",
            "operator",
            "--role",
            "verifier",
            "--password-stdin",
            "--json",
        ],
        input="sandi-rina-123\n",
    )
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["roles"] == ["operator", "verifier"]
    listed = json.loads(runner.invoke(main, ["users", "list", "--json"]).output)
    assert {"username": "rina", "office": "640205", "active": True}.items() <= next(
        u for u in listed if u["username"] == "rina"
    ).items()
    token = runner.invoke(main, ["users", "token", "rina", "--name", "script"]).output.strip()
    assert token.startswith("smp_")
    api = app.test_client()
    assert (
        api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()["display_name"]
        == "Rina Operator"
    )
    refused = runner.invoke(main, ["users", "create", "tanpa", "--name", "Tanpa Sandi", "--role", "operator"])
    assert refused.exit_code != 0
    with runtime.read() as s:
        assert s.get(User, "tanpa") is None
        assert s.get(User, "rina").password_hash.startswith("$argon2")


def test_no_admin_page_opens_to_an_operator_and_nothing_changes(browser, runtime):
    """Every admin route, not only the index: an operator reads and changes no account."""
    browser.login("operator")
    browser.get("/inbox")  # a page with the form token, as a browser would have
    # their own account too: the engine lets them read it, the admin page is still not theirs
    for url in ("/admin/users", "/admin/users/new", "/admin/users/operator2", "/admin/users/operator"):
        assert browser.get(url).status_code == 403, url
    created = browser.post(
        "/admin/users/new",
        {"username": "dewi", "display_name": "Dewi", "office": "640205", "roles": ["supervisor"], "password": "x" * 12},
    )
    assert created.status_code == 403
    promoted = browser.post(
        "/admin/users/operator2",
        {"display_name": "Andi", "office": "640205", "roles": ["supervisor", "operator"], "active": "on"},
    )
    assert promoted.status_code == 403
    with runtime.read() as s:
        assert s.query(User).filter_by(username="dewi").first() is None
        assert sorted(s.query(User).filter_by(username="operator2").one().roles) == ["operator"]
