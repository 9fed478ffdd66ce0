"""The flags page is keyset-paged by NIK: every flag shows on exactly one page going
forwards, the same pages come back going backwards, the kind filter and "include resolved"
page the same way, and another office's flags never show on either database.  Rows are
written straight into the plugin's tables (a case-state row is what a case leaves), so a
few hundred flags cost no case runs."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from simpul.plugins.socialization.flags import BATCH, flags_page
from simpul.plugins.socialization.models import CaseState, Resident

from ..web.web_helpers import Browser

OURS, THEIRS = "640205", "640206"


def _seed(runtime, office, cases, twice, start=0):
    """``cases`` case residents on no list (not_in_registry) and ``twice`` NIKs on two lists
    (nik_twice), spread among them in NIK order."""
    now = datetime.now(UTC)
    spread = max(1, cases // max(twice, 1))
    with runtime.transaction() as uow:
        s = uow.session
        for i in range(cases):
            nik = f"6402{start + 2 * i:012d}"
            s.add(
                CaseState(office_code=office, nik=nik, state="recorded", receipt=f"R-{office}-{i}", case_name="Kasus")
            )
        for i in range(twice):
            nik = f"6402{start + 2 * i * spread + 1:012d}"
            for kel in ("6402052001", "6402052002"):
                s.add(
                    Resident(
                        office_code=office,
                        kelurahan_code=kel,
                        nik=nik,
                        name="Ganda",
                        sex="L",
                        birth_date=date(1990, 1, 1),
                        imported_at=now,
                        imported_by="test",
                    )
                )


def _walk(runtime, limit=50, **kw):
    pages, cursor = [], None
    while True:
        page = flags_page(runtime, OURS, after=cursor, limit=limit, **kw)
        pages.append(page)
        if page["next"] is None:
            return pages
        cursor = page["next"]


def test_pages_forwards_and_backwards_cover_every_flag_once(runtime):
    cases, twice = BATCH + 137, 60  # more case rows than one batch: the merge crosses batches
    _seed(runtime, OURS, cases, twice)
    _seed(runtime, THEIRS, 30, 10, start=10**6)
    pages = _walk(runtime)
    niks = [f["nik"] for p in pages for f in p["flags"]]
    assert len(niks) == cases + twice == len(set(niks))
    assert niks == sorted(niks)
    assert all(len(p["flags"]) == 50 for p in pages[:-1]) and 0 < len(pages[-1]["flags"]) <= 50
    assert pages[0]["prev"] is None and pages[-1]["next"] is None
    assert not any(n.startswith("6402001") for n in niks), "another office's flag"
    wide = _walk(runtime, limit=2 * BATCH)  # one page of more flags than one batch of NIKs
    assert [f["nik"] for p in wide for f in p["flags"]] == niks

    back, cursor = [], pages[-1]["prev"]
    while cursor is not None:
        page = flags_page(runtime, OURS, before=cursor, limit=50)
        back.append(page)
        cursor = page["prev"]
    assert [p["flags"] for p in reversed(back)] == [p["flags"] for p in pages[:-1]]

    only_twice = [f for p in _walk(runtime, kind="nik_twice") for f in p["flags"]]
    assert len(only_twice) == twice and {f["kind"] for f in only_twice} == {"nik_twice"}
    only_cases = [f for p in _walk(runtime, kind="not_in_registry") for f in p["flags"]]
    assert len(only_cases) == cases


def test_the_flags_page_links_pages_and_keeps_the_filter(app, runtime):
    _seed(runtime, OURS, 70, 40)
    _seed(runtime, THEIRS, 20, 0, start=10**6)
    b = Browser(app)
    b.login("verifier")
    seen, url = [], "/socialization/residents/flags"
    while url:
        html = b.get(url).get_data(as_text=True)
        seen += re.findall(r'data-kind="(\w+)"', html)
        nxt = re.search(r'href="([^"]+)" id="flags-next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    assert len(seen) == 110
    last = b.get("/socialization/residents/flags?kind=not_in_registry").get_data(as_text=True)
    assert last.count('class="flag"') == 50 and "kind=not_in_registry" in last.split('id="flags-next"')[0][-200:]
    assert b.get("/socialization/residents/flags?after=zz&before=1' or 1=1").status_code == 200

    other = Browser(app)
    other.login("other")
    theirs = other.get("/socialization/residents/flags").get_data(as_text=True)
    assert theirs.count('class="flag"') == 20 and 'id="flags-next"' not in theirs
