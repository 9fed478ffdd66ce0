"""The resident registry: a generated kelurahan list of a few thousand residents with
deliberate bad rows and duplicates, imported through ``simpul residents import``; cases run
through the real engine for some of them; the coverage figures, the without-e-KTP list and
the import report checked against what this test computes on its own."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from simpul.engine import Actor, directory

from ..flows import (
    BIOMETRICS,
    DOCS_OK,
    VERIFIED,
    complete,
    printed_case,
    receive_and_hand_over,
    resident,
    start_new_card,
)
from .registry_data import (
    HEADERS_ID,
    KELURAHAN,
    OTHER_KELURAHAN,
    build_csv,
    expected_coverage,
    generate,
    row_cells,
    seed_kelurahan,
)


class _State:
    """What ``ctx.obj`` is for the CLI: the runtime and how ``--as`` names the actor."""

    def __init__(self, rt):
        self.runtime = rt

    def actor(self, username):
        if not username:
            return Actor(username="cli", office_code=None, roles=Actor.system().roles, display_name="cli")
        return directory.actor_for(self.runtime, username)


def cli(rt, *args):
    from simpul.plugins.socialization.residents_cli import residents

    return CliRunner().invoke(residents, list(args), obj=_State(rt), catch_exceptions=False)


def case_residents():
    """Residents the test runs cases for (``flows.resident``: born 5 July 2000, women)."""
    out = []
    for n in range(1, 6):
        r = resident(n)
        out.append(
            {
                "nik": r["nik"],
                "kk_number": r["kk_number"],
                "name": r["resident_name"],
                "sex": "P",
                "birth_place": r["birth_place"],
                "birth_date": date(2000, 7, 5),
                "marital_status": "belum_kawin",
                "address": r["address"],
                "rt": r["rt"],
                "rw": r["rw"],
                "kelurahan": KELURAHAN[0][0],
                "has_ektp": False,
            }
        )
    return out


@pytest.fixture
def registry(runtime, tmp_path):
    seed_kelurahan(runtime)
    people = generate(3000) + case_residents()
    text, bad, stored = build_csv(people, duplicates=(3, 10, 2000))
    path = tmp_path / "daftar.csv"
    path.write_text(text, encoding="utf-8")
    return {"path": path, "people": people, "bad": bad, "stored": stored}


def test_import_stores_valid_rows_and_reports_each_bad_row_once(runtime, registry):
    result = cli(runtime, "import", str(registry["path"]), "--json", "--as", "operator")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert set(out) == {"imported", "updated", "unchanged", "errors"}
    assert out["imported"] == len(registry["stored"]) and out["updated"] == 0
    rows = [e["row"] for e in out["errors"]]
    assert sorted(rows) == sorted(registry["bad"]), "every bad row reported, and only those"
    assert len(rows) == len(set(rows)), "each bad row reported once"
    by_row = {e["row"]: e for e in out["errors"]}
    for row, column in registry["bad"].items():
        assert by_row[row]["column"] == column
    # the reasons are in Indonesian (the node's language)
    assert any("16 digit" in e["message"] for e in out["errors"])
    dup = by_row[max(registry["bad"])]
    assert "baris" in dup["message"]  # "... sudah ada di baris N ..."


def test_stop_on_error_stores_nothing_and_exits_non_zero(runtime, registry):
    result = cli(runtime, "import", str(registry["path"]), "--stop-on-error", "--json", "--as", "operator")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["imported"] == 0 and len(out["errors"]) == len(registry["bad"])
    figures = json.loads(cli(runtime, "coverage", "--json", "--as", "operator").output)
    assert figures == []


def test_unknown_headers_stop_the_file_until_mapped(runtime, tmp_path):
    seed_kelurahan(runtime)
    people = generate(20)
    text, _bad, _stored = build_csv(people, bad_every=0)
    text = text.replace("Nama Lengkap", "Nama Warga Sesuai KK", 1)
    path = tmp_path / "odd.csv"
    path.write_text(text)
    result = cli(runtime, "import", str(path), "--json", "--as", "operator")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["imported"] == 0 and out["errors"][0]["row"] == 1
    mapped = cli(runtime, "import", str(path), "--json", "--as", "operator", "--column", "Nama Warga Sesuai KK=name")
    assert json.loads(mapped.output)["imported"] == 20


def test_xlsx_with_english_headers_in_another_order(runtime, tmp_path):
    seed_kelurahan(runtime)
    people = generate(30, seed=5)
    english = [
        "Village",
        "Full name",
        "Sex",
        "Date of birth",
        "NIK",
        "Family card number",
        "Marital status",
        "RT",
        "RW",
    ]
    book = Workbook()
    sheet = book.active
    sheet.append(english)
    for p in people:
        sheet.append(
            [p["kelurahan"], p["name"], "M" if p["sex"] == "L" else "F", p["birth_date"], p["nik"], p["kk_number"],
             "married" if p["marital_status"] == "kawin" else "single", int(p["rt"]), p["rw"]]
        )  # fmt: skip
    path = tmp_path / "list.xlsx"
    book.save(path)
    out = json.loads(cli(runtime, "import", str(path), "--json", "--as", "operator").output)
    assert out == {"imported": 30, "updated": 0, "unchanged": 0, "errors": []}


def test_reimport_shows_the_difference_then_applies_it(runtime, registry, tmp_path):
    cli(runtime, "import", str(registry["path"]), "--as", "operator")
    people = [p for p in registry["stored"]]
    gone, renamed, moved = people[0], people[1], people[2]
    newer = [dict(p) for p in people if p is not gone]
    for p in newer:
        if p["nik"] == renamed["nik"]:
            p["name"] = "Nama Baru"
        if p["nik"] == moved["nik"]:
            p["rt"] = "008" if p["rt"] != "008" else "007"
    newcomer = generate(1, seed=99)[0] | {"nik": "6402050101250999", "birth_date": date(2025, 1, 1), "sex": "L"}
    newer.append(newcomer)
    text, _bad, _stored = build_csv(newer, bad_every=0)
    path = tmp_path / "newer.csv"
    path.write_text(text)
    diff = json.loads(cli(runtime, "import", str(path), "--dry-run", "--json", "--as", "operator").output)
    assert (diff["new"], diff["gone"], diff["changed"]) == (1, 1, 2)
    changed = {r["name"]: [f["field"] for f in r["fields"]] for r in diff["changed_residents"]}
    assert changed == {"Nama Baru": ["name"], moved["name"]: ["rt"]}
    assert diff["gone_residents"][0]["nik"].endswith(gone["nik"][-4:]) and "•" in diff["gone_residents"][0]["nik"]
    out = json.loads(cli(runtime, "import", str(path), "--json", "--as", "operator").output)
    assert (out["imported"], out["updated"], out["unchanged"]) == (1, 2, len(people) - 3)
    again = json.loads(cli(runtime, "import", str(path), "--dry-run", "--json", "--as", "operator").output)
    assert (again["new"], again["gone"], again["changed"]) == (0, 0, 0)


def test_coverage_follows_the_cases_and_matches_an_independent_count(runtime, registry, tmp_path):
    assert cli(runtime, "import", str(registry["path"]), "--as", "operator").exit_code == 0
    nik = {n: resident(n)["nik"] for n in range(1, 6)}
    start_new_card(runtime, 1)  # open: recorded
    second = start_new_card(runtime, 2)["receipt"]
    complete(runtime, second, "operator", DOCS_OK)
    complete(runtime, second, "verifier", VERIFIED)
    complete(runtime, second, "operator", BIOMETRICS)  # still open
    printed_case(runtime, 3)  # printed, not handed over
    receive_and_hand_over(runtime, printed_case(runtime, 4))  # carded
    rejected = start_new_card(runtime, 5)["receipt"]
    complete(runtime, rejected, "operator", DOCS_OK)
    complete(
        runtime,
        rejected,
        "verifier",
        {"residence_verified": False, "rejection_reason": "Bukan warga", "kelurahan_officer": "Budi"},
    )
    states = {nik[1]: "recorded", nik[2]: "recorded", nik[3]: "printed", nik[4]: "handed_over"}
    expected = expected_coverage(registry["stored"], states)
    got = json.loads(cli(runtime, "coverage", "--json", "--as", "operator").output)
    assert {r["kelurahan"]: r for r in got} == expected
    assert sum(r["without_ektp"] for r in got) > 0

    out = tmp_path / "tanpa.csv"
    result = cli(
        runtime, "without-ektp", "--kelurahan", KELURAHAN[0][0], "--format", "csv", "-o", str(out), "--as", "operator"
    )
    assert result.exit_code == 0, result.output
    listed = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(listed) == expected[KELURAHAN[0][0]]["without_ektp"]
    by_nik = {r["NIK"]: r for r in listed}
    assert nik[1] in by_nik and nik[3] in by_nik and nik[4] not in by_nik and nik[5] in by_nik
    assert by_nik[nik[5]]["Status e-KTP"] == "Wajib KTP, belum rekam"  # the rejected case closed
    xlsx = tmp_path / "tanpa.xlsx"
    cli(
        runtime, "without-ektp", "--kelurahan", KELURAHAN[0][0], "--format", "xlsx", "-o", str(xlsx), "--as", "operator"
    )
    sheet = load_workbook(xlsx).worksheets[0]
    cells = list(sheet.iter_rows(values_only=True))
    assert len(cells) - 1 == len(listed) and {c[1] for c in cells[1:]} == set(by_nik)


def test_recording_age_setting_counts_sixteen_year_olds(db, tmp_path):
    from simpul.engine import deploy_bundled

    from ..conftest import make_runtime, seed_offices

    rt = make_runtime(db, tmp_path, settings={"socialization": {"record_from_age": 16}})
    try:
        seed_offices(rt)
        deploy_bundled(rt, deployed_by="test")
        seed_kelurahan(rt)
        people = generate(400, seed=3)
        text, _bad, stored = build_csv(people, bad_every=0)
        path = tmp_path / "l.csv"
        path.write_text(text)
        cli(rt, "import", str(path), "--as", "operator")
        got = json.loads(cli(rt, "coverage", "--json", "--as", "operator").output)
        assert {r["kelurahan"]: r for r in got} == expected_coverage(stored, {}, from_age=16)
        assert expected_coverage(stored, {}, from_age=16) != expected_coverage(stored, {})
    finally:
        rt.close()


def test_a_resident_turns_seventeen_on_the_offices_day_not_the_servers(runtime, tmp_path):
    """At 17:30 UTC on 4 March it is already 5 March, 01:30, in the office (WITA): a resident
    born on 5 March 2009 is 17 and must be counted, whatever the server's own clock zone."""
    import time_machine

    from .registry_data import nik_for

    seed_kelurahan(runtime)
    (person,) = generate(1, seed=5)
    birth = date(2009, 3, 5)
    person.update(
        birth_date=birth, marital_status="belum_kawin", has_ektp=False, nik=nik_for(birth, person["sex"], 77, "640205")
    )
    path = tmp_path / "ulang-tahun.csv"
    path.write_text(build_csv([person], bad_every=0)[0], encoding="utf-8")
    with time_machine.travel("2026-03-04T17:30:00Z", tick=False):
        assert cli(runtime, "import", str(path), "--as", "operator").exit_code == 0
        (row,) = json.loads(cli(runtime, "coverage", "--json", "--as", "operator").output)
    assert (row["eligible"], row["without_ektp"]) == (1, 1)


