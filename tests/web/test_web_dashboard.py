"""The camat's pages: the dashboard, the cases behind a figure, the recap downloads and the
supervisor's hands, through the web app as a browser uses them."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import time_machine

from simpul import engine

from ..flows import actor
from ..test_dashboard import MONDAY, seed
from .web_helpers import page_text


@pytest.fixture
def seeded_app(app, runtime):
    with time_machine.travel(MONDAY, tick=False) as clock:
        counted, cases = seed(runtime, clock)
        clock.move_to(MONDAY + timedelta(days=13, hours=8))
        yield app, counted, cases


def test_camat_follows_the_bottleneck_to_its_cases(seeded_app, browser):
    _app, _counted, cases = seeded_app
    browser.login("camat")
    page = browser.get("/dashboard?since=2026-03-02&until=2026-03-15")
    assert page.status_code == 200
    text = page_text(page)
    assert "Hambatan:" in text and "Menunggu kartu dicetak" in text
    link = re.search(r'id="bottleneck-640205" href="([^"]+)"', page.get_data(as_text=True)).group(1)
    listed = page_text(browser.get(link.replace("&amp;", "&")))
    assert cases["c1"] in listed and cases["c2"] not in listed and cases["c3"] not in listed


def test_dashboard_is_for_the_camat_and_bad_dates_are_a_clear_error(seeded_app, browser):
    browser.login("operator")
    assert browser.get("/dashboard").status_code == 403
    browser.logout()
    browser.login("camat")
    bad = browser.get("/dashboard?since=2026-13-45")
    assert bad.status_code == 400
    assert browser.get("/dashboard?since=2026-03-10&until=2026-03-01").status_code == 400
    assert browser.get("/cases?milestone=started&since=kemarin").status_code == 400


def test_rejected_case_is_distinct_in_the_list_and_the_filter(seeded_app, browser):
    _app, _counted, cases = seeded_app
    browser.login("camat")
    listed = page_text(browser.get("/cases?outcome=rejected"))
    assert cases["c2"] in listed and cases["c1"] not in listed and "Ditolak" in listed
    assert "KTP-el diserahkan" in page_text(browser.get(f"/cases/{cases['c1']}"))


def test_recap_downloads_hold_the_same_numbers(seeded_app, browser):
    from openpyxl import load_workbook

    browser.login("camat")
    page = browser.get("/reports/monthly?month=2026-03")
    assert page.status_code == 200 and "Sangasanga Muara" in page_text(page)
    xlsx = browser.get("/reports/monthly?month=2026-03&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    total = next(r for r in rows if r and r[0] == "Jumlah")
    assert total[1] == 5  # five applications in March
    pdf = browser.get("/reports/monthly?month=2026-03&format=pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert browser.get("/reports/monthly?month=2026-3x").status_code == 400
    assert browser.get("/reports/monthly?month=2026-03&format=doc").status_code == 400


def test_release_and_reopen_from_the_web(seeded_app, browser, runtime):
    _app, _counted, cases = seeded_app
    browser.login("camat")
    page = browser.get("/supervision")
    assert cases["claimed_task"] in page.get_data(as_text=True)
    held = re.search(
        r"<tr[^>]*>(?:(?!</tr>).)*" + cases["claimed_task"] + r"(?:(?!</tr>).)*</tr>", page.get_data(as_text=True), re.S
    )
    assert held and re.search(r'overdue-badge">\d+ hari<', held.group(0))  # held, nothing done for days
    refused = browser.post(f"/tasks/{cases['claimed_task']}/release", {"reason": " ", "next": "/supervision"})
    assert refused.status_code == 302
    assert engine.get_task(runtime, cases["claimed_task"], actor(runtime, "camat"))["assignee"] == "operator2"
    done = browser.post(f"/tasks/{cases['claimed_task']}/release", {"reason": "sakit", "next": "/supervision"})
    assert done.status_code == 302
    assert engine.get_task(runtime, cases["claimed_task"], actor(runtime, "camat"))["assignee"] is None
    browser.get(f"/cases/{cases['c2']}")
    reopened = browser.post(f"/cases/{cases['c2']}/reopen", {"reason": "alamat benar"})
    assert reopened.status_code == 302
    text = page_text(browser.get(reopened.headers["Location"]))
    assert "Kasus dibuka kembali" in text and "alamat benar" in text


def test_regency_sees_its_kecamatan_side_by_side(seeded_app, browser):
    browser.login("disdukcapil")
    text = page_text(browser.get("/dashboard?since=2026-03-02&until=2026-03-15"))
    assert "Kecamatan Sangasanga" in text and "Kecamatan Muara Jawa" in text


def test_api_gives_outcomes_figures_recap_and_the_supervisors_hands(seeded_app, token_for, runtime):
    app, counted, cases = seeded_app
    client = app.test_client()
    camat, operator = token_for("camat"), token_for("operator")
    listed = client.get("/api/v1/cases?outcome=rejected", headers=camat).get_json()
    assert [c["receipt"] for c in listed["items"]] == counted["rejected"]
    assert listed["items"][0]["outcome"] == "rejected"
    board = client.get("/api/v1/dashboard?since=2026-03-02&until=2026-03-15", headers=camat)
    assert board.status_code == 200
    assert board.get_json()["offices"][0]["flow"]["totals"]["started"] == 5
    assert client.get("/api/v1/dashboard", headers=operator).status_code == 403
    assert client.get("/api/v1/dashboard?since=03/02/2026", headers=camat).status_code == 422
    recap_json = client.get("/api/v1/reports/monthly?month=2026-03", headers=camat).get_json()
    assert recap_json["applications"] == 5 and recap_json["handed_over"] == 1
    release = client.post(f"/api/v1/supervise/tasks/{cases['claimed_task']}/release", json={}, headers=camat)
    assert release.status_code == 422  # a reason is required
    release = client.post(
        f"/api/v1/supervise/tasks/{cases['claimed_task']}/release", json={"reason": "sakit"}, headers=operator
    )
    assert release.status_code == 403
    release = client.post(
        f"/api/v1/supervise/tasks/{cases['claimed_task']}/release", json={"reason": "sakit"}, headers=camat
    )
    assert release.status_code == 200 and release.get_json()["assignee"] is None
    reopen = client.post(f"/api/v1/supervise/cases/{cases['c1']}/reopen", json={"reason": "x"}, headers=camat)
    assert reopen.status_code == 409
    reopen = client.post(f"/api/v1/supervise/cases/{cases['c2']}/reopen", json={"reason": "keliru"}, headers=camat)
    assert reopen.status_code == 200 and reopen.get_json()["status"] == "active"


def test_the_monthly_recap_defaults_to_the_offices_month(app, browser):
    """At 17:30 UTC on 31 March it is 1 April, 01:30, in the office (WITA): April's recap."""
    with time_machine.travel("2026-03-31T17:30:00Z", tick=True):
        browser.login("camat")
        xlsx = browser.get("/reports/monthly?format=xlsx")
    assert xlsx.status_code == 200
    assert 'filename="laporan-bulanan-640205-2026-04.xlsx"' in xlsx.headers["Content-Disposition"]


def test_the_regency_opens_the_monthly_recap_of_its_first_kecamatan_and_may_choose_another(app, browser):
    """The regency's own office has no counter of its own: "Laporan bulanan" from its dashboard
    shows its first kecamatan, with the others to choose from, not a 404."""
    browser.login("disdukcapil")
    page = browser.get("/reports/monthly?month=2026-03")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert '<span class="mono">640205</span>' in body
    assert re.search(r'<select id="recap-office" name="office">.*value="640205"', body, re.S)
    assert browser.get("/reports/monthly?month=2026-03&office=999999").status_code == 404
