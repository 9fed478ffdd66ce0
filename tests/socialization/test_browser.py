"""The resident's pages in Chromium (Playwright), in Indonesian, at 1366 and 390 px, with
JavaScript switched off as on a cheap phone's data-saver: the procedures, the lookup form,
the status after scanning the slip's link, and the clerk's print button.  Screenshots go to
test-artifacts/ (socialization-*.png)."""

from __future__ import annotations

import pytest

from simpul import engine

from ..flows import DOCS_OK, actor, complete, start_new_card
from ..web.test_web_browser import no_horizontal_scroll, shot, sign_in
from .conftest import seed_finished

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_a_resident_reads_the_procedures_and_checks_the_case_without_javascript(runtime, live_server, chromium, size):
    from playwright.sync_api import expect

    runtime.config.settings.update(
        office_address="Jl. Pahlawan No. 1, Sangasanga", office_contact="WhatsApp 0812-5555-0101"
    )
    seed_finished(runtime, 12, (1, 2, 1, 1, 10, 2))
    receipt = start_new_card(runtime)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    code = engine.get_case(runtime, receipt, actor(runtime, "operator"))["lookup_code"]

    context = chromium.new_context(viewport=WIDTHS[size], locale="id-ID", java_script_enabled=False)
    page = context.new_page()
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)

    page.goto(f"{live_server}/layanan")
    expect(page.get_by_role("heading", name="Layanan e-KTP di kantor ini")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, f"socialization-services-{size}")
    page.get_by_role("link", name="Penggantian e-KTP Hilang/Rusak").click()
    expect(page.get_by_role("heading", name="Yang perlu dibawa")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, f"socialization-service-{size}")

    page.get_by_role("link", name="Cek permohonan").first.click()
    page.get_by_label("Nomor tanda terima").fill(receipt)
    page.get_by_label("Kode cek").fill("AAAA-AAAA" if code != "AAAA-AAAA" else "BBBB-BBBB")
    page.get_by_role("button", name="Cek").click()
    expect(page.get_by_role("alert")).to_contain_text("Tidak ada permohonan di kantor ini")
    shot(page, f"socialization-refused-{size}")
    page.get_by_label("Kode cek").fill(code.lower())
    page.get_by_role("button", name="Cek").click()
    status = page.locator("#status")
    expect(status).to_contain_text("Permohonan diterima")
    expect(page.locator("#expected")).to_be_visible()
    expect(page.locator("#basis")).to_contain_text("Berdasarkan 12 kartu")
    expect(page.locator("[aria-current=step]")).to_have_text("Permohonan diterima")
    assert no_horizontal_scroll(page)
    shot(page, f"socialization-status-{size}")
    assert outside == []
    context.close()


def test_the_clerk_prints_the_slip_from_the_case_page(runtime, live_server, chromium):
    receipt = start_new_card(runtime)["receipt"]
    context = chromium.new_context(viewport=WIDTHS["desktop"], locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server}/cases/{receipt}")
    button = page.get_by_role("link", name="Cetak tanda terima")
    assert button.is_visible()
    shot(page, "socialization-case-print-button")
    with page.expect_response(lambda r: "slip.pdf" in r.url) as info:
        page.evaluate("url => fetch(url)", button.get_attribute("href"))
    response = info.value
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    context.close()
