"""Acceptance of issue 14: the main pages pass axe-core (from npm, run in Chromium) with no
serious or critical violation, in Indonesian at 1366 and 390 px -- login, inbox, task, case,
upload, dashboard and the process administration."""

from __future__ import annotations

import pytest

from ..flows import DOCS_OK, complete, open_task, start_new_card
from .a11y import assert_accessible
from .test_web_browser import PHONE, chromium, live_server, shot, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

WIDE = {"width": 1366, "height": 900}


@pytest.fixture
def admin(runtime, password_hash):
    from simpul.engine import directory
    from simpul.engine.models import User

    from ..conftest import OFFICE

    with runtime.transaction() as uow:
        directory.create_user(uow.session, "admin", "Admin Proses", OFFICE, ["process_admin"])
        uow.session.flush()
        uow.session.query(User).filter_by(username="admin").one().password_hash = password_hash
    return "admin"


def test_the_main_pages_have_no_serious_accessibility_violation(runtime, live_server, chromium, admin):  # noqa: F811 (the fixtures)
    from playwright.sync_api import expect

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    task = open_task(runtime, receipt, "camat")
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        context = chromium.new_context(viewport=viewport, locale="id-ID", bypass_csp=True)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        assert_accessible(page, f"login {tag}")
        shot(page, f"a11y-login-{tag}")
        sign_in(page, live_server, "camat")
        pages = {
            "inbox": "/inbox",
            "task": f"/tasks/{task['id']}",
            "case": f"/cases/{receipt}",
            "upload": f"/verification/cases/{receipt}/documents",
            "dashboard": "/dashboard",
        }
        for name, path in pages.items():
            page.goto(live_server + path)
            if name == "case":
                expect(page.locator("#diagram")).to_have_attribute("data-state", "ready", timeout=15000)
            assert_accessible(page, f"{name} {tag}")
            shot(page, f"a11y-{name}-{tag}")
        context.close()

        context = chromium.new_context(viewport=viewport, locale="id-ID", bypass_csp=True)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("Nama pengguna").fill(admin)
        from .web_helpers import PASSWORD

        page.get_by_label("Kata sandi").fill(PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.goto(f"{live_server}/admin/processes/")
        assert_accessible(page, f"admin processes {tag}")
        shot(page, f"a11y-admin-processes-{tag}")
        context.close()
