"""A large resident list through the web page is checked and stored in the background by
the worker (the plugin's ``run_due_work`` hook, driven here by calling ``engine.run_due``):
the page shows the rows done of the total while it waits, the operator can open other pages
meanwhile, and the check and the result are those of the synchronous flow.  Uploads are
removed once applied or discarded, stale ones after a day; another office's import is never
found."""

from __future__ import annotations

import io
import os
import re
import time

from simpul import engine
from simpul.plugins.socialization import import_jobs

from ..web.web_helpers import Browser, page_text
from .registry_data import build_csv, generate, seed_kelurahan


def _background(runtime):
    runtime.config.settings = {**(runtime.config.settings or {}), "socialization": {"background_import_kb": 0}}


def _upload(b, text, **fields):
    b.get("/socialization/residents/import")
    data = {"file": (io.BytesIO(text.encode()), "daftar.csv"), **fields}
    return b.post("/socialization/residents/import", data, content_type="multipart/form-data")


def _token(response):
    return re.search(r"/socialization/residents/import/([0-9a-f]{24})", response.headers["Location"]).group(1)


def test_a_large_list_shows_progress_then_the_check_and_the_result(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, bad, stored = build_csv(generate(5000, seed=31), bad_every=97)
    b = Browser(app)
    b.login("operator")
    sent = _upload(b, text)
    assert sent.status_code == 303
    token = _token(sent)
    waiting = b.get(f"/socialization/residents/import/{token}")
    assert waiting.status_code == 200
    html = waiting.get_data(as_text=True)
    assert 'http-equiv="refresh"' in html and "<script" not in html.split("</header>")[-1].split("<footer")[0]
    assert "Menunggu giliran" in page_text(waiting) and "0 dari 5000 baris" in page_text(waiting)
    assert b.get("/socialization/residents").status_code == 200  # other pages meanwhile

    seen = []
    real = import_jobs._set

    def spy(rt, job_id, **values):
        real(rt, job_id, **values)
        if values.get("status") is None and "rows_done" in values:
            seen.append(page_text(b.get(f"/socialization/residents/import/{token}")))

    import_jobs._set = spy
    try:
        counts = engine.run_due(runtime)
    finally:
        import_jobs._set = real
    assert counts["plugin_work"] == 5000
    assert seen and "1000 dari 5000 baris" in seen[0] and "Memeriksa" in seen[0]

    preview = b.get(f"/socialization/residents/import/{token}")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    errors = re.findall(r'<tr><td class="num">(\d+)</td>', html.split('id="import-errors"')[1].split("</table>")[0])
    assert sorted(int(r) for r in errors) == sorted(bad)
    assert f'id="diff-new">{len(stored)}<' in html
    assert engine.run_due(runtime)["plugin_work"] == 0  # nothing queued: nothing stored yet
    with runtime.read() as s:
        from simpul.plugins.socialization.models import Resident

        assert s.query(Resident).count() == 0

    confirm = b.post(f"/socialization/residents/import/{token}", {"step": "apply"})
    assert confirm.status_code == 303
    assert "Menunggu giliran" in page_text(b.get(f"/socialization/residents/import/{token}"))
    engine.run_due(runtime)
    done = b.get(f"/socialization/residents/import/{token}")
    assert done.status_code == 200 and f"Tersimpan: {len(stored)} baru" in page_text(done)
    assert f"{len(bad)} baris tidak disimpan" in page_text(done)
    assert not list(import_jobs.uploads_dir(runtime).glob(f"{token}.*")), "the upload stayed after the import"
    with runtime.read() as s:
        assert s.query(Resident).count() == len(stored)


def test_stop_on_error_stores_nothing_in_the_background(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, bad, _stored = build_csv(generate(300, seed=32), bad_every=50)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text, stop_on_error="1"))
    engine.run_due(runtime)
    preview = b.get(f"/socialization/residents/import/{token}")
    assert "Pilih berkas lain" in page_text(preview) and 'id="confirm-import"' not in preview.get_data(as_text=True)
    b.post(f"/socialization/residents/import/{token}", {"step": "apply", "stop_on_error": "1"})
    engine.run_due(runtime)
    result = b.get(f"/socialization/residents/import/{token}")
    assert result.status_code == 422 and "Tidak ada yang diimpor" in page_text(result)


def test_discarded_and_stale_uploads_are_removed(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, _bad, _stored = build_csv(generate(50, seed=33), bad_every=0)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    engine.run_due(runtime)
    folder = import_jobs.uploads_dir(runtime)
    assert list(folder.glob(f"{token}.*"))
    gone = b.post(f"/socialization/residents/import/{token}", {"step": "discard"})
    assert gone.status_code == 303 and not list(folder.glob(f"{token}.*"))
    assert b.get(f"/socialization/residents/import/{token}").status_code == 404

    stale = _token(_upload(b, text))
    fresh = _token(_upload(b, text))
    day_ago = time.time() - 25 * 3600
    for path in folder.glob(f"{stale}.*"):
        os.utime(path, (day_ago, day_ago))
    engine.run_due(runtime)
    assert not list(folder.glob(f"{stale}.*")) and list(folder.glob(f"{fresh}.*"))
    assert b.get(f"/socialization/residents/import/{stale}").status_code == 404


def test_another_office_never_sees_a_background_import(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, _bad, _stored = build_csv(generate(40, seed=34), bad_every=0)
    ours = Browser(app)
    ours.login("operator")
    token = _token(_upload(ours, text))
    theirs = Browser(app)
    theirs.login("other")
    assert theirs.get(f"/socialization/residents/import/{token}").status_code == 404
    engine.run_due(runtime)
    assert theirs.get(f"/socialization/residents/import/{token}").status_code == 404
    assert theirs.post(f"/socialization/residents/import/{token}", {"step": "apply"}).status_code == 404
    assert theirs.post(f"/socialization/residents/import/{token}", {"step": "discard"}).status_code == 404
    assert ours.get(f"/socialization/residents/import/{token}").status_code == 200
    assert ours.get("/socialization/residents/import/nothex").status_code == 404
