"""Fixtures for the web app: an app on the shared ``runtime`` fixture (SQLite and PostgreSQL),
users with passwords, a signed-in test client that sends CSRF tokens like a browser, and API
tokens.  CSRF protection stays on in these tests, as in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from .web_helpers import PASSWORD, Browser

ROOT = Path(__file__).resolve().parents[2]


def _compile_catalogues() -> None:
    """Compile translations/*.po when the .mo is missing or stale (the Makefile does it too)."""
    for po in (ROOT / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as f:
                catalog = read_po(f, locale=po.parent.parent.name)
            with mo.open("wb") as f:
                write_mo(f, catalog)


_compile_catalogues()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return PasswordHasher().hash(PASSWORD)


def set_passwords(runtime, password_hash, usernames=None) -> None:
    from simpul.engine.models import User

    with runtime.transaction() as uow:
        for user in uow.session.query(User):
            if usernames is None or user.username in usernames:
                user.password_hash = password_hash


@pytest.fixture
def app(runtime, password_hash):
    from simpul.web import create_app

    set_passwords(runtime, password_hash)
    application = create_app(runtime=runtime, config={"TESTING": True})
    yield application


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def make_browser(app):
    return lambda: Browser(app)


@pytest.fixture
def token_for(runtime):
    from simpul.engine import auth
    from simpul.engine.directory import actor_for

    def make(username, name="tests"):
        token, _row = auth.create_token(runtime, username, name, actor_for(runtime, username))
        return {"Authorization": f"Bearer {token}"}

    return make
