"""The task page: the step's form from its form-js definition, the same definition's
server-side validation with inline errors (nothing saved on error), the document checklist,
and clear messages for stale or second completions."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from simpul.engine.models import CaseEvent, HumanTask

from ..flows import DOCS_OK, complete, open_task, start_new_card
from .web_helpers import page_text

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


class Controls(HTMLParser):
    """Form controls, labels and fieldsets of a page, to check that every input has a label."""

    def __init__(self):
        super().__init__()
        self.controls, self.label_for, self.legends, self.in_fieldset = [], set(), 0, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)


def unlabelled(html: str) -> list[dict]:
    parser = Controls()
    parser.feed(html)
    return [c for c in parser.controls if c.get("id") not in parser.label_for and not c.get("aria-label")]


def task_page(browser, runtime, receipt, username="operator"):
    task = open_task(runtime, receipt, username)
    return task, browser.get(f"/tasks/{task['id']}")


@pytest.mark.national_checklist
def test_form_is_rendered_from_its_definition_with_labels_tied_to_inputs(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    browser.login("operator")
    task, page = task_page(browser, runtime, receipt)
    html = page.get_data(as_text=True)
    text = page_text(page)
    assert page.status_code == 200
    assert "Pemeriksaan berkas" in text and "Periksa berkas persyaratan yang dibawa pemohon" in text  # instructions
    # the form-js labels (Indonesian) and descriptions
    assert '<label for="f-documents_complete">Semua berkas lengkap' in html
    assert "<legend>Berkas yang diterima" in html
    assert 'aria-describedby="f-documents_complete-desc"' in html
    # the checklist's options come from the requirements hook, translated
    assert re.search(
        r'<input type="checkbox" id="f-documents_received-1" name="documents_received"\s+value="family_card"', html
    )
    assert '<label for="f-documents_received-1">Kartu Keluarga (KK)</label>' in html
    # the document checklist shows what is missing
    assert "Daftar periksa berkas" in text and "Kartu Keluarga (KK) — belum ada" in text
    assert "1 berkas masih kurang." in text
    # the case data with the labels of the start form
    assert "Nama lengkap Warga 1" in text and "Nomor Kartu Keluarga (KK) 6402051203150004" in text
    assert unlabelled(html) == []

    browser.language("en")
    text = page_text(browser.get(f"/tasks/{task['id']}"))
    assert "Document check" in text and "All documents complete" in text and "Documents received" in text
    assert "Family card (Kartu Keluarga)" in text and "Full name Warga 1" in text


@pytest.mark.national_checklist
def test_missing_document_is_refused_inline_and_nothing_is_saved(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    browser.login("operator")
    task, _page = task_page(browser, runtime, receipt)
    with runtime.read() as s:
        events_before = s.scalar(select(func.count()).select_from(CaseEvent))
    response = browser.post(
        f"/tasks/{task['id']}",
        {"version": str(task["version"]), "documents_complete": "on", "document_notes": "KK dibawa besok"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<div class="field-error" id="f-documents_received-error"[^>]*>(.*?)</div>', html, re.S)
    assert error and "Berkas persyaratan belum ada: Kartu Keluarga (KK)" in error.group(1)
    assert re.search(r'id="f-documents_received" aria-describedby="[^"]*f-documents_received-error"', html)
    assert "Beberapa isian perlu diperbaiki." in page_text(response)
    assert 'href="#f-documents_received"' in html  # the error summary links to the field
    # what the clerk typed is kept
    assert "KK dibawa besok</textarea>" in html and re.search(r'id="f-documents_complete"[^>]*checked', html)
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent)) == events_before
        assert s.get(HumanTask, task["id"]).version == task["version"]

    done = browser.post(
        f"/tasks/{task['id']}",
        {"version": str(task["version"]), "documents_complete": "on", "documents_received": "family_card"},
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/cases/{receipt}"
    assert "Langkah selesai: Pemeriksaan berkas." in page_text(browser.get(done.headers["Location"]))
    assert open_task(runtime, receipt, "verifier")["step"] == "Task_residence_verification"


def test_required_fields_and_formats_are_checked_by_the_same_definition(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    browser.login("verifier")
    task, page = task_page(browser, runtime, receipt, "verifier")
    assert 'data-hide="=residence_verified != false"' in page.get_data(as_text=True)  # conditional field, hidden by JS
    response = browser.post(f"/tasks/{task['id']}", {"version": str(task["version"]), "kelurahan_officer": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert re.search(r'id="f-residence_verified-error"[^>]*><p>Isian ini wajib diisi.</p>', html)
    # the officer's name is the signed-in verifier's, never typed (so never missing)
    assert 'id="f-kelurahan_officer-error"' not in html
    ok = browser.post(
        f"/tasks/{task['id']}",
        {"version": str(task["version"]), "residence_verified": "true", "kelurahan_officer": "Budi"},
    )
    assert ok.status_code == 302


def test_stale_completion_shows_the_message_and_the_current_state(runtime, make_browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    siti, andi = make_browser(), make_browser()
    siti.login("operator")
    andi.login("operator2")
    task, _ = task_page(siti, runtime, receipt)
    task_page(andi, runtime, receipt)
    andi.post(f"/tasks/{task['id']}/claim", {})  # Andi takes it while Siti has the page open
    response = siti.post(
        f"/tasks/{task['id']}", {"version": "1", "documents_complete": "on", "documents_received": "family_card"}
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "Tugas ini sedang dikerjakan oleh Andi." in text  # his name, not his login
    assert "Sekarang: langkah ini dipegang oleh Andi." in text
    assert "Andi sedang mengerjakan langkah ini sejak" in text
    assert "versi" not in text and "operator2" not in text  # no internal numbers, no logins
    html = response.get_data(as_text=True)
    assert "Selesaikan langkah" not in html  # only Andi can complete it
    assert open_task(runtime, receipt, "operator")["id"] == task["id"]  # nothing happened


def test_a_step_changed_meanwhile_is_said_without_version_numbers(runtime, make_browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    siti, andi = make_browser(), make_browser()
    siti.login("operator")
    andi.login("operator2")
    task, _ = task_page(siti, runtime, receipt)
    andi.post(f"/tasks/{task['id']}/claim", {})
    andi.post(f"/tasks/{task['id']}/unclaim", {})  # taken and given back while Siti had the page open
    response = siti.post(
        f"/tasks/{task['id']}", {"version": "1", "documents_complete": "on", "documents_received": "family_card"}
    )
    assert response.status_code == 409
    text = page_text(response)
    assert "Seseorang telah mengubah langkah ini sejak Anda membukanya; periksa kembali sebelum melanjutkan." in text
    assert "Sekarang: langkah ini tidak dipegang siapa pun" in text
    assert "versi" not in text
    assert 'name="version" value="3"' in response.get_data(as_text=True)  # the next submission is current


@pytest.mark.national_checklist
def test_second_completion_says_who_completed_it_and_when(runtime, make_browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    siti, andi = make_browser(), make_browser()
    siti.login("operator")
    andi.login("operator2")
    task, _ = task_page(siti, runtime, receipt)
    task_page(andi, runtime, receipt)
    form = {"version": "1", "documents_complete": "on", "documents_received": "family_card", "receipt": receipt}
    assert siti.post(f"/tasks/{task['id']}", form).status_code == 302
    again = andi.post(f"/tasks/{task['id']}", form)
    assert again.status_code == 409
    text = page_text(again)
    assert re.search(r"Tugas ini sudah diselesaikan oleh Siti pada \d+ \w+ \d{4} \d{2}\.\d{2} WITA\.", text)
    assert "Verifikasi domisili" in text  # the case page: where the case stands now
    with runtime.read() as s:
        assert s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "task_completed")) == 1


def test_a_step_of_another_role_is_refused(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    task = open_task(runtime, receipt, "verifier")
    browser.login("operator")
    response = browser.post(
        f"/tasks/{task['id']}", {"version": "1", "residence_verified": "true", "kelurahan_officer": "Budi"}
    )
    assert response.status_code == 403
    assert "Langkah ini memerlukan peran verifier." in page_text(response)


def test_unknown_task_is_not_found(browser):
    browser.login("operator")
    assert browser.get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404


# -- the camat's override of a missing document (the verification plugin's task input) --------


def test_the_camat_completes_the_document_check_with_a_written_reason(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    nothing = {"documents_complete": "on"}  # "complete" ticked, the family card neither ticked nor scanned

    # a clerk sees no override and cannot smuggle one in: the rule holds
    browser.login("operator")
    task, page = task_page(browser, runtime, receipt, "operator")
    assert 'name="override_reason"' not in page.get_data(as_text=True)
    refused = browser.post(
        f"/tasks/{task['id']}", {"version": str(task["version"]), **nothing, "override_reason": "saya yakin"}
    )
    assert refused.status_code == 422 and "override_reason" not in refused.get_data(as_text=True)
    browser.logout()

    browser.login("camat")
    task, page = task_page(browser, runtime, receipt, "camat")
    html = page.get_data(as_text=True)
    assert '<label for="x-override_reason">Pengecualian: selesaikan walau berkas belum lengkap' in html
    assert unlabelled(html) == []
    # without a reason the camat is held to the rule too, and the page says why
    again = browser.post(f"/tasks/{task['id']}", {"version": str(task["version"]), **nothing, "override_reason": "  "})
    assert again.status_code == 422 and "Berkas persyaratan belum ada: Kartu Keluarga" in page_text(again)
    reason = "KK terbakar; salinan dari Disdukcapil menyusul"
    done = browser.post(f"/tasks/{task['id']}", {"version": str(task["version"]), **nothing, "override_reason": reason})
    assert done.status_code == 302
    case_page = page_text(browser.get(done.headers["Location"]))
    assert "Persyaratan dikecualikan" in case_page and reason in case_page  # in the timeline, with the reason
    assert open_task(runtime, receipt, "verifier")["role"] == "verifier"


@pytest.mark.national_checklist
def test_no_override_is_offered_once_every_document_is_there(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    browser.login("camat")
    task = open_task(runtime, receipt, "camat")
    from simpul.engine import store_document

    from ..flows import actor
    from ..verification.samples import pdf

    store_document(runtime, receipt, "family_card", "kk.pdf", pdf(), actor(runtime, "camat"))
    assert 'name="override_reason"' not in browser.get(f"/tasks/{task['id']}").get_data(as_text=True)


def _ready_to_print(rt, n):
    """A new-card case walked until its card waits at the regency's "Cetak KTP-el" step."""
    from simpul.engine import list_tasks

    from ..flows import BIOMETRICS, VERIFIED, actor, resident, run_worker_until_quiet

    receipt = start_new_card(rt, n)["receipt"]
    complete(rt, receipt, "operator", DOCS_OK)
    complete(rt, receipt, "verifier", VERIFIED)
    complete(rt, receipt, "operator", BIOMETRICS)
    run_worker_until_quiet(rt)
    nik = resident(n)["nik"]
    printing = [t for t in list_tasks(rt, actor(rt, "disdukcapil")) if t["nik"] == nik][0]["receipt"]
    for data in ({"data_complete": True}, {"enrolment_result": "PRINT_READY_RECORD"}, {"blank_in_stock": True}):
        complete(rt, printing, "disdukcapil", data)
    return receipt, printing


