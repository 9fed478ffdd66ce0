"""Case search through indexes, and keyset paging: what a clerk finds and where pages start."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from simpul import engine
from simpul.engine import search
from simpul.engine.directory import actor_for
from simpul.engine.migrate import upgrade

from .conftest import OFFICE, make_runtime, seed_offices
from .flows import RESIDENT

NAMES = ["Nur Aisyah", "Rizky Ramadhan", "Siti Rahma", "Budi Santoso", "Dewi Lestari"]


def _nik(i: int) -> str:
    return f"640205450700{i:04d}"


@pytest.fixture
def cases(runtime):
    clerk = actor_for(runtime, "operator")
    started = [
        engine.start_case(
            runtime, "ektp_new_card", {"nik": _nik(i), "resident_name": f"{NAMES[i % 5]} {i}", **RESIDENT}, clerk
        )
        for i in range(1, 13)
    ]
    return runtime, clerk, started


def names(rows):
    return [r["resident_name"] for r in rows]


def test_search_finds_by_nik_receipt_and_part_of_a_name(cases):
    rt, clerk, started = cases
    assert names(engine.list_cases(rt, clerk, query=_nik(7))) == ["Siti Rahma 7"]
    receipt = started[2]["receipt"]
    assert [r["receipt"] for r in engine.list_cases(rt, clerk, query=receipt)] == [receipt]
    # part of a name, any case, newest first
    assert names(engine.list_cases(rt, clerk, query="AISYAH")) == ["Nur Aisyah 10", "Nur Aisyah 5"]
    assert names(engine.list_cases(rt, clerk, query="rahma 1")) == ["Siti Rahma 12"]
    # part of a NIK (the last digits a clerk sees) and of a receipt
    assert names(engine.list_cases(rt, clerk, query="0011")) == ["Rizky Ramadhan 11"]
    assert [r["receipt"] for r in engine.list_cases(rt, clerk, query=receipt[-8:])] == [receipt]
    # two letters: shorter than a trigram, still found
    assert "Siti Rahma 2" in names(engine.list_cases(rt, clerk, query="ti"))


@pytest.mark.parametrize("query", ['"', "a'b", "%", "_", "100%", 'x" OR "y', "nur*", "NEAR(a b)", "  "])
def test_odd_search_text_is_only_text(cases, query):
    rt, clerk, _started = cases
    rows = engine.list_cases(rt, clerk, query=query)
    if query.strip():
        assert rows == []
    else:
        assert len(rows) == 12


def test_other_offices_cases_are_not_found(cases):
    rt, _clerk, _started = cases
    other = actor_for(rt, "other")
    assert engine.list_cases(rt, other, query=_nik(7)) == []
    assert engine.list_cases(rt, other, query="aisyah") == []


def test_keyset_pages_walk_every_case_once_and_back(cases):
    rt, clerk, started = cases
    seen, page, pages = [], engine.case_page(rt, clerk, limit=5), []
    while True:
        pages.append(page)
        seen += [r["receipt"] for r in page["items"]]
        if page["next_before"] is None:
            break
        page = engine.case_page(rt, clerk, limit=5, before=page["next_before"])
    assert seen == [c["receipt"] for c in reversed(started)]
    assert [len(p["items"]) for p in pages] == [5, 5, 2]
    assert pages[0]["prev_after"] is None
    back = engine.case_page(rt, clerk, limit=5, after=pages[2]["prev_after"])
    assert back["items"] == pages[1]["items"]
    first = engine.case_page(rt, clerk, limit=5, after=back["prev_after"])
    assert first["items"] == pages[0]["items"] and first["prev_after"] is None


def test_a_new_case_does_not_shift_the_next_page(cases):
    rt, clerk, _started = cases
    page1 = engine.case_page(rt, clerk, limit=5)
    engine.start_case(rt, "ektp_new_card", {"nik": _nik(99), "resident_name": "Warga Baru", **RESIDENT}, clerk)
    page2 = engine.case_page(rt, clerk, limit=5, before=page1["next_before"])
    assert page2["items"][0]["id"] == page1["items"][-1]["id"] - 1


def test_searches_are_answered_by_indexes(cases):
    """The search's own condition: an index answers it (the office and order come on top)."""
    rt, _clerk, _started = cases
    from sqlalchemy import select

    from simpul.engine.models import Case

    pg = rt.db.dialect == "postgresql"
    trigram = "ix_cases_office_name_trgm" if pg else "cases_search"
    for query, index in (
        (_nik(7), "ix_cases_resident_nik"),
        ("640205-2026-00003", "cases_receipt_key" if pg else "sqlite_autoindex_cases"),
        ("aisyah", trigram),
        ("0011", "ix_cases_nik_trgm" if pg else "cases_search"),
    ):
        stmt = select(Case.id).where(search.case_match(rt.db.dialect, query))
        compiled = stmt.compile(rt.db.engine)
        raw = rt.db.engine.raw_connection()
        try:
            cur = raw.cursor()
            if rt.db.dialect == "postgresql":
                cur.execute("SET enable_seqscan = off")  # a test-sized table: ask whether an index can answer
                cur.execute("EXPLAIN " + str(compiled), compiled.params)
            else:
                cur.execute(
                    "EXPLAIN QUERY PLAN " + str(compiled),
                    compiled.positiontup and [compiled.params[k] for k in compiled.positiontup],
                )
            plan = "\n".join(str(r[-1]) for r in cur.fetchall())
        finally:
            raw.rollback()
            raw.close()
        assert index in plan, (query, plan)
    if pg:  # in one office, one index holds both: only that office's rows with the name come back
        with rt.db.engine.connect() as conn:
            definition = conn.execute(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_cases_office_name_trgm'")
            ).scalar()
        assert "USING gin (office_code, resident_name gin_trgm_ops)" in definition


