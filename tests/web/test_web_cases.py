"""Starting cases and the case page: data, status, open steps, the timeline, comments, the
uploaded documents, cancelling, and the diagram with finished and current steps."""

from __future__ import annotations

import json
import os
import re

import pytest

from simpul.engine import documents
from simpul.engine.models import Case

from ..flows import DOCS_OK, actor, complete, resident, start_new_card
from .web_helpers import page_text

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def start_form(n=1, **extra):
    data = resident(n, **extra)
    return {k: v for k, v in data.items()}


def test_starting_a_case_from_the_procedure_s_start_form(runtime, browser):
    browser.login("operator")
    choose = browser.get("/cases/new")
    text = page_text(choose)
    assert "Perekaman e-KTP Baru" in text and "Penggantian e-KTP Hilang/Rusak" in text
    assert "Pencetakan e-KTP" not in text  # started by the regency's message, not at the counter
    form = browser.get("/cases/new/ektp_new_card")
    html = form.get_data(as_text=True)
    assert '<label for="f-nik">NIK' in html and '<label for="f-birth_date">Tanggal lahir' in html
    assert 'type="date"' in html and "<legend>Jenis kelamin" in html

    bad = browser.post("/cases/new/ektp_new_card", {**start_form(), "nik": "12345", "resident_name": ""})
    assert bad.status_code == 422
    bad_html = bad.get_data(as_text=True)
    assert re.search(r'id="f-nik-error"><p>Isi tepat 16 digit angka.</p>', bad_html)
    assert re.search(r'id="f-resident_name-error"><p>Isian ini wajib diisi.</p>', bad_html)
    assert 'value="Jl. Merdeka 4"' not in bad_html and "Jl. Merdeka 4</textarea>" in bad_html  # kept
    with runtime.read() as s:
        assert s.query(Case).count() == 0

    done = browser.post("/cases/new/ektp_new_card", start_form())
    assert done.status_code == 302
    receipt = done.headers["Location"].rsplit("/", 1)[-1]
    page = browser.get(done.headers["Location"])
    text = page_text(page)
    assert f"Permohonan {receipt} dibuat." in text and "Warga 1" in text and "Dalam proses" in text
    assert "Pemeriksaan berkas" in text  # the open step


def test_an_open_case_for_the_same_nik_is_refused_with_a_link_to_it(runtime, browser):
    first = start_new_card(runtime, 1)["receipt"]
    browser.login("operator")
    browser.get("/cases/new/ektp_new_card")
    response = browser.post("/cases/new/ektp_new_card", start_form(1, resident_name="Warga Satu"))
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert f"Penduduk 6402054507000001 sudah memiliki permohonan terbuka {first}." in page_text(response)
    assert f'href="/cases/{first}"' in html