def test_another_offices_residents_are_never_visible(runtime, registry, tmp_path):
    cli(runtime, "import", str(registry["path"]), "--as", "operator")
    theirs = generate(50, seed=8, district="640206", kelurahan=OTHER_KELURAHAN)
    text, _b, _s = build_csv(theirs, bad_every=0)
    path = tmp_path / "other.csv"
    path.write_text(text)
    # Our kelurahan codes are not theirs: a list naming them is refused row by row.
    mine = build_csv(generate(5, seed=2), bad_every=0)[0]
    path_mine = tmp_path / "mine.csv"
    path_mine.write_text(mine)
    refused = json.loads(cli(runtime, "import", str(path_mine), "--json", "--as", "other").output)
    assert refused["imported"] == 0 and len(refused["errors"]) == 5
    assert json.loads(cli(runtime, "import", str(path), "--json", "--as", "other").output)["imported"] == 50
    ours = json.loads(cli(runtime, "coverage", "--json", "--as", "operator").output)
    assert {r["kelurahan"] for r in ours} == {k for k, _n in KELURAHAN}
    other = json.loads(cli(runtime, "coverage", "--json", "--as", "other").output)
    assert [r["kelurahan"] for r in other] == [OTHER_KELURAHAN[0][0]]
    assert sum(r["eligible"] for r in other) == sum(
        1 for r in expected_coverage(theirs, {}).values() for _ in range(r["eligible"])
    )


