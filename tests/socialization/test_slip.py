"""The receipt slip: printed by the operator once a case has started, or from the shell; its
text and its QR code (decoded from the rendered page, as a phone camera would)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from pypdf import PdfReader

from simpul import engine

from ..cli_runner import run_in_process
from ..flows import actor
from ..flows import resident as resident_data
from ..web.web_helpers import Browser

SIMPUL = str(Path(sys.executable).with_name("simpul"))


def _text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


def _qr(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=3).to_pil()
    finally:
        document.close()
    return [code.text for code in zxingcpp.read_barcodes(image)]


def _page_size_mm(pdf: bytes) -> tuple[float, float]:
    box = PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    return round(float(box.width) / 72 * 25.4), round(float(box.height) / 72 * 25.4)


@pytest.mark.parametrize("layout, width", [("a5", 148), ("a4", 210), ("80mm", 80), ("58mm", 58)])
def test_the_operator_prints_the_slip_from_the_case_page(runtime, app, layout, width):
    runtime.config.settings.update(public_url="https://kec-sangasanga.example.id", office_contact="WA 0812-5555-0101")
    started = engine.start_case(
        runtime,
        "ektp_replacement",
        resident_data(1, reason="lost", reason_notes="Hilang di pasar"),
        actor(runtime, "operator"),
    )
    receipt = started["receipt"]
    code = engine.get_case(runtime, receipt, actor(runtime, "operator"))["lookup_code"]
    browser = Browser(app)
    browser.login("operator")
    page = browser.get(f"/cases/{receipt}").get_data(as_text=True)
    assert f"/socialization/cases/{receipt}/slip.pdf?layout=a5" in page  # the print button
    response = browser.get(f"/socialization/cases/{receipt}/slip.pdf?layout={layout}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = response.data
    assert _page_size_mm(pdf)[0] == width
    text = _text(pdf)
    for expected in (receipt, code, "************0001", "Warga 1", "TANDA TERIMA", "Penggantian", "WA 0812-5555-0101"):
        assert expected in text, (expected, text)
    assert resident_data(1)["nik"] not in text
    assert "Berkas yang masih kurang" in text and "e-KTP yang rusak" not in text  # lost, not damaged
    assert _qr(pdf) == [f"https://kec-sangasanga.example.id/cek?receipt={receipt}&code={code}"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_qr_code_opens_the_status_page_of_the_case(runtime, app):
    receipt = engine.start_case(runtime, "ektp_new_card", resident_data(1), actor(runtime, "operator"))["receipt"]
    browser = Browser(app)
    browser.login("operator")
    (url,) = _qr(browser.get(f"/socialization/cases/{receipt}/slip.pdf").data)
    assert url.startswith("http://localhost/cek?")  # this node's own address when public_url is not set
    resident = app.test_client()  # the resident's phone: no session
    page = resident.get(url.removeprefix("http://localhost")).get_data(as_text=True)
    assert 'id="status"' in page and receipt in page and "Permohonan diterima" in page


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_slip_is_for_clerks_of_the_case_office_only(runtime, app, password_hash):
    receipt = engine.start_case(runtime, "ektp_new_card", resident_data(1), actor(runtime, "operator"))["receipt"]
    anonymous = app.test_client().get(f"/socialization/cases/{receipt}/slip.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    browser = Browser(app)
    browser.login("other")  # a clerk of Muara Jawa
    assert browser.get(f"/socialization/cases/{receipt}/slip.pdf").status_code == 404
    unknown_layout = Browser(app)
    unknown_layout.login("operator")
    assert unknown_layout.get(f"/socialization/cases/{receipt}/slip.pdf?layout=%ff%fe").status_code == 200
    # a NUL character is refused with a clear 400 before any page runs (web/__init__.py)
    assert unknown_layout.get(f"/socialization/cases/{receipt}/slip.pdf?layout=%00").status_code == 400


@pytest.fixture
def node(tmp_path, db):
    env = {
        "SIMPUL_DATABASE_URL": db,
        "SIMPUL_INSTANCE_PATH": str(tmp_path / "instance"),
        "SIMPUL_OFFICE_CODE": "640205",
        "SIMPUL_REGENCY_CODE": "6402",
        "SIMPUL_SETTINGS": json.dumps({"public_url": "https://kec.example.id"}),
        "SIMPUL_PLUGINS": None,
    }

    def simpul(*args, ok=True):
        proc = run_in_process(args, env)
        if ok:
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout) if "--json" in args else proc.stdout
        return proc

    simpul("init")
    return simpul


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_cases_receipt_writes_the_slip_and_cases_show_gives_the_lookup_code(node, tmp_path):
    started = node("cases", "start", "ektp_new_card", "--data", json.dumps(resident_data(3)), "--json")
    receipt = started["receipt"]
    shown = node("cases", "show", receipt, "--json")
    code = shown["lookup_code"]
    assert len(code) == 9 and code[4] == "-"
    out = tmp_path / "slip.pdf"
    node("cases", "receipt", receipt, "-o", str(out), "--layout", "80mm")
    pdf = out.read_bytes()
    assert receipt in _text(pdf) and code in _text(pdf)
    assert _qr(pdf) == [f"https://kec.example.id/cek?receipt={receipt}&code={code}"]
    english = tmp_path / "slip-en.pdf"
    node("cases", "receipt", receipt, "-o", str(english), "--lang", "en")
    assert "Documents still missing" in _text(english.read_bytes())
    missing = node("cases", "receipt", "640205-2026-99999", "-o", str(tmp_path / "x.pdf"), ok=False)
    assert missing.returncode == 1 and "Permohonan tidak ditemukan" in missing.stderr, missing.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_the_code_on_the_slip_is_the_one_the_lookup_accepts(runtime, app):
    receipt = engine.start_case(runtime, "ektp_new_card", resident_data(1), actor(runtime, "operator"))["receipt"]
    browser = Browser(app)
    browser.login("operator")
    text = _text(browser.get(f"/socialization/cases/{receipt}/slip.pdf").data)
    code = text.split("Kode cek", 1)[1].split()[0]
    status = app.test_client().get("/api/v1/public/status", query_string={"receipt": receipt, "code": code})
    assert status.status_code == 200 and status.json["receipt"] == receipt
