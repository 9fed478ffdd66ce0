"""A large resident list through the web page is checked and stored in the background by
the worker (the plugin's ``run_due_work`` hook, driven here by calling ``engine.run_due``):
the page shows the rows done of the total while it waits, the operator can open other pages
meanwhile, and the check and the result are those of the synchronous flow.  Uploads are
removed once applied or discarded, stale ones after a day; another office's import is never
found."""

from __future__ import annotations

import csv
import io
import os
import re
import time
from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from simpul import engine
from simpul.engine.models import OutboxMessage
from simpul.plugins.socialization import import_jobs
from simpul.plugins.socialization.models import ImportJob, Resident, StagedRow

from ..conftest import OFFICE
from ..web.web_helpers import Browser, page_text
from .registry_data import KELURAHAN, build_csv, generate, seed_kelurahan


def _background(runtime):
    runtime.config.settings = {**(runtime.config.settings or {}), "socialization": {"background_import_kb": 0}}


def _upload(b, text, **fields):
    b.get("/socialization/residents/import")
    data = {"file": (io.BytesIO(text.encode()), "daftar.csv"), **fields}
    return b.post("/socialization/residents/import", data, content_type="multipart/form-data")


def _token(response):
    return re.search(r"/socialization/residents/import/([0-9a-f]{24})", response.headers["Location"]).group(1)


@pytest.fixture
def slices(monkeypatch):
    """Slices of 1000 rows, never cut short by the time budget (a loaded machine)."""
    monkeypatch.setattr(import_jobs, "SLICE_ROWS", 1000)
    monkeypatch.setattr(import_jobs, "SLICE_SECONDS", 3600.0)


def drain(runtime, limit=500) -> int:
    """Worker passes until no import work is left (as the worker's loop does); the count."""
    for passes in range(1, limit):
        if not engine.run_due(runtime)["plugin_work"]:
            return passes
    raise AssertionError("the import never finished")


def _residents(runtime) -> int:
    with runtime.read() as s:
        return s.query(Resident).count()


def test_a_large_list_shows_progress_then_the_check_and_the_result(app, runtime, slices):
    seed_kelurahan(runtime)
    _background(runtime)
    text, bad, stored = build_csv(generate(5000, seed=31), bad_every=97)
    b = Browser(app)
    b.login("operator")
    sent = _upload(b, text)
    assert sent.status_code == 303
    token = _token(sent)
    page = f"/socialization/residents/import/{token}"
    waiting = b.get(page)
    assert waiting.status_code == 200
    html = waiting.get_data(as_text=True)
    assert 'http-equiv="refresh"' in html and "<script" not in html.split("</header>")[-1].split("<footer")[0]
    assert "Menunggu giliran" in page_text(waiting) and "0 dari 5000 baris" in page_text(waiting)
    assert b.get("/socialization/residents").status_code == 200  # other pages meanwhile

    engine.run_due(runtime)  # the staged rows of an earlier run are cleared
    assert engine.run_due(runtime)["plugin_work"] == 1000  # one slice, and more is due
    checking = page_text(b.get(page))
    assert "1000 dari 5000 baris" in checking and "Memeriksa" in checking
    drain(runtime)

    preview = b.get(page)
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    errors = re.findall(r'<tr><td class="num">(\d+)</td>', html.split('id="import-errors"')[1].split("</table>")[0])
    assert sorted(int(r) for r in errors) == sorted(bad)
    assert f'id="diff-new">{len(stored)}<' in html
    assert engine.run_due(runtime)["plugin_work"] == 0  # nothing queued: nothing stored yet
    assert _residents(runtime) == 0

    confirm = b.post(page, {"step": "apply"})
    assert confirm.status_code == 303
    queued = page_text(b.get(page))
    assert "Menunggu giliran" in queued and "Menyimpan" in queued
    engine.run_due(runtime)
    engine.run_due(runtime)
    engine.run_due(runtime)
    storing = page_text(b.get(page))
    assert "2000 dari 5000 baris disimpan" in storing, storing
    assert "bersama-sama" in storing  # they join the registry together: none is there yet
    assert _residents(runtime) == 0
    drain(runtime)
    done = b.get(page)
    assert done.status_code == 200 and f"Tersimpan: {len(stored)} baru" in page_text(done), page_text(done)[-300:]
    assert f"{len(bad)} baris tidak disimpan" in page_text(done)
    assert not list(import_jobs.uploads_dir(runtime).glob(f"{token}.*")), "the upload stayed after the import"
    assert _residents(runtime) == len(stored)
    with runtime.read() as s:
        assert s.query(StagedRow).count() == 0, "the staged rows stayed after the import"


