"""Campaigns and recording visits: a campaign built from a coverage filter has exactly the
residents of that filter; a visit starts cases for who came, and they show in coverage as
recorded and in the campaign's results."""

from __future__ import annotations

import json
from datetime import date

from simpul import engine

from ..flows import actor
from .registry_data import KELURAHAN, build_csv, expected_state, generate, seed_kelurahan
from .test_registry import cli as residents_cli


def run(rt, group, *args):
    from click.testing import CliRunner

    from simpul.plugins.socialization.campaigns_cli import campaigns, visits

    from .test_registry import _State

    command = {"campaigns": campaigns, "visits": visits}[group]
    return CliRunner().invoke(command, list(args), obj=_State(rt), catch_exceptions=False)


def test_a_campaign_targets_its_filter_and_a_visit_records_who_came(runtime, tmp_path):
    seed_kelurahan(runtime)
    people = generate(600, seed=41)
    text, _bad, stored = build_csv(people, bad_every=0)
    path = tmp_path / "k.csv"
    path.write_text(text)
    assert residents_cli(runtime, "import", str(path), "--as", "operator").exit_code == 0
    kel = KELURAHAN[0][0]
    rts = {"005", "006", "007", "008"}
    expected = {
        p["nik"]
        for p in stored
        if p["kelurahan"] == kel and p["rt"] in rts and expected_state(p, None) == "without_record"
    }
    made = run(
        runtime, "campaigns", "create", "--title", "Rekam RT 05-08", "--kelurahan", kel, "--rt", "05-08",
        "--from", date.today().isoformat(), "--until", date.today().isoformat(), "--media", "meeting,whatsapp",
        "--staff", "operator", "--json", "--as", "operator",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    campaign = json.loads(made.output)
    assert campaign["targets"] == len(expected) > 5
    shown = json.loads(
        run(runtime, "campaigns", "show", str(campaign["id"]), "--targets", "--json", "--as", "operator").output
    )
    masked = {t["nik"] for t in shown["target_list"]}
    assert masked == {engine.mask_nik(n) for n in expected}

    visit = json.loads(
        run(
            runtime, "visits", "create", "--campaign", str(campaign["id"]), "--place", "Balai RT 06",
            "--date", date.today().isoformat(), "--time", "09:00", "--json", "--as", "operator",
        ).output
    )  # fmt: skip
    assert len(visit["expected"]) == len(expected)
    came = [e["id"] for e in visit["expected"][:3]]
    attended = json.loads(
        run(runtime, "visits", "attend", str(visit["id"]), *map(str, came), "--json", "--as", "operator").output
    )
    assert all(a["receipt"] for a in attended), attended
    case = engine.get_case(runtime, attended[0]["receipt"], actor(runtime, "operator"))
    assert case["data"]["kelurahan"] == KELURAHAN[0][1]
    comments = engine.comments.list_comments(runtime, case["id"], actor(runtime, "operator"))
    assert any("Balai RT 06" in c["body"] for c in comments)

    results = json.loads(run(runtime, "campaigns", "show", str(campaign["id"]), "--json", "--as", "operator").output)
    assert results["results"] == {
        "targets": len(expected),
        "reached": 3,
        "recorded": 3,
        "carded": 0,
        "still_missing": len(expected) - 3,
    }
    assert results["visits"][0]["cases_started"] == 3
    coverage = json.loads(residents_cli(runtime, "coverage", "--kelurahan", kel, "--json", "--as", "operator").output)
    assert (
        coverage[0]["recorded"]
        == sum(1 for p in stored if p["kelurahan"] == kel and expected_state(p, None) == "carded") + 3
    )
    again = json.loads(
        run(runtime, "visits", "attend", str(visit["id"]), str(came[0]), "--json", "--as", "operator").output
    )
    assert again[0]["receipt"] == attended[0]["receipt"]  # marked once: no second case
    assert json.loads(run(runtime, "campaigns", "list", "--json", "--as", "other").output) == []
    assert json.loads(run(runtime, "visits", "list", "--json", "--as", "other").output) == []


def test_campaign_and_visit_pages_start_cases_for_who_came(app, runtime, tmp_path):
    import re

    from ..web.web_helpers import Browser, page_text

    seed_kelurahan(runtime)
    text, _bad, _stored = build_csv(generate(120, seed=43), bad_every=0)
    (tmp_path / "k.csv").write_text(text)
    residents_cli(runtime, "import", str(tmp_path / "k.csv"), "--as", "operator")
    b = Browser(app)
    b.login("operator")
    assert b.get("/socialization/campaigns").status_code == 200
    bad = b.post("/socialization/campaigns", {"title": "", "starts_on": "2026-01-02", "ends_on": "2026-01-01"})
    assert bad.status_code == 422
    made = b.post(
        "/socialization/campaigns",
        {"title": "Sekolah", "kelurahan": KELURAHAN[1][0], "states": "without_record", "media": "school",
         "starts_on": date.today().isoformat(), "ends_on": date.today().isoformat()},
    )  # fmt: skip
    assert made.status_code == 302
    campaign_page = b.get(made.headers["Location"])
    cid = int(made.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert "Sekolah" in page_text(campaign_page)
    visit = b.post(f"/socialization/campaigns/{cid}/visits", {"place": "SMA 1 Sangasanga", "visit_date": "2026-12-03"})
    assert visit.status_code == 302
    page = b.get(visit.headers["Location"])
    ids = re.findall(r'name="came" value="(\d+)"', page.get_data(as_text=True))
    assert ids and "••••" in page.get_data(as_text=True)
    done = b.post(visit.headers["Location"], {"came": ids[:2]})
    assert done.status_code == 302
    after = b.get(visit.headers["Location"]).get_data(as_text=True)
    assert len(re.findall(r'name="came" value="', after)) == len(ids) - 2
    resident = b.get(f"/socialization/residents/{ids[0]}")
    assert "Sekolah" in page_text(resident) and re.search(r"640205-\d{4}-\d+", page_text(resident))
    other = Browser(app)
    other.login("other")
    assert other.get(visit.headers["Location"]).status_code == 404
    assert other.get(f"/socialization/campaigns/{cid}").status_code == 404
