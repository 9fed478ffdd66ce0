"""Case search that uses indexes, and keyset paging.

A search box gets three kinds of text, each sent where an index answers it:

* a NIK (16 digits) goes to the NIK index, a receipt (``640205-2026-00042``) to the
  receipt's unique index: exact lookups, whatever the number of cases;
* anything else (part of a name, of a NIK, of a receipt) is a substring search, as before,
  answered by trigram indexes: ``pg_trgm`` GIN indexes on PostgreSQL, an FTS5 table with
  the trigram tokenizer (``cases_search``, kept by triggers) on SQLite.  Both need at least
  three characters; a shorter query falls back to a plain scan of the office's cases.

Those objects are dialect-specific, so they live in the migrations ``scale_0001_search``
and ``scale4_0001_office_name_search`` and not in the models; :data:`SEARCH_OBJECTS` names
them for the schema comparison.

Lists page by key (``before``/``after`` an id), never by OFFSET: page 200 costs what page 1
costs, and a page link stays right while new cases arrive.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select, text

from .models import Case

NIK_RE = re.compile(r"^[0-9]{16}$")
RECEIPT_RE = re.compile(r"^[0-9]{2,8}-[0-9]{4}-[0-9]{1,10}$")
#: trigram indexes cannot answer a query shorter than this.
MIN_TRIGRAM = 3

#: The search objects the migration makes outside the models (one dialect each).
SEARCH_OBJECTS = frozenset(
    {
        "ix_cases_name_trgm",
        "ix_cases_office_name_trgm",
        "ix_cases_receipt_trgm",
        "ix_cases_nik_trgm",
        "cases_search",
        "cases_search_data",
        "cases_search_idx",
        "cases_search_docsize",
        "cases_search_config",
        "cases_search_content",
    }
)


def is_search_object(name: str | None) -> bool:
    """For schema comparisons (alembic ``include_object``): search objects are not models'."""
    return name in SEARCH_OBJECTS


def kind_of(query: str) -> str:
    """``nik``, ``receipt`` or ``text``: where a search for ``query`` is sent."""
    q = query.strip()
    if NIK_RE.match(q):
        return "nik"
    if RECEIPT_RE.match(q):
        return "receipt"
    return "text"


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fts_phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _fts(column: str, value: str, param: str):
    """Case ids whose ``column`` of the FTS5 trigram table holds ``value`` (SQLite only);
    ``cases_search`` as the column means any of its three columns."""
    match = text(f"{column} MATCH :{param}").bindparams(**{param: _fts_phrase(value)})
    return Case.id.in_(select(text("rowid")).select_from(text("cases_search")).where(match))


def case_match(dialect: str, query: str):
    """A WHERE clause on ``cases`` for a search box's text (NIK, receipt, or part of either or
    of the resident's name; case-insensitive), written so an index answers it."""
    q = query.strip()
    kind = kind_of(q)
    if kind == "nik":
        return Case.resident_nik == q
    if kind == "receipt":
        return Case.receipt == q
    if dialect == "sqlite" and len(q) >= MIN_TRIGRAM:
        return _fts("cases_search", q, "fts_phrase")
    like = f"%{_escape_like(q)}%"
    if any(ch.isalpha() for ch in q):  # receipts and NIKs hold no letters: a name
        return Case.resident_name.ilike(like, escape="\\")
    return or_(
        Case.resident_name.ilike(like, escape="\\"),
        Case.receipt.ilike(like, escape="\\"),
        Case.resident_nik.like(like, escape="\\"),
    )


#: newest cases looked through in order before a text search turns to its trigram index.
SCAN_WINDOW = 2000


def text_search_rows(session, base, match, where, limit: int) -> list:
    """Newest first, ``limit`` rows of ``base`` (a ``select(Case)`` with its filters) matching
    ``match``, on PostgreSQL.

    Neither plan alone serves every name: walking the office's newest cases in order finds a
    common name at once but reads the whole office for a rare one; the trigram index finds a
    rare name at once but fetches and sorts every match of a common one.  So the newest
    :data:`SCAN_WINDOW` cases are looked through first, and only if they hold too few matches
    is the trigram index asked for the older rest (``id + 0`` keeps the planner from walking
    the primary key instead)."""
    from sqlalchemy import func
    from sqlalchemy.sql.util import ClauseAdapter

    searched = (Case.id, Case.resident_name, Case.receipt, Case.resident_nik)
    window = base.with_only_columns(*searched).where(*where).order_by(Case.id.desc()).limit(SCAN_WINDOW).subquery()
    # the match is tested on the window's own rows: given the match on ``cases`` itself, the
    # planner may prefer the trigram index over the whole office and join the window to it
    in_window = select(window.c.id).where(ClauseAdapter(window).traverse(match))
    rows = list(session.scalars(base.where(Case.id.in_(in_window)).order_by(Case.id.desc()).limit(limit)))
    if len(rows) >= limit:
        return rows
    oldest, seen = session.execute(select(func.min(window.c.id), func.count())).one()
    if seen < SCAN_WINDOW or oldest is None:
        return rows  # the window held every case there is
    rest = base.where(*where, Case.id < oldest, match).order_by((Case.id + 0).desc()).limit(limit - len(rows))
    return rows + list(session.scalars(rest))


def nik_match(dialect: str, value: str):
    """Part of a NIK (clerks often type the last four digits shown in the inbox)."""
    v = value.strip()
    if NIK_RE.match(v):
        return Case.resident_nik == v
    if dialect == "sqlite" and len(v) >= MIN_TRIGRAM and v.isdigit():
        return _fts("resident_nik", v, "fts_nik")
    return Case.resident_nik.like(f"%{_escape_like(v)}%", escape="\\")


def name_match(dialect: str, value: str):
    v = value.strip()
    if dialect == "sqlite" and len(v) >= MIN_TRIGRAM:
        return _fts("resident_name", v, "fts_name")
    return Case.resident_name.ilike(f"%{_escape_like(v)}%", escape="\\")


def receipt_match(dialect: str, value: str):
    v = value.strip()
    if RECEIPT_RE.match(v):
        return Case.receipt == v
    return Case.receipt.ilike(f"%{_escape_like(v)}%", escape="\\")


def keyset(column, *, before=None, after=None):
    """The page's WHERE clause and ORDER BY for a list newest first by ``column``: ``before``
    an id for the next page, ``after`` an id for the previous one (read in ascending order
    and turned back by the caller: see :func:`page_rows`)."""
    if after is not None:
        return [column > after], [column.asc()], True
    if before is not None:
        return [column < before], [column.desc()], False
    return [], [column.desc()], False


def page_rows(rows: list, limit: int, reversed_: bool, *, before=None, after=None, key=lambda r: r.id) -> dict:
    """Cut ``limit + 1`` fetched rows to a page and say where its neighbours start.

    ``next_before`` is the cursor of the next (older) page, ``prev_after`` that of the
    previous (newer) one; ``None`` when there is none."""
    more = len(rows) > limit
    rows = rows[:limit]
    if reversed_:
        rows = list(reversed(rows))
        has_newer, has_older = more, True
    else:
        has_newer, has_older = before is not None, more
    return {
        "rows": rows,
        "next_before": key(rows[-1]) if rows and has_older else None,
        "prev_after": key(rows[0]) if rows and has_newer else None,
    }


__all__ = [
    "MIN_TRIGRAM",
    "NIK_RE",
    "RECEIPT_RE",
    "SEARCH_OBJECTS",
    "case_match",
    "is_search_object",
    "keyset",
    "kind_of",
    "name_match",
    "nik_match",
    "page_rows",
    "receipt_match",
]