def test_case_page_shows_timeline_steps_and_diagram_state(runtime, make_browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    complete(runtime, receipt, "operator", DOCS_OK)
    browser = make_browser()
    browser.login("camat")
    page = browser.get(f"/cases/{receipt}")
    text = page_text(page)
    html = page.get_data(as_text=True)
    timeline = text.split("Riwayat")[1].split("Komentar")[0]
    assert "Permohonan dibuat" in timeline and "Langkah selesai: Pemeriksaan berkas" in timeline
    assert "Siti · Kecamatan Sangasanga" in timeline and "WITA" in timeline
    assert "Langkah selesai: Pemeriksaan berkas Langkah saat ini: Verifikasi domisili" in text
    assert "Langkah saat ini: Verifikasi domisili" in text
    data = json.loads(
        re.search(r'<script type="application/json" id="diagram-data">(.*?)</script>', html, re.S).group(1)
    )
    assert {"StartEvent_application", "Task_document_check"} <= set(data["completed"])
    assert data["current"] == ["Task_residence_verification"]
    assert data["xml"].startswith("<?xml") and "Task_document_check" in data["xml"]
    diagram = browser.get(f"/cases/{receipt}/diagram.json").get_json()
    assert diagram["current"] == ["Task_residence_verification"]

    browser.language("en")
    text = page_text(browser.get(f"/cases/{receipt}"))
    assert "Step completed: Document check" in text and "Current steps: Residence verification" in text
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d{2}:\d{2} WITA", text)


def test_bpmn_js_is_served_by_the_app_not_a_cdn(browser, app):
    from simpul.web.pages import BPMN_JS_DIST

    if not (BPMN_JS_DIST / "bpmn-navigated-viewer.production.min.js").exists():
        if os.environ.get("CI") == "true":
            pytest.fail("node_modules/bpmn-js is missing: run npm ci")
        pytest.skip("node_modules/bpmn-js is missing (npm ci installs it)")
    js = browser.get("/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js")
    assert js.status_code == 200 and b"BpmnJS" in js.data
    assert browser.get("/vendor/bpmn-js/assets/bpmn-js.css").status_code == 200
    assert browser.get("/vendor/bpmn-js/assets/bpmn-font/css/bpmn.css").status_code == 200
    assert browser.get("/vendor/bpmn-js/../../package.json").status_code == 404
    assert browser.get("/vendor/bpmn-js/bpmn-modeler.production.min.js").status_code == 404
    browser.login("operator")
    receipt = start_new_card(app.extensions["simpul"].runtime, 1)["receipt"]
    html = browser.get(f"/cases/{receipt}").get_data(as_text=True)
    assert 'src="/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js"' in html
    assert not re.search(r'(src|href)="https?://', html)


def test_comments_are_added_and_listed(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    browser.login("operator")
    browser.get(f"/cases/{receipt}")
    empty = browser.post(f"/cases/{receipt}/comments", {"body": "   "})
    assert empty.status_code == 422
    assert re.search(r'id="comment-error"><p>Isian ini wajib diisi.</p>', empty.get_data(as_text=True))
    added = browser.post(f"/cases/{receipt}/comments", {"body": "Pemohon akan membawa KK asli besok."})
    assert added.status_code == 302
    text = page_text(browser.get(f"/cases/{receipt}"))
    assert "Komentar ditambahkan." in text
    comments = text.split("Komentar Siti")[1]
    assert "Pemohon akan membawa KK asli besok." in comments
    assert "Komentar" in text.split("Riwayat")[1]  # and it is in the timeline


def test_uploaded_documents_are_listed_on_the_case_and_task_pages(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    documents.store_document(runtime, receipt, "family_card", "kk-warga.pdf", PDF, actor(runtime, "operator"))
    browser.login("operator")
    text = page_text(browser.get(f"/cases/{receipt}"))
    assert "kk-warga.pdf Kartu Keluarga (KK)" in text
    task_id = re.search(r'href="/tasks/([0-9a-f-]{36})"', browser.last.get_data(as_text=True)).group(1)
    text = page_text(browser.get(f"/tasks/{task_id}"))
    assert "kk-warga.pdf" in text and "Kartu Keluarga (KK) — pindaian diunggah" in text


def test_cancelling_needs_a_reason(runtime, browser):
    receipt = start_new_card(runtime, 1)["receipt"]
    browser.login("camat")
    browser.get(f"/cases/{receipt}")
    refused = browser.post(f"/cases/{receipt}/cancel", {"reason": ""})
    assert refused.status_code == 422 and 'id="cancel-error"' in refused.get_data(as_text=True)
    done = browser.post(f"/cases/{receipt}/cancel", {"reason": "Pemohon pindah domisili"})
    assert done.status_code == 302
    text = page_text(browser.get(f"/cases/{receipt}"))
    assert "Permohonan " + receipt + " dibatalkan." in text and "Dibatalkan" in text
    assert "Pemohon pindah domisili" in text
    again = browser.post(f"/cases/{receipt}/cancel", {"reason": "lagi"})
    assert again.status_code == 409 and "sudah berstatus cancelled" in page_text(again)


def test_case_list_searches_the_office_s_cases(runtime, browser):
    for n in (1, 2, 3):
        start_new_card(runtime, n)
    browser.login("operator")
    text = page_text(browser.get("/cases?q=warga%202"))
    assert "Warga 2" in text and "Warga 1" not in text
    assert "••••••••••••0002" in text
    assert "Warga 3" in page_text(browser.get("/cases?status=open"))
    assert "Tidak ada permohonan yang ditemukan." in page_text(browser.get("/cases?status=completed"))