def test_the_regency_prints_several_ready_cards_in_one_action(runtime, browser):
    """Issue 14 item 8: a batch of ready cards recorded as printed at once, each with its serial;
    a ticked card without its serial is refused and nothing is printed."""
    ready = [_ready_to_print(runtime, n) for n in (1, 2, 3)]
    browser.login("disdukcapil")
    assert 'id="card-printing-link"' in browser.get("/inbox").get_data(as_text=True)
    page = browser.get("/cards/printing")
    text = page_text(page)
    assert "3 kartu siap dicetak" in text and all(p in text for _r, p in ready)
    tasks = {p: open_task(runtime, p, "disdukcapil")["id"] for _r, p in ready}
    first, second, third = (tasks[p] for _r, p in ready)

    refused = browser.post("/cards/printing", {"task_id": [first, second], f"serial-{first}": "KTP-1"})
    assert refused.status_code == 422 and "Ketik nomor seri kartu ini." in page_text(refused)
    assert all(open_task(runtime, p, "disdukcapil")["step"] == "Task_print_card" for _r, p in ready)

    done = browser.post(
        "/cards/printing", {"task_id": [first, second], f"serial-{first}": "KTP-1", f"serial-{second}": "KTP-2"}
    )
    assert done.status_code == 302
    assert "2 kartu dicetak" in page_text(browser.get(done.headers["Location"]))
    from simpul.engine import get_case

    from ..flows import actor

    printed = [get_case(runtime, p, actor(runtime, "disdukcapil"))["data"].get("card_serial") for _r, p in ready]
    assert printed == ["KTP-1", "KTP-2", None]
    assert open_task(runtime, ready[2][1], "disdukcapil")["id"] == third  # the unticked card still waits
    browser.login("operator")
    assert browser.get("/cards/printing").status_code == 403


