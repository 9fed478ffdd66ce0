"""The inbox: views with count badges, the columns a clerk reads, filters, sorting, paging,
claiming, and office isolation (enforced by the engine's queries, visible here as 404s)."""

from __future__ import annotations

import html as html_lib
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from simpul.engine.models import HumanTask, utcnow

from ..flows import DOCS_OK, complete, start_new_card
from .web_helpers import page_text

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)


def rows(response) -> list[str]:
    html = response.get_data(as_text=True)
    return re.findall(r'<tr class="[^"]*" data-task="([^"]+)"', html)


def link(response, rel) -> str:
    found = re.search(r'<a rel="' + rel + r'" href="([^"]+)"', response.get_data(as_text=True))
    return html_lib.unescape(found.group(1))


def badge(response, view) -> int:
    html = response.get_data(as_text=True)
    match = re.search(rf'id="tab-{view}">.*?<span class="count"[^>]*>(\d+)</span>', html, re.S)
    return int(match.group(1)) if match else None


def test_views_show_what_waits_with_count_badges(runtime, make_browser):
    for n in range(1, 4):
        start_new_card(runtime, n)
    operator, verifier, camat = make_browser(), make_browser(), make_browser()
    operator.login("operator")
    page = operator.get("/inbox")  # nothing claimed yet: the default view is "My roles"
    assert badge(page, "mine") == 0 and badge(page, "roles") == 3 and badge(page, "office") is None
    assert len(rows(page)) == 3
    task_id = rows(page)[0]
    claimed = operator.post(f"/tasks/{task_id}/claim", {"version": "1", "next": "/inbox?view=roles"})
    assert claimed.status_code == 302
    page = operator.get("/inbox?view=roles")
    assert "Anda mengambil langkah Pemeriksaan berkas" in page_text(page)
    assert badge(page, "mine") == 1 and badge(page, "roles") == 2 and task_id not in rows(page)
    assert operator.get("/inbox").status_code == 200 and rows(operator.last) == [task_id]  # default: Mine
    assert operator.get("/inbox?view=office").status_code == 403

    verifier.login("verifier")
    assert badge(verifier.get("/inbox?view=roles"), "roles") == 0
    camat.login("camat")
    page = camat.get("/inbox?view=office")
    assert page.status_code == 200 and badge(page, "office") == 3 and len(rows(page)) == 3
    assert "Siti" in page_text(page)  # the assignee's name


def test_columns_mask_the_nik_and_mark_overdue_steps(runtime, browser):
    started = start_new_card(runtime, 7)
    with runtime.transaction() as uow:
        uow.session.execute(update(HumanTask).values(due_at=utcnow() - timedelta(hours=2)))
    browser.login("operator")
    text = page_text(browser.get("/inbox?view=roles"))
    assert started["receipt"] in text and "Warga 7" in text
    assert "••••••••••••0007" in text and "6402054507000007" not in text
    assert "Perekaman e-KTP Baru" in text and "Pemeriksaan berkas" in text
    assert "Terlambat" in text and "WITA" in text
    html = browser.last.get_data(as_text=True)
    assert 'class="overdue"' in html


