"""The traps a kecamatan office walks into first (issue 14), walked in Chromium in Indonesian
at 1366 and 390 px: a rejection that ends a case is never a default, a claimed step shows who
holds it, typed work survives a lost session, and Back after a step says who completed it.
Screenshots go to test-artifacts/traps-*.png."""

from __future__ import annotations

import re

import pytest

from ..flows import DOCS_OK, complete, open_task, printed_case, start_new_card
from .test_web_browser import PHONE, chromium, live_server, no_horizontal_scroll, shot, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

WIDE = {"width": 1366, "height": 900}


def _context(browser, viewport=WIDE):
    return browser.new_context(viewport=viewport, locale="id-ID")


def test_a_forgotten_choice_never_rejects_a_resident(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Only the officer's name typed: refused, nothing closes.  A rejection needs its reason
    and a confirmation that names the end, and only then closes the case."""
    from playwright.sync_api import expect

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page = _context(chromium, viewport).new_page()
        sign_in(page, live_server, "verifier")
        task = open_task(runtime, receipt, "verifier")
        page.goto(f"{live_server}/tasks/{task['id']}")
        expect(page.locator('[data-key="rejection_reason"]')).to_be_hidden()
        shot(page, f"traps-01-residence-form-{tag}")
        assert no_horizontal_scroll(page)
        page.context.close()

    page = _context(chromium).new_page()
    sign_in(page, live_server, "verifier")
    task = open_task(runtime, receipt, "verifier")
    page.goto(f"{live_server}/tasks/{task['id']}")
    # the trap of the issue: only the officer's name (filled in from the sign-in), then "Selesaikan langkah"
    page.get_by_role("button", name="Selesaikan langkah").click()
    summary = page.locator("#form-errors")
    expect(summary).to_contain_text("Hasil verifikasi domisili")
    expect(summary).to_contain_text("Isian ini wajib diisi")
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"  # still open

    # a rejection without its reason is refused too
    page.get_by_label("Tidak sesuai: tolak dan tutup permohonan").check()
    page.get_by_role("button", name="Selesaikan langkah").click()
    expect(page.locator("#form-errors")).to_contain_text("Alasan data tidak sesuai")
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"

    # with the reason: asked once more, naming the end, before anything happens
    page.get_by_label("Alasan data tidak sesuai").fill("Tidak terdaftar di RT 004")
    page.get_by_role("button", name="Selesaikan langkah").click()
    confirm = page.locator("#confirm-end")
    expect(confirm).to_contain_text("Ditolak: data domisili tidak sesuai")
    expect(confirm).to_contain_text(receipt)
    expect(confirm).to_contain_text("tidak dapat dibuka kembali")
    expect(confirm).to_be_focused()
    expect(page.get_by_label("Alasan data tidak sesuai")).to_have_value("Tidak terdaftar di RT 004")
    shot(page, "traps-02-confirm-rejection-1366")
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"

    # "No": back to the form, the case is untouched
    page.get_by_role("link", name="Tidak, kembali ke formulir").click()
    expect(page.get_by_role("button", name="Selesaikan langkah")).to_be_visible()
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"

    # "Yes": closed, with the reason on the case
    page.get_by_label("Tidak sesuai: tolak dan tutup permohonan").check()
    page.get_by_label("Alasan data tidak sesuai").fill("Tidak terdaftar di RT 004")
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.get_by_role("button", name="Ya, tutup permohonan").click()
    page.wait_for_url(f"{live_server}/cases/{receipt}")
    expect(page.locator("#timeline")).to_contain_text("Tidak terdaftar di RT 004")
    from simpul.engine import get_case

    from ..flows import actor

    case = get_case(runtime, receipt, actor(runtime, "camat"))
    assert case["status"] == "completed" and case["data"]["residence_verified"] is False


def test_a_claimed_step_shows_who_holds_it_and_no_complete_button(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    from playwright.sync_api import expect

    from simpul.engine import claim_task

    from ..flows import actor

    receipt = start_new_card(runtime, 1)["receipt"]
    task = open_task(runtime, receipt, "operator")
    claim_task(runtime, task["id"], actor(runtime, "operator"))  # Siti takes it
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page = _context(chromium, viewport).new_page()
        sign_in(page, live_server, "operator2")  # Andi opens it
        page.goto(f"{live_server}/tasks/{task['id']}")
        held = page.locator("#held-by")
        expect(held).to_contain_text("Siti sedang mengerjakan langkah ini sejak")
        expect(held).to_contain_text("Hanya Siti yang dapat menyelesaikannya")
        expect(page.get_by_role("button", name="Selesaikan langkah")).to_have_count(0)
        expect(page.get_by_label("Catatan berkas")).to_be_disabled()
        assert "operator" not in held.inner_text()  # her name, never her login
        assert "versi" not in page.locator("main").inner_text()
        shot(page, f"traps-03-claimed-by-other-{tag}")
        assert no_horizontal_scroll(page)
        page.context.close()


def test_a_card_delivery_is_received_before_any_handover(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 6: the handover waits until the card reached the office; a delivery with
    several cards is received in one action."""
    from playwright.sync_api import expect

    receipts = [printed_case(runtime, n) for n in (1, 2, 3)]
    assert all(open_task(runtime, r, "operator")["step"] == "Task_receive_card" for r in receipts)
    page = _context(chromium).new_page()
    sign_in(page, live_server, "operator")
    page.get_by_role("link", name="Terima kiriman kartu").click()
    expect(page.locator("#arrival-form legend")).to_have_text("3 kartu sedang dikirim dari Disdukcapil")
    # forgetting to confirm the check changes nothing
    page.get_by_label(re.compile(receipts[0])).check()
    page.get_by_role("button", name="Terima kartu yang dicentang").click()
    expect(page.locator("#form-errors")).to_contain_text("Centang kotak ini")
    assert open_task(runtime, receipts[0], "operator")["step"] == "Task_receive_card"
    for receipt in receipts[:2]:  # two of the three cards are in this delivery
        page.get_by_label(re.compile(receipt)).check()
    page.get_by_label("Nomor atau tanggal kiriman").fill("SP-0412/2026")
    page.get_by_label("Kartu yang dicentang sudah ada di kantor").check()
    shot(page, "traps-05-card-delivery-1366")
    page.get_by_role("button", name="Terima kartu yang dicentang").click()
    expect(page.locator(".alert-success")).to_contain_text("2 kartu diterima")
    expect(page.locator("#arrival-form legend")).to_have_text("1 kartu sedang dikirim dari Disdukcapil")
    assert [open_task(runtime, r, "operator")["step"] for r in receipts] == [
        "Task_handover",
        "Task_handover",
        "Task_receive_card",
    ]
    phone = _context(chromium, PHONE).new_page()
    sign_in(phone, live_server, "operator")
    phone.goto(f"{live_server}/cards/arrivals")
    assert no_horizontal_scroll(phone)
    shot(phone, "traps-05-card-delivery-390")


def test_a_resident_whose_card_was_issued_is_pointed_to_replacement(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 7: after Dewi's card was handed over, a new-card application with her NIK
    is refused, naming the earlier case, with the way to a replacement or a data change."""
    from playwright.sync_api import expect

    from ..flows import receive_and_hand_over, resident

    receipt = printed_case(runtime, 7)
    assert receive_and_hand_over(runtime, receipt)["status"] == "completed"
    dewi = resident(7)
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page = _context(chromium, viewport).new_page()
        sign_in(page, live_server, "operator")
        page.goto(f"{live_server}/cases/new/ektp_new_card")
        for name in ("nik", "resident_name", "birth_place", "kk_number", "address", "rt", "rw", "kelurahan"):
            page.locator(f'[name="{name}"]').fill(dewi[name])
        page.locator('[name="birth_date"]').fill(dewi["birth_date"])
        page.locator('[name="sex"][value="P"]').check()
        page.locator('[name="marital_status"]').select_option(dewi["marital_status"])
        page.locator("form.step-form button[type=submit], form button[type=submit]:not(.small)").last.click()
        refusal = page.locator("#existing-case")
        expect(refusal).to_contain_text(f"sudah menerima KTP-el pada permohonan {receipt}")
        expect(refusal.get_by_role("link", name=f"Buka permohonan {receipt}")).to_be_visible()
        expect(refusal.locator("#go-replacement")).to_be_visible()
        expect(refusal.locator("#go-data-change")).to_be_visible()
        shot(page, f"traps-06-card-already-issued-{tag}")
        assert no_horizontal_scroll(page)
        page.context.close()
    from simpul.engine import list_cases

    from ..flows import actor

    assert len(list_cases(runtime, actor(runtime, "camat"), query=dewi["nik"])) == 1  # nothing new was recorded


def test_typed_work_survives_a_lost_session_and_back_says_who_completed_the_step(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 9: the typing of an open form is kept in the browser (a reload, as after a
    power cut, restores it); a submission after the session ended goes through the sign-in
    back to the form with the typing; Back after the step shows who completed it."""
    from playwright.sync_api import expect

    from .web_helpers import PASSWORD

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    task = open_task(runtime, receipt, "verifier")
    page = _context(chromium).new_page()
    sign_in(page, live_server, "verifier")
    page.goto(f"{live_server}/tasks/{task['id']}")
    page.get_by_label("Sesuai dengan data kelurahan: lanjut ke perekaman biometrik").check()
    page.get_by_label("Catatan verifikasi").fill("Dicocokkan dengan buku induk RT 004")
    page.reload()  # the power drops, the page comes back
    expect(page.locator("#draft-restored")).to_contain_text("dipulihkan")
    expect(page.get_by_label("Catatan verifikasi")).to_have_value("Dicocokkan dengan buku induk RT 004")
    expect(page.get_by_label("Sesuai dengan data kelurahan: lanjut ke perekaman biometrik")).to_be_checked()
    shot(page, "traps-07-draft-restored-1366")

    page.context.clear_cookies()  # the session expires while the form is open
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.locator(".alert-error")).to_contain_text("Sesi Anda berakhir")
    page.get_by_label("Nama pengguna").fill("verifier")
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{live_server}/tasks/{task['id']}")  # back to the form, not the inbox
    expect(page.get_by_label("Catatan verifikasi")).to_have_value("Dicocokkan dengan buku induk RT 004")
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.wait_for_url(f"{live_server}/cases/{receipt}")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('simpul-draft:'))") == []

    page.go_back()  # Back after completing the step
    done = page.locator("#task-done")
    expect(done).to_contain_text("Budi menyelesaikan langkah Verifikasi domisili")
    expect(page.locator("#open-case")).to_have_attribute("href", f"/cases/{receipt}")
    shot(page, "traps-08-step-already-done-1366")
    phone = _context(chromium, PHONE).new_page()
    sign_in(phone, live_server, "verifier")
    phone.goto(f"{live_server}/tasks/{task['id']}")
    expect(phone.locator("#task-done")).to_be_visible()
    assert no_horizontal_scroll(phone)
    shot(phone, "traps-08-step-already-done-390")


