"""The resident pages in Chromium, in Indonesian and English, at 1366 and 390 px: a clerk
uploads a kelurahan list, reads the error report and the difference, confirms, and reads the
coverage chart and table and the list of residents without an e-KTP.  Screenshots go to
test-artifacts/ (registry-*.png)."""

from __future__ import annotations

import pytest

from ..web.test_web_browser import no_horizontal_scroll, shot, sign_in
from .registry_data import KELURAHAN, build_csv, generate, seed_kelurahan

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

WIDTHS = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("size", sorted(WIDTHS))
def test_a_clerk_imports_a_list_and_reads_the_coverage(runtime, live_server, chromium, size, tmp_path):
    from playwright.sync_api import expect

    seed_kelurahan(runtime)
    text, bad, stored = build_csv(generate(400, seed=21), bad_every=60)
    path = tmp_path / "daftar-penduduk.csv"
    path.write_text(text)

    context = chromium.new_context(viewport=WIDTHS[size], locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    page.get_by_role("link", name="Penduduk").click()
    expect(page.get_by_role("heading", name="Cakupan e-KTP")).to_be_visible()
    page.get_by_role("link", name="Impor daftar penduduk").first.click()
    page.get_by_label("Berkas").set_input_files(str(path))
    page.get_by_role("button", name="Periksa berkas").click()
    expect(page.get_by_role("heading", name="Periksa impor")).to_be_visible()
    expect(page.locator("#diff-new")).to_have_text(str(len(stored)))
    expect(page.locator("#import-errors tbody tr")).to_have_count(len(bad))
    assert no_horizontal_scroll(page)
    shot(page, f"registry-preview-{size}")
    page.get_by_role("button", name="Simpan perubahan ini").click()
    expect(page.locator("#import-done")).to_contain_text(f"Tersimpan: {len(stored)} baru")

    page.get_by_role("link", name="Cakupan").first.click()
    expect(page.locator("#by-kelurahan")).to_contain_text(KELURAHAN[0][1])
    expect(page.locator(".chart svg")).to_be_visible()  # ECharts drew the chart
    assert no_horizontal_scroll(page)
    shot(page, f"registry-coverage-{size}")

    page.get_by_role("link", name="Belum punya e-KTP").first.click()
    expect(page.locator("#without-list tbody tr").first).to_contain_text("••••")
    assert no_horizontal_scroll(page)
    shot(page, f"registry-without-{size}")

    page.get_by_role("link", name="Kampanye").first.click()
    page.get_by_label("Judul").fill("Jemput bola RT 01-04")
    page.get_by_label("RT", exact=True).fill("001-004")
    page.get_by_role("button", name="Buat kampanye").click()
    expect(page.locator("#campaign-results")).to_be_visible()
    page.get_by_label("Tempat").fill("Balai Kelurahan")
    page.get_by_role("button", name="Rencanakan kunjungan").click()
    page.locator("input[name=came]").first.check()
    page.get_by_role("button", name="Mulai permohonan untuk yang datang").click()
    expect(page.get_by_role("status")).to_contain_text("1 permohonan dimulai")
    assert no_horizontal_scroll(page)
    shot(page, f"registry-visit-{size}")

    page.get_by_label("Bahasa").select_option("en")
    page.get_by_role("button", name="Ganti bahasa").click()
    expect(page.get_by_role("button", name="Start cases for who came")).to_be_visible()
    page.get_by_role("link", name="Coverage").first.click()
    expect(page.get_by_role("heading", name="e-KTP coverage")).to_be_visible()
    assert no_horizontal_scroll(page)
    shot(page, f"registry-coverage-en-{size}")
    context.close()


def test_a_large_list_shows_its_progress_on_a_phone(runtime, live_server, chromium, tmp_path, monkeypatch):
    """At 390 px in Indonesian: the upload of a list over the background size shows the
    progress page (it reloads itself, no script needed), then the worker's passes (called
    here, a slice of 200 rows each) turn it into the check and, once confirmed, count the rows
    stored until the result."""
    from playwright.sync_api import expect

    from simpul import engine
    from simpul.plugins.socialization import import_jobs

    monkeypatch.setattr(import_jobs, "SLICE_ROWS", 200)
    monkeypatch.setattr(import_jobs, "SLICE_SECONDS", 3600.0)

    def drain():
        while engine.run_due(runtime)["plugin_work"]:
            pass

    seed_kelurahan(runtime)
    runtime.config.settings = {**(runtime.config.settings or {}), "socialization": {"background_import_kb": 0}}
    text, bad, stored = build_csv(generate(600, seed=22), bad_every=60)
    path = tmp_path / "daftar-besar.csv"
    path.write_text(text)
    context = chromium.new_context(viewport=WIDTHS["phone"], locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server}/socialization/residents/import")
    page.get_by_label("Berkas").set_input_files(str(path))
    page.get_by_role("button", name="Periksa berkas").click()
    expect(page.locator("#import-progress")).to_contain_text("Memeriksa daftar-besar.csv")
    expect(page.locator("#import-rows")).to_have_text("0 dari 600 baris")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    assert no_horizontal_scroll(page)
    shot(page, "registry-import-progress-phone")
    drain()
    page.get_by_role("link", name="Muat ulang").click()
    expect(page.get_by_role("heading", name="Periksa impor")).to_be_visible()
    expect(page.locator("#import-errors tbody tr")).to_have_count(len(bad))
    page.get_by_role("button", name="Simpan perubahan ini").click()
    expect(page.locator("#import-progress")).to_contain_text("Menyimpan daftar-besar.csv")
    engine.run_due(runtime)  # the check's staged rows cleared
    engine.run_due(runtime)  # 200 rows checked again and staged
    page.get_by_role("link", name="Muat ulang").click()
    expect(page.locator("#import-rows")).to_have_text("200 dari 600 baris disimpan")
    expect(page.locator("#import-bar")).to_have_attribute("value", "33")
    assert no_horizontal_scroll(page)
    shot(page, "registry-import-storing-phone")
    page.set_viewport_size(WIDTHS["desktop"])
    shot(page, "registry-import-storing-desktop")
    drain()
    page.get_by_role("link", name="Muat ulang").click()
    expect(page.locator("#import-done")).to_contain_text(f"Tersimpan: {len(stored)} baru")
    assert no_horizontal_scroll(page)
    context.close()