def test_filters_search_sort_and_paging(runtime, browser):
    receipts = [start_new_card(runtime, n)["receipt"] for n in range(1, 13)]
    complete(runtime, receipts[0], "operator", DOCS_OK)  # case 1 moves on to the verifier
    with runtime.transaction() as uow:  # case 5 is overdue; due dates ascend with n otherwise
        for i, task in enumerate(uow.session.query(HumanTask).order_by(HumanTask.created_at)):
            task.due_at = utcnow() + timedelta(days=i + 1)
        case5 = uow.session.query(HumanTask).join(HumanTask.case).filter_by(receipt=receipts[4]).one()
        case5.due_at = utcnow() - timedelta(days=1)
    browser.login("camat")
    base = "/inbox?view=office"
    all_rows = rows(browser.get(base))
    assert len(all_rows) == 12
    assert receipts[4] in page_text(browser.last).split("Tanda terima")[1].split("Warga")[0]  # overdue first

    assert len(rows(browser.get(base + "&nik=0003"))) == 1
    assert "Warga 3" in page_text(browser.last)
    assert len(rows(browser.get(base + "&name=warga%2011"))) == 1
    assert len(rows(browser.get(base + f"&receipt={receipts[9]}"))) == 1
    assert len(rows(browser.get(base + "&q=Warga%201"))) == 4  # 1, 10, 11, 12
    assert len(rows(browser.get(base + "&overdue=1"))) == 1
    assert len(rows(browser.get(base + "&step=Task_residence_verification"))) == 1
    assert len(rows(browser.get(base + "&procedure=ektp_renewal"))) == 0
    assert "Tidak ada tugas yang sesuai dengan saringan ini." in page_text(browser.last)
    assert len(rows(browser.get(base + "&procedure=ektp_new_card"))) == 12

    first_page = browser.get(base + "&per_page=10")
    assert len(rows(first_page)) == 10 and "Halaman 1 dari 2" in page_text(first_page)
    assert 'rel="prev"' not in first_page.get_data(as_text=True)
    second = browser.get(link(first_page, "next"))
    assert len(rows(second)) == 2 and not set(rows(second)) & set(rows(first_page))
    assert "Halaman 2 dari 2" in page_text(second) and 'rel="next"' not in second.get_data(as_text=True)
    back = browser.get(link(second, "prev"))
    assert rows(back) == rows(first_page) and "Halaman 1 dari 2" in page_text(back)
    assert browser.get(base + "&per_page=10&page=2").status_code == 400  # an old bookmark names no page
    assert browser.get(base + "&after=not-a-cursor").status_code == 400
    by_name = browser.get(base + "&sort=name")
    names = re.findall(r"Warga \d+", page_text(by_name))
    assert names == sorted(names)


def test_claim_release_and_someone_else_s_claim(runtime, make_browser):
    start_new_card(runtime, 1)
    siti, andi = make_browser(), make_browser()
    siti.login("operator")
    andi.login("operator2")
    task_id = rows(siti.get("/inbox?view=roles"))[0]
    andi.get("/inbox?view=roles")
    siti.post(f"/tasks/{task_id}/claim", {"version": "1"})
    late = andi.post(f"/tasks/{task_id}/claim", {"version": "1", "next": "/inbox?view=roles"})
    assert late.status_code == 302
    assert "Tugas ini sudah diambil oleh Siti." in page_text(andi.get(late.headers["Location"]))
    siti.get("/inbox?view=mine")
    released = siti.post(f"/tasks/{task_id}/unclaim", {"version": "2", "next": "/inbox?view=mine"})
    assert "Anda melepas langkah" in page_text(siti.get(released.headers["Location"]))
    assert rows(siti.last) == []
    assert task_id in rows(andi.get("/inbox?view=roles"))


def test_another_office_sees_nothing_and_cannot_open_or_act(runtime, make_browser, caplog):
    receipt = start_new_card(runtime, 1)["receipt"]
    owner = make_browser()
    owner.login("operator")
    task_id = rows(owner.get("/inbox?view=roles"))[0]
    stranger = make_browser()
    stranger.login("other")  # operator, verifier and supervisor -- of Kecamatan Muara Jawa
    for view in ("mine", "roles", "office"):
        assert rows(stranger.get(f"/inbox?view={view}")) == []
    assert rows(stranger.get(f"/inbox?view=office&receipt={receipt}")) == []
    caplog.set_level(logging.WARNING, logger="simpul.security")
    assert stranger.get(f"/cases/{receipt}").status_code == 404
    assert "Permohonan tidak ditemukan." in page_text(stranger.last)
    assert stranger.get(f"/tasks/{task_id}").status_code == 404
    assert stranger.post(f"/tasks/{task_id}/claim", {"version": "1"}).status_code == 404
    assert stranger.post(f"/tasks/{task_id}", {"version": "1", **{"documents_complete": "on"}}).status_code == 404
    assert stranger.get(f"/cases/{receipt}/diagram.json").status_code == 404
    assert stranger.post(f"/cases/{receipt}/comments", {"body": "halo"}).status_code == 404
    assert stranger.post(f"/cases/{receipt}/cancel", {"reason": "iseng"}).status_code == 404
    assert receipt not in page_text(stranger.get("/cases"))
    logged = [r.getMessage() for r in caplog.records if "office isolation" in r.getMessage()]
    assert len(logged) >= 5 and all("other" in m for m in logged)
    assert owner.get(f"/cases/{receipt}").status_code == 200  # untouched