def test_the_printing_page_shows_a_run_of_the_most_urgent_and_counts_them_all(runtime, browser, monkeypatch):
    """A regency has thousands of cards ready: the page lists one print run (the most urgent
    first) and says how many there are in all; a ticked card is found even when the list has
    moved on meanwhile."""
    from simpul.web import views

    monkeypatch.setattr(views, "CARD_BATCH", 2)
    ready = [_ready_to_print(runtime, n) for n in (1, 2, 3)]
    browser.login("disdukcapil")
    text = page_text(browser.get("/cards/printing"))
    assert "3 kartu siap dicetak" in text
    assert "Ditampilkan 2 yang paling mendesak; berikutnya muncul setelah ini dicatat." in text
    shown = [p for _r, p in ready if p in text]
    assert shown == [ready[0][1], ready[1][1]]  # the oldest due first; the third waits for the next run
    third = open_task(runtime, ready[2][1], "disdukcapil")["id"]
    done = browser.post("/cards/printing", {"task_id": [third], f"serial-{third}": "KTP-3"})
    assert done.status_code == 302 and "1 kartu dicetak" in page_text(browser.get(done.headers["Location"]))
    text = page_text(browser.get("/cards/printing"))
    assert "2 kartu siap dicetak" in text and "paling mendesak" not in text
