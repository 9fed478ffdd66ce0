"""The resident pages as staff use them: upload a list, match an unknown column, read the
error report and the difference, confirm; the coverage page and the without-e-KTP list
(masked NIKs, exports); another office's residents are never found."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from ..web.web_helpers import Browser, page_text
from .registry_data import KELURAHAN, build_csv, generate, seed_kelurahan


def upload(browser, text, name="daftar.csv", **fields):
    browser.get("/socialization/residents/import")
    data = {"file": (io.BytesIO(text.encode()), name), **fields}
    return browser.post("/socialization/residents/import", data, content_type="multipart/form-data")


def token_of(response):
    return re.search(r"/socialization/residents/import/([0-9a-f]{24})", response.get_data(as_text=True)).group(1)


def test_upload_map_check_and_confirm(app, runtime):
    seed_kelurahan(runtime)
    people = generate(300, seed=4)
    text, bad, stored = build_csv(people, bad_every=50)
    text = text.replace("Nama Lengkap", "Nama Warga Sesuai KK", 1)
    b = Browser(app)
    b.login("operator")
    first = upload(b, text)
    assert first.status_code == 422
    assert "Pasangkan kolom" in page_text(first) and "Berkas tidak punya kolom Nama" in page_text(first)
    token = token_of(first)
    preview = b.post(f"/socialization/residents/import/{token}", {"step": "check", "map:Nama Warga Sesuai KK": "name"})
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    errors = re.findall(r'<tr><td class="num">(\d+)</td>', html.split('id="import-errors"')[1].split("</table>")[0])
    assert sorted(int(r) for r in errors) == sorted(bad)
    assert f'id="diff-new">{len(stored)}<' in html
    assert "Belum" not in page_text(preview).split("Periksa impor")[0]  # nothing stored yet
    done = b.post(
        f"/socialization/residents/import/{token}",
        {"step": "apply", "map:Nama Warga Sesuai KK": "name"},
    )
    assert done.status_code == 200 and f"Tersimpan: {len(stored)} baru" in page_text(done)

    home = b.get("/socialization/residents")
    assert home.status_code == 200
    assert "Cakupan e-KTP" in page_text(home) and KELURAHAN[0][1] in page_text(home)
    assert "echarts.min.js" in home.get_data(as_text=True)
    listed = b.get(f"/socialization/residents/without?kelurahan={KELURAHAN[0][0]}")
    body = listed.get_data(as_text=True)
    assert listed.status_code == 200 and "••••" in body
    for p in stored:
        assert p["nik"] not in body, "a full NIK on a list"
    export = b.get(f"/socialization/residents/without?kelurahan={KELURAHAN[0][0]}&format=xlsx")
    rows = list(load_workbook(io.BytesIO(export.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][1] == "NIK" and len(rows) > 1 and all(len(str(r[1])) == 16 for r in rows[1:])

    b.language("en")
    english = b.get("/socialization/residents")
    assert "e-KTP coverage" in page_text(english) and "Without e-KTP" in page_text(english)


def test_another_office_never_sees_the_list(app, runtime):
    seed_kelurahan(runtime)
    text, _bad, stored = build_csv(generate(20, seed=6), bad_every=0)
    ours = Browser(app)
    ours.login("operator")
    token = token_of(upload(ours, text))
    ours.post(f"/socialization/residents/import/{token}", {"step": "apply"})
    page = ours.get("/socialization/residents/without").get_data(as_text=True)
    resident_id = re.search(r"/socialization/residents/(\d+)\"", page).group(1)
    assert ours.get(f"/socialization/residents/{resident_id}").status_code == 200

    theirs = Browser(app)
    theirs.login("other")
    assert theirs.get(f"/socialization/residents/{resident_id}").status_code == 404
    assert theirs.post(f"/socialization/residents/import/{token}", {"step": "apply"}).status_code == 404
    their_list = page_text(theirs.get("/socialization/residents/without"))
    assert stored[0]["name"] not in their_list
    assert "Warga" not in page_text(theirs.get("/socialization/residents"))


def test_bad_uploads_are_clear_refusals(app, runtime):
    b = Browser(app)
    b.login("operator")
    assert upload(b, "hello", name="notes.pdf").status_code == 400
    broken = b.post(
        "/socialization/residents/import",
        {"file": (io.BytesIO(b"PK\x03\x04junk"), "list.xlsx")},
        content_type="multipart/form-data",
    )
    assert broken.status_code == 422 and "tidak dapat dibaca" in page_text(broken)
    assert b.post("/socialization/residents/import/zzzz", {"step": "apply"}).status_code == 404
    assert b.get("/socialization/residents/without?after=x&rt=abc&sex=Q").status_code == 200
