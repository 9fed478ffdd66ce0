"""Browser tests: Debian's Chromium driven by Playwright against the app in a real server
thread.  A clerk starts a new-card case, is refused the document check with a document
missing, completes it; a verifier in a second browser finds the step in their inbox and
completes it; the case page shows both steps in the timeline and on the diagram.
Screenshots go to test-artifacts/ (1024x768 and a 390 px phone)."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from .web_helpers import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

CHROMIUM = os.environ.get("SIMPUL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"width": 1024, "height": 768}
PHONE = {"width": 390, "height": 844}


def _require(condition: bool, reason: str):
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} -- required in CI")
        pytest.skip(reason)


@pytest.fixture
def live_server(app):
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="live-server")
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def chromium():
    _require(
        Path(CHROMIUM).exists() or shutil.which("chromium") is not None,
        f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; scripts/test-deps does it)",
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra is installed
        _require(False, "the playwright package is not installed (pip install -e '.[test]')")
    from simpul.web.pages import BPMN_JS_DIST

    _require((BPMN_JS_DIST / "bpmn-navigated-viewer.production.min.js").exists(), "bpmn-js is not installed (npm ci)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, base, username):
    page.goto(f"{base}/login")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{base}/inbox")


def no_horizontal_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


@pytest.mark.national_checklist
def test_clerk_and_verifier_work_a_new_card_case(live_server, chromium):
    from playwright.sync_api import expect

    base = live_server
    clerk_context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    verifier_context = chromium.new_context(viewport=DESKTOP, locale="id-ID")
    requests_outside = []
    for context in (clerk_context, verifier_context):
        context.on(
            "request",
            lambda r: (
                requests_outside.append(r.url) if not r.url.startswith(base) and not r.url.startswith("data:") else None
            ),
        )
    clerk = clerk_context.new_page()

    # -- the clerk signs in and starts a new-card case
    sign_in(clerk, base, "operator")
    shot(clerk, "01-inbox-empty-1024")
    clerk.get_by_role("link", name="Permohonan baru").click()
    clerk.get_by_role("link", name="Perekaman e-KTP Baru").click()
    nik = clerk.get_by_label("NIK")
    nik.fill("6402059913000001")  # day 99, month 13: the NIK is checked as the clerk leaves the field
    nik.blur()
    expect(clerk.locator("#nik-check")).to_contain_text("Digit 7–8 (99) bukan tanggal lahir")
    nik.fill("6402054507000001")
    clerk.get_by_label("Nama lengkap").fill("Nur Aisyah")
    clerk.get_by_label("Tempat lahir").fill("Sangasanga")
    clerk.get_by_label("Tanggal lahir").fill("2000-07-05")
    clerk.get_by_label("Perempuan").check()
    expect(clerk.locator("#nik-check")).to_have_text("✓ NIK sesuai dengan aturannya.")
    clerk.get_by_label("Nomor Kartu Keluarga (KK)").fill("6402051203150004")
    clerk.get_by_label("Status perkawinan").select_option("belum_kawin")
    clerk.get_by_label("Alamat").fill("Jl. Merdeka No. 4")
    clerk.get_by_label(re.compile(r"^RT\b")).fill("004")
    clerk.get_by_label(re.compile(r"^RW\b")).fill("002")
    clerk.get_by_label("Kelurahan/Desa").fill("Sangasanga Dalam")
    shot(clerk, "02-start-form-1024")
    clerk.get_by_role("button", name="Buat permohonan").click()
    expect(clerk.locator(".alert-success")).to_contain_text("dibuat")
    receipt = clerk.url.rsplit("/", 1)[-1]
    assert receipt.startswith("640205-")

    # -- the document check, first with the family card missing
    clerk.get_by_role("link", name="Pemeriksaan berkas").first.click()
    expect(clerk.get_by_role("heading", name="Pemeriksaan berkas")).to_be_visible()
    expect(clerk.locator(".checklist")).to_contain_text("Kartu Keluarga (KK) — belum ada")
    clerk.get_by_label("Semua berkas lengkap").check()
    clerk.get_by_role("button", name="Selesaikan langkah").click()
    error = clerk.locator("#f-documents_received-error")
    expect(error).to_have_text("Berkas persyaratan belum ada: Kartu Keluarga (KK)")
    expect(clerk.locator("#form-errors")).to_be_focused()  # read out first by a screen reader
    shot(clerk, "03-document-missing-1024")
    clerk.get_by_label("Kartu Keluarga (KK)").check()
    clerk.get_by_role("button", name="Selesaikan langkah").click()
    expect(clerk.locator(".alert-success")).to_contain_text("Langkah selesai: Pemeriksaan berkas")

    # -- a verifier, in a second browser, signs in with the keyboard and finds the step
    verifier = verifier_context.new_page()
    verifier.goto(f"{base}/login")
    expect(verifier.get_by_label("Nama pengguna")).to_be_focused()
    verifier.keyboard.type("verifier")
    verifier.keyboard.press("Tab")
    verifier.keyboard.type(PASSWORD)
    verifier.keyboard.press("Enter")
    verifier.wait_for_url(f"{base}/inbox")
    expect(verifier.locator("#tab-roles .count")).to_have_text("1")
    row = verifier.locator("tr", has_text=receipt)
    expect(row).to_contain_text("Verifikasi domisili")
    expect(row).to_contain_text("••••••••••••0001")
    shot(verifier, "04-verifier-inbox-1024")
    row.get_by_role("link", name="Verifikasi domisili").click()
    verifier.get_by_role("button", name="Ambil langkah ini").click()
    expect(verifier.locator(".alert-success")).to_contain_text("Anda mengambil langkah")
    # the form by keyboard: the reason field shows only for a rejection, which is never a default
    reason = verifier.locator('[data-key="rejection_reason"]')
    expect(reason).to_be_hidden()
    verifier.get_by_label("Tidak sesuai: tolak dan tutup permohonan").check()
    expect(reason).to_be_visible()
    verifier.get_by_label("Sesuai dengan data kelurahan: lanjut ke perekaman biometrik").focus()
    verifier.keyboard.press("Space")
    expect(reason).to_be_hidden()
    verifier.get_by_label("Nama petugas kelurahan").focus()
    verifier.keyboard.type("Budi Santoso")
    verifier.keyboard.press("Enter")  # submits the form
    expect(verifier.locator(".alert-success")).to_contain_text("Langkah selesai: Verifikasi domisili")

    # -- the case page: both steps in the timeline and on the diagram
    clerk.goto(f"{base}/cases/{receipt}")
    timeline = clerk.locator("#timeline")
    expect(timeline).to_contain_text("Langkah selesai: Pemeriksaan berkas")
    expect(timeline).to_contain_text("Langkah selesai: Verifikasi domisili")
    expect(timeline).to_contain_text("Budi")  # the verifier's name, with the office
    expect(clerk.locator("#diagram")).to_have_attribute("data-state", "ready")
    for step in ("Task_document_check", "Task_residence_verification"):
        expect(clerk.locator(f'.djs-element.simpul-done[data-element-id="{step}"]')).to_have_count(1)
    expect(clerk.locator('.djs-element.simpul-current[data-element-id="Task_biometric_recording"]')).to_have_count(1)
    expect(clerk.locator("#steps-now")).to_have_text("Perekaman biometrik")
    shot(clerk, "05-case-page-1024")
    assert no_horizontal_scroll(clerk)

    # -- the same pages on a phone
    phone = chromium.new_context(viewport=PHONE, locale="id-ID", is_mobile=True, has_touch=True)
    mobile = phone.new_page()
    sign_in(mobile, base, "operator")
    mobile.goto(f"{base}/inbox?view=roles")
    expect(mobile.locator("tr", has_text=receipt)).to_contain_text("Perekaman biometrik")
    assert no_horizontal_scroll(mobile)
    shot(mobile, "06-inbox-phone-390")
    mobile.goto(f"{base}/cases/{receipt}")
    expect(mobile.locator("#diagram")).to_have_attribute("data-state", "ready")
    assert no_horizontal_scroll(mobile)
    shot(mobile, "07-case-page-phone-390")
    mobile.get_by_role("link", name="Perekaman biometrik").click()
    assert no_horizontal_scroll(mobile)
    shot(mobile, "08-task-phone-390")

    # -- English by choice: the switch in the header, kept for the user
    clerk.goto(f"{base}/inbox?view=roles")
    clerk.get_by_label("Bahasa").select_option("en")
    clerk.get_by_role("button", name="Ganti bahasa").click()
    expect(clerk.get_by_role("heading", name="Inbox")).to_be_visible()
    expect(clerk.locator("tr", has_text=receipt)).to_contain_text("Biometric recording")
    shot(clerk, "09-inbox-english-1024")
    clerk.goto(f"{base}/api/docs")
    expect(clerk.get_by_role("heading", name="Simpul API v1")).to_be_visible()
    shot(clerk, "10-api-docs-1024")

    assert requests_outside == []  # nothing from the internet: offices have weak links
    for context in (clerk_context, verifier_context, phone):
        context.close()


def test_the_camat_overrides_a_missing_document_on_the_task_page(live_server, chromium, runtime):
    """The verification plugin's override field, as the camat meets it (and a clerk does not)."""
    from playwright.sync_api import expect

    from ..flows import start_new_card

    base = live_server
    receipt = start_new_card(runtime, 5)["receipt"]
    for viewport, width in (({"width": 1366, "height": 900}, "1366"), (PHONE, "390")):
        context = chromium.new_context(viewport=viewport, locale="id-ID")
        page = context.new_page()
        sign_in(page, base, "operator")
        page.goto(f"{base}/cases/{receipt}")
        page.get_by_role("link", name="Pemeriksaan berkas").first.click()
        expect(page.get_by_label("Semua berkas lengkap")).to_be_visible()
        expect(page.locator('[name="override_reason"]')).to_have_count(0)  # a clerk has no override
        context.close()

        context = chromium.new_context(viewport=viewport, locale="id-ID")
        camat = context.new_page()
        sign_in(camat, base, "camat")
        camat.goto(f"{base}/cases/{receipt}")
        camat.get_by_role("link", name="Pemeriksaan berkas").first.click()
        reason = camat.get_by_label("Pengecualian: selesaikan walau berkas belum lengkap")
        expect(reason).to_be_visible()
        assert no_horizontal_scroll(camat)
        shot(camat, f"20-override-field-{width}")
        context.close()

    context = chromium.new_context(viewport={"width": 1366, "height": 900}, locale="id-ID")
    camat = context.new_page()
    sign_in(camat, base, "camat")
    camat.goto(f"{base}/cases/{receipt}")
    camat.get_by_role("link", name="Pemeriksaan berkas").first.click()
    camat.get_by_label("Semua berkas lengkap").check()
    camat.get_by_label("Pengecualian: selesaikan walau berkas belum lengkap").fill("KK terbakar, salinan menyusul")
    camat.get_by_role("button", name="Selesaikan langkah").click()
    expect(camat.locator(".alert-success")).to_contain_text("Langkah selesai: Pemeriksaan berkas")
    timeline = camat.locator("#timeline")
    expect(timeline).to_contain_text("Persyaratan dikecualikan")
    expect(timeline).to_contain_text("KK terbakar, salinan menyusul")
    shot(camat, "21-override-timeline-1366")
    context.close()
