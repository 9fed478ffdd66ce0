"""The camat in Chromium: opens the dashboard, follows the bottleneck to its cases, releases
an absent operator's step, reopens a wrongly rejected case.  Screenshots at 1366 and 390 px
go to test-artifacts/."""

from __future__ import annotations

import pytest
import time_machine

from ..flows import DOCS_OK, complete, start_new_card
from ..test_dashboard import MONDAY, REJECT, seed
from .test_web_browser import ARTIFACTS, chromium, live_server, no_horizontal_scroll, shot  # noqa: F401
from .web_helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
PERIOD = "since=2026-03-02&until=2026-03-15"


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{base}/inbox")


@pytest.fixture
def office(runtime):
    """Two weeks of March seeded with the clock set; then, today, a case rejected by mistake."""
    with time_machine.travel(MONDAY, tick=False) as clock:
        _counted, cases = seed(runtime, clock)
    wrong = start_new_card(runtime, 31)["receipt"]
    complete(runtime, wrong, "operator", DOCS_OK)
    complete(runtime, wrong, "verifier", REJECT)
    cases["wrong"] = wrong
    return cases


def test_camat_dashboard_release_and_reopen(office, live_server, chromium):  # noqa: F811
    base, cases = live_server, office
    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, base, "camat")
    page.get_by_role("link", name="Dasbor").click()
    page.goto(f"{base}/dashboard?{PERIOD}")
    page.wait_for_selector(".chart svg")  # ECharts drew the charts
    assert page.get_by_role("heading", name="Alur per minggu").is_visible()
    shot(page, "dashboard-1366")
    page.locator("#bottleneck-640205").click()
    page.wait_for_selector("#figure-note")
    rows = page.locator("table.responsive tbody tr")
    assert rows.count() == 1 and cases["c1"] in rows.first.inner_text()
    shot(page, "dashboard-bottleneck-cases-1366")

    # the operator who claimed the document check is absent: release it
    page.goto(f"{base}/supervision")
    row = page.locator(f"#task-{cases['claimed_task']}")
    shot(page, "supervision-before-1366")
    row.get_by_label("Alasan").first.fill("Andi sakit, berkas menunggu")
    row.get_by_role("button", name="Lepas").click()
    page.wait_for_selector(".alert-success")
    assert page.locator(f"#task-{cases['claimed_task']}").count() == 0
    shot(page, "supervision-1366")

    # a wrong rejection goes back to the verification step, with who, when and why
    page.goto(f"{base}/cases/{cases['wrong']}")
    assert "Ditolak" in page.locator("#case-outcome").inner_text()
    page.get_by_text("Buka kembali kasus ini").click()
    page.get_by_label("Alasan").first.fill("Alamat ternyata benar, salah baca KK")
    page.get_by_role("button", name="Buka kembali kasus").click()
    page.wait_for_selector(".alert-success")
    assert page.get_by_role("link", name="Verifikasi domisili").is_visible()
    timeline = page.locator("body").inner_text()
    assert "Kasus dibuka kembali" in timeline and "Alamat ternyata benar, salah baca KK" in timeline
    assert "Camat" in timeline
    shot(page, "case-reopened-1366")
    context.close()

    phone = chromium.new_context(viewport=PHONE, locale="id-ID", is_mobile=True, has_touch=True)
    page = phone.new_page()
    sign_in(page, base, "camat")
    page.goto(f"{base}/dashboard?{PERIOD}")
    page.wait_for_selector(".chart svg")
    shot(page, "dashboard-390")
    assert no_horizontal_scroll(page)
    page.goto(f"{base}/reports/monthly?month=2026-03")
    shot(page, "monthly-390")
    assert no_horizontal_scroll(page)
    phone.close()


def test_regency_dashboard_side_by_side(office, live_server, chromium):  # noqa: F811
    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Nama pengguna").fill("disdukcapil")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.goto(f"{live_server}/dashboard?{PERIOD}")
    page.wait_for_selector(".chart svg")
    assert page.locator(".office-board").count() == 2
    shot(page, "dashboard-regency-1366")
    context.close()


def test_regency_dashboard_with_a_kecamatan_on_its_own_node(office, runtime, live_server, chromium):  # noqa: F811
    """A kecamatan whose figures came over the coordination link shows beside the local ones,
    with "as of", at 1366 and 390 px, in Indonesian."""
    from datetime import UTC, datetime

    from simpul.plugins.coordination.summaries import OfficeSummary

    with runtime.transaction() as uow:
        uow.session.add(
            OfficeSummary(
                office_code="640207",
                regency_code="6402",
                name="Kecamatan Anggana",
                as_of=datetime(2026, 3, 15, 2, 30, tzinfo=UTC),
                received_at=datetime(2026, 3, 15, 2, 31, tzinfo=UTC),
                figures={
                    "weeks": [
                        {"week": "2026-03-02", "started": 4, "recorded": 3, "sent": 3, "printed": 1,
                         "handed_over": 1, "rejected": 0, "breaches": 1},
                        {"week": "2026-03-09", "started": 6, "recorded": 2, "sent": 2, "printed": 2,
                         "handed_over": 2, "rejected": 1, "breaches": 0},
                    ],
                    "open_by_step": [{"step": "Task_document_check", "name": "Pemeriksaan berkas",
                                      "name_en": "Document check", "open": 3, "overdue": 1}],
                    "open_total": 3,
                    "overdue_total": 1,
                    "incidents": 0,
                },
            )
        )  # fmt: skip
    for viewport, name in ((WIDE, "dashboard-regency-remote-1366"), (PHONE, "dashboard-regency-remote-390")):
        extra = {"is_mobile": True, "has_touch": True} if viewport is PHONE else {}
        context = chromium.new_context(viewport=viewport, locale="id-ID", **extra)
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("Nama pengguna").fill("disdukcapil")
        page.get_by_label("Kata sandi").fill(PASSWORD)
        page.get_by_role("button", name="Masuk").click()
        page.goto(f"{live_server}/dashboard?{PERIOD}")
        page.wait_for_selector(".chart svg")
        assert page.locator(".office-board").count() == 3
        remote = page.locator("#remote-640207")
        assert remote.get_by_role("heading", name="Kecamatan Anggana").is_visible()
        assert "Per 15 Mar 2026" in remote.locator(".as-of").inner_text() or "Per " in remote.inner_text()
        assert "sebagaimana terakhir dikirim" in remote.inner_text()
        assert remote.locator("#flow-640207 tbody tr").count() == 2
        shot(page, name)
        remote.screenshot(path=str(ARTIFACTS / f"{name}-section.png"))
        assert no_horizontal_scroll(page)
        context.close()