def test_the_store_step_counts_rows_in_english(app, runtime, slices):
    seed_kelurahan(runtime)
    _background(runtime)
    text, _bad, _stored = build_csv(generate(2500, seed=35), bad_every=0)
    b = Browser(app)
    b.login("operator")
    b.language("en")
    token = _token(_upload(b, text))
    page = f"/socialization/residents/import/{token}"
    drain(runtime)
    b.post(page, {"step": "apply"})
    engine.run_due(runtime)
    engine.run_due(runtime)
    assert "1000 of 2500 rows stored" in page_text(b.get(page))
    engine.run_due(runtime)
    engine.run_due(runtime)
    assert "2500 of 2500 rows stored" in page_text(b.get(page))
    assert "Every row is checked; writing the residents." in page_text(b.get(page))
    assert _residents(runtime) == 0
    drain(runtime)
    assert "Stored: 2500 new" in page_text(b.get(page))


def test_the_worker_does_its_other_work_between_slices(app, runtime, slices):
    """A due outbox message and a small import queued behind a large one are handled while
    the large one is still going."""
    seed_kelurahan(runtime)
    _background(runtime)
    b = Browser(app)
    b.login("operator")
    big_text, _bad, big_stored = build_csv(generate(6000, seed=36), bad_every=0)
    big = _token(_upload(b, big_text))
    drain(runtime)
    b.post(f"/socialization/residents/import/{big}", {"step": "apply"})
    engine.run_due(runtime)
    engine.run_due(runtime)
    assert _job(runtime, big).status == "running"

    with runtime.transaction() as uow:
        uow.session.add(
            OutboxMessage(
                message_id=str(uuid4()),
                source_office=OFFICE,
                destination_office="nowhere",
                kind="message",
                payload={"name": "note"},
            )
        )
    small_people = generate(30, seed=37, district="640206", kelurahan=KELURAHAN[:1])
    small = _token(_upload(b, build_csv(small_people, bad_every=0)[0]))
    counts = engine.run_due(runtime)
    assert counts["unsent"] == 1  # tried at once (no route to "nowhere"), not after the import
    assert counts["plugin_work"] > 0  # the worker is told to pass again at once
    for _ in range(5):
        engine.run_due(runtime)
    assert _job(runtime, small).status == "checked"  # the small list took its turns
    assert _job(runtime, big).status == "running" and _residents(runtime) == 0
    drain(runtime)
    assert _job(runtime, big).status == "applied" and _residents(runtime) == len(big_stored)


def test_a_slice_ends_at_its_time_budget(app, runtime, monkeypatch):
    seed_kelurahan(runtime)
    _background(runtime)
    monkeypatch.setattr(import_jobs, "SLICE_SECONDS", 0.0)
    text, _bad, _stored = build_csv(generate(1000, seed=38), bad_every=0)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    engine.run_due(runtime)  # clear
    assert engine.run_due(runtime)["plugin_work"] == 200  # the budget is looked at every 200 rows
    assert "200 dari 1000 baris" in page_text(b.get(f"/socialization/residents/import/{token}"))


class Killed(BaseException):
    """The worker's process dying in the middle of a slice (not an error it could handle)."""


def _later(monkeypatch, seconds):
    real = import_jobs._now
    monkeypatch.setattr(import_jobs, "_now", lambda: real() + timedelta(seconds=seconds))