def test_the_checklist_follows_the_ticks_beside_it(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 11: ticking a document in the form updates the checklist beside it."""
    from playwright.sync_api import expect

    receipt = start_new_card(runtime, 1)["receipt"]
    task = open_task(runtime, receipt, "operator")
    page = _context(chromium).new_page()
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server}/tasks/{task['id']}")
    item = page.locator('#checklist li[data-requirement="family_card"]')
    expect(item).to_contain_text("belum ada")
    page.get_by_label("Kartu Keluarga (KK)", exact=True).check()
    expect(item).to_contain_text("diterima")
    expect(item).not_to_contain_text("belum ada")


def test_the_regency_officer_reads_labelled_values_not_keys(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 8 (first part): the regency's task shows the kecamatan's data with the
    labels of the forms it was entered in: "Jenis kelamin Perempuan", not "sex P"."""
    from playwright.sync_api import expect

    from simpul.engine import list_tasks

    from ..flows import BIOMETRICS, VERIFIED, actor, run_worker_until_quiet

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    complete(runtime, receipt, "verifier", VERIFIED)
    complete(runtime, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(runtime)
    (task,) = list_tasks(runtime, actor(runtime, "disdukcapil"))
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page = _context(chromium, viewport).new_page()
        sign_in(page, live_server, "disdukcapil")
        page.goto(f"{live_server}/tasks/{task['id']}")
        data = page.locator("#data-h + dl + dl.data, section[aria-labelledby=data-h] dl.data").last
        expect(data).to_contain_text("Jenis kelamin")
        expect(data).to_contain_text("Perempuan")
        expect(data).to_contain_text("Belum kawin")
        expect(data).to_contain_text("Kartu Keluarga (KK)")
        text = data.inner_text()
        assert "belum_kawin" not in text and "family_card" not in text and "marital_status" not in text
        shot(page, f"traps-09-regency-task-{tag}")
        assert no_horizontal_scroll(page)
        page.context.close()


def test_the_case_page_has_no_technical_leftovers(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Issue 14 item 10: message names, system actors and lane names read as words; the
    diagram's wrapped labels keep their spaces; in English the instructions are English."""
    from playwright.sync_api import expect

    receipt = printed_case(runtime, 1)
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page = _context(chromium, viewport).new_page()
        sign_in(page, live_server, "camat")
        page.goto(f"{live_server}/cases/{receipt}")
        timeline = page.locator("#timeline")
        expect(timeline).to_contain_text("Pesan diterima: Kartu sudah dicetak")
        text = timeline.inner_text()
        assert "card_printed" not in text and "worker" not in text and "office:" not in text
        assert "Sistem" in text
        # the enrolment status by Dukcapil's own code, as the regency recorded it
        expect(page.locator("#enrolment-status")).to_contain_text("PRINT_READY_RECORD · siap cetak")
        diagram = page.locator("#diagram")
        expect(diagram).to_have_attribute("data-state", "ready", timeout=15000)
        words = diagram.evaluate("d => d.textContent.replace(/\\s+/g, ' ')")
        assert "kartu belum kembali" in words and "kartubelum" not in words
        assert "Verifikator" in words and "Pengawas (camat)" in words
        assert "verifier" not in words.split() and "supervisor" not in words.split()
        shot(page, f"traps-09-case-words-{tag}")
        assert no_horizontal_scroll(page)
        page.context.close()

    # English: the step's instructions are English too
    fresh = start_new_card(runtime, 2)["receipt"]
    task = open_task(runtime, fresh, "operator")
    page = _context(chromium).new_page()
    sign_in(page, live_server, "operator")
    page.select_option("#lang-select", "en")
    page.get_by_role("button", name="Ganti bahasa").click()
    page.goto(f"{live_server}/tasks/{task['id']}")
    instructions = page.locator(".instructions")
    expect(instructions).to_contain_text("Check the required documents the applicant brought")
    assert "Periksa" not in instructions.inner_text()
    page.context.close()
