"""Mismatch flags between the registry and the cases, with the two values side by side, and
a verifier's resolution with a note (on the resident's timeline)."""

from __future__ import annotations

from ..flows import printed_case, receive_and_hand_over, resident, start_new_card
from ..web.web_helpers import Browser, page_text
from .registry_data import KELURAHAN, build_csv, generate, seed_kelurahan
from .test_registry import case_residents, cli


def _setup(runtime, tmp_path):
    seed_kelurahan(runtime)
    people = generate(200, seed=31)
    listed = {p["nik"]: p for p in case_residents()}
    nik = {n: resident(n)["nik"] for n in range(1, 6)}
    listed[nik[2]]["name"] = "Warga Dua"  # the case says "Warga 2"
    del listed[nik[3]]  # a case resident on no list
    listed[nik[4]]["has_ektp"] = True  # the list says carded; Simpul has only an open case
    text, _bad, _stored = build_csv(people + list(listed.values()), bad_every=0)
    (tmp_path / "k1.csv").write_text(text)
    twice = dict(people[0], kelurahan=KELURAHAN[1][0])
    (tmp_path / "k2.csv").write_text(build_csv([twice], bad_every=0)[0])
    assert cli(runtime, "import", str(tmp_path / "k1.csv"), "--as", "operator").exit_code == 0
    second = cli(runtime, "import", str(tmp_path / "k2.csv"), "--kelurahan", KELURAHAN[1][0], "--as", "operator")
    assert second.exit_code == 0
    for n in (1, 2, 3, 4):
        start_new_card(runtime, n)
    receive_and_hand_over(runtime, printed_case(runtime, 5))  # the list says no card
    return nik, people[0]["nik"]


def test_flags_match_the_deliberate_mismatches_and_resolve_with_a_note(runtime, app, tmp_path):
    from simpul.plugins.socialization.flags import flags_with_resolutions

    nik, twice = _setup(runtime, tmp_path)
    flags = flags_with_resolutions(runtime, "640205")
    assert {(f["kind"], f["nik"]) for f in flags} == {
        ("nik_twice", twice),
        ("data_differs", nik[2]),
        ("not_in_registry", nik[3]),
        ("carded_registry_only", nik[4]),
        ("carded_simpul_only", nik[5]),
    }
    differs = next(f for f in flags if f["kind"] == "data_differs")
    assert [(v["field"], v["registry"], v["case"]) for v in differs["values"]] == [("name", "Warga Dua", "Warga 2")]
    assert flags_with_resolutions(runtime, "640206") == []  # another office sees none

    b = Browser(app)
    b.login("verifier")
    page = b.get("/socialization/residents/flags")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Warga Dua" in page_text(page) and nik[2] not in page_text(page)
    assert body.count('class="flag"') == 5
    form = {"nik": nik[2], "kind": "data_differs", "fingerprint": differs["fingerprint"]}
    refused = b.post("/socialization/residents/flags/resolve", {**form, "note": "  "})
    assert refused.status_code == 303
    assert len(flags_with_resolutions(runtime, "640205", open_only=True)) == 5
    done = b.post("/socialization/residents/flags/resolve", {**form, "note": "Nama di KK sudah dicek: Warga 2"})
    assert done.status_code == 302
    still_open = flags_with_resolutions(runtime, "640205", open_only=True)
    assert {f["kind"] for f in still_open} == {
        "nik_twice",
        "not_in_registry",
        "carded_registry_only",
        "carded_simpul_only",
    }
    rid = differs["resident_id"]
    resident_page = page_text(b.get(f"/socialization/residents/{rid}"))
    assert "Nama di KK sudah dicek: Warga 2" in resident_page

    clerk = Browser(app)
    clerk.login("operator")
    assert clerk.post("/socialization/residents/flags/resolve", {**form, "note": "x"}).status_code == 403
    other = Browser(app)
    other.login("other")
    assert "Warga" not in page_text(other.get("/socialization/residents/flags"))
    assert "Tidak ada ketidakcocokan" in page_text(other.get("/socialization/residents/flags"))