def test_a_worker_killed_mid_import_stores_nothing_and_the_import_resumes(app, runtime, slices, monkeypatch):
    seed_kelurahan(runtime)
    _background(runtime)
    text, bad, stored = build_csv(generate(4000, seed=39), bad_every=101, duplicates=(5, 2500))
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    page = f"/socialization/residents/import/{token}"
    drain(runtime)
    b.post(page, {"step": "apply"})
    engine.run_due(runtime)
    engine.run_due(runtime)  # 1000 rows staged

    real_stage = import_jobs._stage

    def dying(*args):
        real_stage(*args)
        raise Killed

    monkeypatch.setattr(import_jobs, "_stage", dying)
    with pytest.raises(Killed):
        engine.run_due(runtime)
    monkeypatch.setattr(import_jobs, "_stage", real_stage)
    assert _residents(runtime) == 0
    assert "1000 dari 4002 baris disimpan" in page_text(b.get(page))  # the slice left nothing behind
    assert engine.run_due(runtime)["plugin_work"] == 0  # its lease has not run out yet
    _later(monkeypatch, import_jobs.LEASE.total_seconds() + 1)
    assert engine.run_due(runtime)["plugin_work"] == 1000  # taken over where it stood
    resumed = page_text(b.get(page))
    assert "2000 dari 4002 baris disimpan" in resumed and "terhenti" in resumed

    import simpul.plugins.socialization.coverage as coverage_module

    def dying_recount(*args):
        raise Killed

    while _job(runtime, token).state["phase"] != "switch":
        engine.run_due(runtime)
    real_recount = coverage_module.rebuild_cells
    monkeypatch.setattr(coverage_module, "rebuild_cells", dying_recount)  # after the inserts
    with pytest.raises(Killed):
        engine.run_due(runtime)
    monkeypatch.setattr(coverage_module, "rebuild_cells", real_recount)
    assert _residents(runtime) == 0, "a switch killed half-way stored rows"
    _later(monkeypatch, import_jobs.LEASE.total_seconds() + 1)
    drain(runtime)
    done = page_text(b.get(page))
    assert f"Tersimpan: {len(stored)} baru" in done, done  # each once: the rows repeated are errors
    assert _residents(runtime) == len(stored)
    assert f"{len(bad)} baris tidak disimpan" in done


def test_an_import_interrupted_again_and_again_is_given_up_clearly(app, runtime, slices, monkeypatch):
    seed_kelurahan(runtime)
    _background(runtime)
    text, _bad, _stored = build_csv(generate(1500, seed=40), bad_every=0)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    page = f"/socialization/residents/import/{token}"
    drain(runtime)
    b.post(page, {"step": "apply"})

    def dying(*args):
        raise Killed

    monkeypatch.setattr(import_jobs, "_stage", dying)
    engine.run_due(runtime)  # clear
    for k in range(import_jobs.MAX_INTERRUPTIONS + 1):
        _later(monkeypatch, (k + 1) * (import_jobs.LEASE.total_seconds() + 1))
        with pytest.raises(Killed):
            engine.run_due(runtime)
    _later(monkeypatch, 99 * import_jobs.LEASE.total_seconds())
    engine.run_due(runtime)
    given_up = b.get(page)
    assert given_up.status_code == 422
    assert "terhenti 4 kali berturut-turut" in page_text(given_up) and "tidak ada yang disimpan" in page_text(given_up)
    assert _residents(runtime) == 0


def test_the_background_import_agrees_with_the_synchronous_one(app, runtime, monkeypatch):
    """A re-import with new, changed, gone, revived and invalid rows and a NIK twice across
    slices: the background check and store give the synchronous plan's figures."""
    from simpul.plugins.socialization.registry import apply_import, plan_import

    seed_kelurahan(runtime)
    _background(runtime)
    monkeypatch.setattr(import_jobs, "SLICE_ROWS", 37)
    monkeypatch.setattr(import_jobs, "SLICE_SECONDS", 3600.0)
    people = generate(600, seed=41)
    first, _bad, _stored = build_csv(people[:500], bad_every=0)
    apply_import(runtime, plan_import(runtime, first.encode(), "a.csv", OFFICE), OFFICE, "operator")
    second_people = [dict(p) for p in people[50:600]]  # 0-49 gone, 500-599 new
    for p in second_people[:40]:
        p["address"] = p["address"] + " B"  # changed
    first_again, _b, _s = build_csv(people[:10], bad_every=0)
    text, bad, _stored = build_csv(second_people, bad_every=23, duplicates=(3, 300))
    plan = plan_import(runtime, text.encode(), "b.csv", OFFICE)
    assert plan.new and plan.changed and plan.gone and plan.errors

    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    page = f"/socialization/residents/import/{token}"
    drain(runtime)
    html = b.get(page).get_data(as_text=True)
    for key, n in (("new", len(plan.new)), ("changed", len(plan.changed)), ("gone", len(plan.gone))):
        assert f'id="diff-{key}">{n}<' in html, key
    errors = re.findall(r'<tr><td class="num">(\d+)</td>', html.split('id="import-errors"')[1].split("</table>")[0])
    assert [int(r) for r in errors] == [e.row for e in plan.errors]
    b.post(page, {"step": "apply"})
    drain(runtime)
    result = _job(runtime, token).result
    assert result == {
        "imported": len(plan.new),
        "updated": len(plan.changed),
        "unchanged": plan.unchanged,
        "gone": len(plan.gone),
        "errors": len(plan.errors),
    }
    after = plan_import(runtime, text.encode(), "b.csv", OFFICE)
    assert not after.new and not after.changed and not after.gone  # stored just as the file says

    # the gone ones come back with the first list: revived, not new
    revive = _token(_upload(b, first_again))
    drain(runtime)
    b.post(f"/socialization/residents/import/{revive}", {"step": "apply"})
    drain(runtime)
    assert _job(runtime, revive).result["updated"] == 10 and _job(runtime, revive).result["imported"] == 0