def test_migration_indexes_cases_already_there(db, tmp_path):
    """scale_0001_search (and scale4's office and name index) run on a database holding
    cases: those are found afterwards."""
    from simpul.engine import deploy_bundled

    rt = make_runtime(db, tmp_path)
    with rt.db.engine.begin() as conn:  # back to the schema before the search migration
        conn.execute(text("UPDATE alembic_version SET version_num = 'hardening_0007_sessions'"))

        if rt.db.dialect == "sqlite":
            for statement in (
                "DROP TRIGGER cases_search_insert",
                "DROP TRIGGER cases_search_delete",
                "DROP TRIGGER cases_search_update",
                "DROP TABLE cases_search",
            ):
                conn.execute(text(statement))
        else:
            for name in ("ix_cases_office_name_trgm", "ix_cases_receipt_trgm", "ix_cases_nik_trgm"):
                conn.execute(text(f"DROP INDEX {name}"))
        conn.execute(text("DROP INDEX ix_cases_office_id"))
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    clerk = actor_for(rt, "operator")
    engine.start_case(rt, "ektp_new_card", {"nik": _nik(1), "resident_name": "Warga Lama", **RESIDENT}, clerk)
    upgrade(rt)
    assert names(engine.list_cases(rt, clerk, query="lama")) == ["Warga Lama"]
    assert names(engine.list_cases(rt, clerk, query=_nik(1))) == ["Warga Lama"]
    rt.close()


def test_query_kinds():
    assert search.kind_of("6402054507000001") == "nik"
    assert search.kind_of(f" {OFFICE}-2026-00042 ") == "receipt"
    assert search.kind_of("6402-2026-0000042") == "receipt"
    assert search.kind_of("640205450700") == "text"
    assert search.kind_of("Nur Aisyah") == "text"


def test_a_text_search_beyond_the_newest_cases_finds_older_ones_in_order(cases, monkeypatch):
    """PostgreSQL looks through the newest cases first, then asks its trigram index for the
    rest: the answer is the same as one query's, newest first (a tiny window makes both run)."""
    rt, clerk, _started = cases
    monkeypatch.setattr(search, "SCAN_WINDOW", 3)
    assert names(engine.list_cases(rt, clerk, query="rizky")) == [
        "Rizky Ramadhan 11",
        "Rizky Ramadhan 6",
        "Rizky Ramadhan 1",
    ]
    page = engine.case_page(rt, clerk, query="rahma", limit=2)
    assert names(page["items"]) == ["Siti Rahma 12", "Siti Rahma 7"]
    older = engine.case_page(rt, clerk, query="rahma", limit=2, before=page["next_before"])
    assert names(older["items"]) == ["Siti Rahma 2"] and older["next_before"] is None