def test_header_row_alone_and_garbage_are_clear_refusals(runtime, tmp_path):
    seed_kelurahan(runtime)
    empty = tmp_path / "empty.csv"
    empty.write_text(";".join(HEADERS_ID) + "\n")
    out = json.loads(cli(runtime, "import", str(empty), "--json", "--as", "operator").output)
    assert out == {"imported": 0, "updated": 0, "unchanged": 0, "errors": []}
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not a workbook")
    from simpul.engine import InvalidInput

    with pytest.raises(InvalidInput):
        cli(runtime, "import", str(junk), "--json", "--as", "operator")
    assert row_cells(generate(1)[0])["NIK"]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_without_ektp_list_pages_by_an_index_not_by_sorting_the_office(runtime, registry):
    """A page of the list walks the office's residents in id order and stops at its end: the
    plan has no sort of the whole office (at 100,000 residents that sort took ~0.5 s a page)."""
    import sqlite3

    from sqlalchemy import event

    from simpul.plugins.socialization.coverage import without_ektp

    statements = []

    def seen(conn, cursor, statement, parameters, context, many):
        statements.append((statement, parameters))

    event.listen(runtime.db.engine, "before_cursor_execute", seen)
    try:
        without_ektp(runtime, "640205", limit=10)
    finally:
        event.remove(runtime.db.engine, "before_cursor_execute", seen)
    statement, parameters = next(s for s in reversed(statements) if "socialization_residents" in s[0])
    path = runtime.config.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as con:
        plan = " / ".join(row[3] for row in con.execute("EXPLAIN QUERY PLAN " + statement, parameters))
    assert "TEMP B-TREE FOR ORDER BY" not in plan and "ix_soc_residents_office_id" in plan, plan
