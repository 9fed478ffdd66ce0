"""The upload page as a clerk meets it (issue 14 item 11), in Chromium in Indonesian at 1366
and 390 px: a way back to the step, one error sentence shown once, the same size on every
page, a wrong upload removed or replaced after a confirmation (and recorded), never once a
completed step relied on it; the verifier's name comes from the sign-in; the KK error says
16 digits.  Screenshots go to test-artifacts/uploads-*.png."""

from __future__ import annotations

import io

import pytest

from ..flows import DOCS_OK, actor, complete, open_task, start_new_card
from .test_web_browser import PHONE, chromium, live_server, no_horizontal_scroll, shot, sign_in  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

WIDE = {"width": 1366, "height": 900}


def _png(color, size=(300, 400)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


def _file(name, data, mime="image/png"):
    return {"name": name, "mimeType": mime, "buffer": data}


def test_a_wrong_upload_is_replaced_or_removed_and_the_clerk_finds_the_way_back(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    from playwright.sync_api import expect

    from simpul.engine import get_case

    receipt = start_new_card(runtime, 1)["receipt"]
    task = open_task(runtime, receipt, "operator")
    page = chromium.new_context(viewport=WIDE, locale="id-ID").new_page()
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server}/tasks/{task['id']}")
    page.get_by_role("link", name="Unggah atau lihat hasil pindaian").click()
    row = page.locator("#req-family_card")

    # an empty file: one sentence, said once
    row.locator('input[type="file"]').set_input_files(_file("kosong.png", b""))
    row.get_by_role("button", name="Unggah").click()
    message = page.locator("#upload-message")
    expect(message).to_have_text("Berkas kosong.")
    assert page.locator("main").inner_text().count("Berkas kosong") == 1

    # the wrong paper (a small file: its size is never "0 KB")
    wrong = b"%PDF-1.4\n" + b"x" * 300 + b"\n%%EOF\n"
    row = page.locator("#req-family_card")
    row.locator('input[type="file"]').set_input_files(_file("ktp-tetangga.pdf", wrong, "application/pdf"))
    row.get_by_role("button", name="Unggah").click()
    expect(page.locator("#upload-message")).to_have_text("Berkas diunggah.")
    expect(page.locator("#req-family_card .size")).to_contain_text("1 KB")
    assert "0 KB" not in page.locator("main").inner_text()
    shot(page, "uploads-01-uploaded-1366")

    # replace it: asked first, naming the file and the case
    page.locator("#req-family_card").get_by_role("link", name="Hapus atau ganti").click()
    confirm = page.locator("#confirm-remove")
    expect(confirm).to_contain_text(f"Hapus ktp-tetangga.pdf (Kartu Keluarga (KK)) dari permohonan {receipt}?")
    expect(confirm).to_contain_text("dicatat pada riwayat")
    shot(page, "uploads-02-confirm-1366")
    right = _png("white", (1200, 1600))
    page.get_by_label("Berkas").set_input_files(_file("kk-warga.png", right))
    page.get_by_role("button", name="Ganti dengan berkas ini").click()
    expect(page.locator("#upload-message")).to_have_text("Dokumen ktp-tetangga.pdf diganti dengan kk-warga.png.")
    expect(page.locator("#req-family_card")).not_to_contain_text("ktp-tetangga.pdf")
    size_here = page.locator("#req-family_card .size").inner_text().split(" · ")[0]

    # the same size on the step's page, and the way back is one click
    page.get_by_role("link", name="Kembali ke langkah: Pemeriksaan berkas").click()
    page.wait_for_url(f"{live_server}/tasks/{task['id']}")
    expect(page.locator("#documents")).to_contain_text("kk-warga.png")
    expect(page.locator("#documents")).to_contain_text(size_here)

    # a second, mistaken upload is removed after "Ya, hapus dokumen"; "Tidak" keeps it
    page.get_by_role("link", name="Unggah atau lihat hasil pindaian").click()
    row = page.locator("#req-family_card")
    row.locator('input[type="file"]').set_input_files(_file("salah.png", _png("gray")))
    row.get_by_role("button", name="Unggah").click()
    page.locator("#req-family_card").get_by_role("link", name="Hapus atau ganti: salah.png").click()
    page.get_by_role("link", name="Tidak, biarkan").click()
    expect(page.locator("#req-family_card")).to_contain_text("salah.png")
    page.locator("#req-family_card").get_by_role("link", name="Hapus atau ganti: salah.png").click()
    page.get_by_role("button", name="Ya, hapus dokumen").click()
    expect(page.locator("#upload-message")).to_have_text("Dokumen salah.png dihapus.")
    expect(page.locator("#req-family_card")).not_to_contain_text("salah.png")
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page.set_viewport_size(viewport)
        shot(page, f"uploads-03-after-removal-{tag}")
        assert no_horizontal_scroll(page)

    case = get_case(runtime, receipt, actor(runtime, "operator"))
    kinds = [e["kind"] for e in case["events"]]
    assert kinds.count("document_replaced") == 1 and kinds.count("document_removed") == 1
    page.goto(f"{live_server}/cases/{receipt}")
    expect(page.locator("#timeline")).to_contain_text("Dokumen diganti")
    expect(page.locator("#timeline")).to_contain_text("Dokumen dihapus")

    # once the document check relied on it, the scan stays: no button, and a direct post is refused
    complete(runtime, receipt, "operator", DOCS_OK)
    page.goto(f"{live_server}/verification/cases/{receipt}/documents")
    expect(page.get_by_role("link", name="Hapus atau ganti")).to_have_count(0)
    kept = [d for d in case["events"] if d["kind"] == "document_replaced"][0]["after"]["replaced_by"]
    page.goto(f"{live_server}/verification/documents/{kept}/remove")
    page.get_by_role("button", name="Ya, hapus dokumen").click()
    expect(page.locator("#upload-message")).to_contain_text("tidak dapat dihapus lagi")
    expect(page.locator("#upload-message")).to_contain_text("Pemeriksaan berkas")
    from simpul.engine import list_documents

    assert [d["filename"] for d in list_documents(runtime, receipt, actor(runtime, "operator"))] == ["kk-warga.png"]
    page.context.close()


def test_the_verifier_never_types_their_own_name(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    from playwright.sync_api import expect

    from simpul.engine import complete_task, get_case

    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    task = open_task(runtime, receipt, "verifier")
    page = chromium.new_context(viewport=PHONE, locale="id-ID").new_page()
    sign_in(page, live_server, "verifier")
    page.goto(f"{live_server}/tasks/{task['id']}")
    budi = actor(runtime, "verifier").display_name
    assert budi and budi != "verifier"
    name = page.get_by_label("Nama petugas kelurahan")
    expect(name).to_have_value(budi)
    expect(name).not_to_be_editable()
    shot(page, "uploads-04-verifier-name-390")
    page.get_by_label("Sesuai dengan data kelurahan: lanjut ke perekaman biometrik").check()
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.wait_for_url(f"{live_server}/cases/{receipt}")
    assert get_case(runtime, receipt, actor(runtime, "camat"))["data"]["kelurahan_officer"] == budi

    # through the API or the CLI too: a name typed for someone else is replaced by the signer's
    other = start_new_card(runtime, 2)["receipt"]
    complete(runtime, other, "operator", DOCS_OK)
    second = open_task(runtime, other, "camat", step="Task_residence_verification")
    complete_task(
        runtime, second["id"], {"residence_verified": True, "kelurahan_officer": "Orang Lain"}, actor(runtime, "camat")
    )
    camat = actor(runtime, "camat")
    assert get_case(runtime, other, camat)["data"]["kelurahan_officer"] == camat.display_name


def test_the_family_card_error_says_sixteen_digits(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    from playwright.sync_api import expect

    page = chromium.new_context(viewport=WIDE, locale="id-ID").new_page()
    sign_in(page, live_server, "operator")
    page.goto(f"{live_server}/cases/new/ektp_new_card")
    page.get_by_label("Nomor Kartu Keluarga (KK)").fill("640205120315000")
    page.get_by_role("button", name="Buat permohonan").click()
    expect(page.locator("#f-kk_number-error")).to_contain_text("16 digit")
    shot(page, "uploads-05-kk-error-1366")


@pytest.mark.national_checklist  # ticks the national list; the Kutai walk covers a regency's own
def test_a_full_new_card_case_walked_on_the_pages(runtime, live_server, chromium):  # noqa: F811 (the fixtures)
    """Acceptance of issue 14: a new-card case from the counter to the handover, every step on
    the pages in Indonesian (the kecamatan's and the regency's, the batch pages included),
    only the worker run between them.  Screenshots: test-artifacts/walk-*.png."""
    from playwright.sync_api import expect

    from simpul.engine import get_case, list_tasks

    from ..flows import resident, run_worker_until_quiet

    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    data = resident(7)
    page.goto(f"{live_server}/cases/new/ektp_new_card")
    for key in ("nik", "resident_name", "birth_place", "kk_number", "address", "rt", "rw", "kelurahan"):
        page.locator(f'.step-form [name="{key}"]').fill(data[key])
    page.locator('.step-form [name="birth_date"]').fill(data["birth_date"])
    page.get_by_label("Perempuan").check()
    page.locator('.step-form [name="marital_status"]').select_option("belum_kawin")
    page.get_by_role("button", name="Buat permohonan").click()
    page.wait_for_url(lambda url: "/cases/new" not in url)
    receipt = [t for t in list_tasks(runtime, actor(runtime, "operator")) if t["nik"] == data["nik"]][0]["receipt"]
    shot(page, "walk-01-started-1366")

    def step(username, receipt_, step_id=None):
        task = open_task(runtime, receipt_, username, step=step_id)
        page.goto(f"{live_server}/tasks/{task['id']}")
        return task

    def finish(name):
        page.get_by_role("button", name="Selesaikan langkah").click()
        expect(page.locator(".alert-success")).to_contain_text(name)

    step("operator", receipt)
    page.locator('input[name="documents_received"][value="family_card"]').check()
    page.get_by_label("Semua berkas lengkap").check()
    finish("Pemeriksaan berkas")

    context.close()
    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "verifier")
    step("verifier", receipt)
    page.get_by_label("Sesuai dengan data kelurahan: lanjut ke perekaman biometrik").check()
    finish("Verifikasi domisili")
    context.close()

    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    step("operator", receipt)
    for label in ("Foto wajah direkam", "Sidik jari (10 jari) direkam", "Iris mata direkam", "Tanda tangan direkam"):
        page.get_by_label(label).check()
    page.get_by_label("Nomor perangkat perekaman").fill("REK-01")
    finish("Perekaman biometrik")
    run_worker_until_quiet(runtime)  # the case travels to the regency
    context.close()

    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "disdukcapil")
    printing = [t for t in list_tasks(runtime, actor(runtime, "disdukcapil")) if t["nik"] == data["nik"]][0]["receipt"]
    step("disdukcapil", printing)
    shot(page, "walk-02-regency-receive-1366")
    page.get_by_label("Lengkap dan dapat diproses: lanjut ke enrolmen").check()
    finish("Terima data perekaman")
    step("disdukcapil", printing)
    page.locator('.step-form [name="enrolment_result"]').select_option("PRINT_READY_RECORD")
    finish("Kirim untuk enrolmen pusat")
    step("disdukcapil", printing)
    page.get_by_label("Blanko KTP-el tersedia").check()
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.goto(f"{live_server}/inbox")
    page.locator("#card-printing-link").click()
    task = open_task(runtime, printing, "disdukcapil")
    page.locator(f'input[name="task_id"][value="{task["id"]}"]').check()
    page.locator(f'[name="serial-{task["id"]}"]').fill("KTP-0007")
    shot(page, "walk-03-print-batch-1366")
    page.get_by_role("button", name="Catat kartu yang dicentang sebagai sudah dicetak").click()
    expect(page.locator(".alert-success")).to_contain_text("1 kartu dicetak")
    run_worker_until_quiet(runtime)  # the card travels back
    context.close()

    context = chromium.new_context(viewport=WIDE, locale="id-ID")
    page = context.new_page()
    sign_in(page, live_server, "operator")
    page.locator("#card-arrivals-link").click()
    page.locator("#arrival-form").get_by_text(receipt).click()
    page.locator("#f-card_arrived").check()
    page.get_by_role("button", name="Terima kartu yang dicentang").click()
    expect(page.locator(".alert-success")).to_contain_text("1 kartu diterima")
    step("operator", receipt, "Task_handover")
    page.get_by_label("KTP-el telah diterima pemohon").check()
    page.get_by_label("Tanda terima telah ditandatangani").check()
    page.get_by_label("Nama penerima").fill("Warga 7")
    page.get_by_role("button", name="Selesaikan langkah").click()
    page.goto(f"{live_server}/cases/{receipt}")
    expect(page.locator("#enrolment-status")).to_contain_text("PRINT_READY_RECORD")
    assert get_case(runtime, receipt, actor(runtime, "operator"))["status"] == "completed"
    for viewport, tag in ((WIDE, "1366"), (PHONE, "390")):
        page.set_viewport_size(viewport)
        shot(page, f"walk-04-case-done-{tag}")
    context.close()