def test_an_xlsx_list_in_slices_resumes_at_its_row(app, runtime, monkeypatch):
    from openpyxl import Workbook

    seed_kelurahan(runtime)
    _background(runtime)
    monkeypatch.setattr(import_jobs, "SLICE_ROWS", 70)
    monkeypatch.setattr(import_jobs, "SLICE_SECONDS", 3600.0)
    text, bad, stored = build_csv(generate(300, seed=42), bad_every=31)
    book = Workbook()
    sheet = book.active
    for i, line in enumerate(csv.reader(io.StringIO(text), delimiter=";")):
        sheet.append(line)
        if i == 100:
            sheet.append([])  # an empty row counts in the numbering
    buffer = io.BytesIO()
    book.save(buffer)
    b = Browser(app)
    b.login("operator")
    b.get("/socialization/residents/import")
    sent = b.post(
        "/socialization/residents/import",
        {"file": (io.BytesIO(buffer.getvalue()), "daftar.xlsx")},
        content_type="multipart/form-data",
    )
    token = _token(sent)
    drain(runtime)
    html = b.get(f"/socialization/residents/import/{token}").get_data(as_text=True)
    errors = re.findall(r'<tr><td class="num">(\d+)</td>', html.split('id="import-errors"')[1].split("</table>")[0])
    expected = sorted(r if r <= 101 else r + 1 for r in bad)
    assert sorted(int(r) for r in errors) == expected
    assert f'id="diff-new">{len(stored)}<' in html


def _job(runtime, token):
    with runtime.read() as s:
        return s.scalar(select(ImportJob).where(ImportJob.token == token))


def test_stop_on_error_stores_nothing_in_the_background(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, bad, _stored = build_csv(generate(300, seed=32), bad_every=50)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text, stop_on_error="1"))
    drain(runtime)
    preview = b.get(f"/socialization/residents/import/{token}")
    assert "Pilih berkas lain" in page_text(preview) and 'id="confirm-import"' not in preview.get_data(as_text=True)
    b.post(f"/socialization/residents/import/{token}", {"step": "apply", "stop_on_error": "1"})
    drain(runtime)
    result = b.get(f"/socialization/residents/import/{token}")
    assert result.status_code == 422 and "Tidak ada yang diimpor" in page_text(result)


def test_discarded_and_stale_uploads_are_removed(app, runtime):
    seed_kelurahan(runtime)
    _background(runtime)
    text, _bad, _stored = build_csv(generate(50, seed=33), bad_every=0)
    b = Browser(app)
    b.login("operator")
    token = _token(_upload(b, text))
    drain(runtime)
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
    drain(runtime)
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
    drain(runtime)
    assert theirs.get(f"/socialization/residents/import/{token}").status_code == 404
    assert theirs.post(f"/socialization/residents/import/{token}", {"step": "apply"}).status_code == 404
    assert theirs.post(f"/socialization/residents/import/{token}", {"step": "discard"}).status_code == 404
    assert ours.get(f"/socialization/residents/import/{token}").status_code == 200
    assert ours.get("/socialization/residents/import/nothex").status_code == 404
