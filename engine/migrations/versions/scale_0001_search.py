"""Searches and lists that use indexes at a million cases

* ``ix_cases_office_id`` (office_code, id): every case list of an office, newest first,
  walks it in order and stops after a page (keyset paging), instead of sorting the office.
* Substring search of name, receipt and NIK: on PostgreSQL trigram GIN indexes (the
  ``pg_trgm`` extension); on SQLite an FTS5 table ``cases_search`` with the trigram
  tokenizer over the same three columns, external content (the rows stay in ``cases``),
  filled from the cases already there and kept by triggers.  See engine/search.py.

Runs on a database already holding cases: the indexes are built from the existing rows.

Revision ID: scale_0001_search
Revises: 0006_merge
"""

from alembic import op

revision = "scale_0001_search"
down_revision = "hardening_0007_sessions"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE cases_search USING fts5("
    "resident_name, receipt, resident_nik, content='cases', content_rowid='id', tokenize='trigram')",
    "INSERT INTO cases_search (cases_search) VALUES ('rebuild')",
    "CREATE TRIGGER cases_search_insert AFTER INSERT ON cases BEGIN "
    "INSERT INTO cases_search (rowid, resident_name, receipt, resident_nik) "
    "VALUES (new.id, new.resident_name, new.receipt, new.resident_nik); END",
    "CREATE TRIGGER cases_search_delete AFTER DELETE ON cases BEGIN "
    "INSERT INTO cases_search (cases_search, rowid, resident_name, receipt, resident_nik) "
    "VALUES ('delete', old.id, old.resident_name, old.receipt, old.resident_nik); END",
    "CREATE TRIGGER cases_search_update AFTER UPDATE OF resident_name, receipt, resident_nik ON cases BEGIN "
    "INSERT INTO cases_search (cases_search, rowid, resident_name, receipt, resident_nik) "
    "VALUES ('delete', old.id, old.resident_name, old.receipt, old.resident_nik); "
    "INSERT INTO cases_search (rowid, resident_name, receipt, resident_nik) "
    "VALUES (new.id, new.resident_name, new.receipt, new.resident_nik); END",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS cases_search_update",
    "DROP TRIGGER IF EXISTS cases_search_delete",
    "DROP TRIGGER IF EXISTS cases_search_insert",
    "DROP TABLE IF EXISTS cases_search",
]
POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_cases_name_trgm ON cases USING gin (resident_name gin_trgm_ops)",
    "CREATE INDEX ix_cases_receipt_trgm ON cases USING gin (receipt gin_trgm_ops)",
    "CREATE INDEX ix_cases_nik_trgm ON cases USING gin (resident_nik gin_trgm_ops)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_cases_nik_trgm",
    "DROP INDEX IF EXISTS ix_cases_receipt_trgm",
    "DROP INDEX IF EXISTS ix_cases_name_trgm",
]


def upgrade():
    op.create_index("ix_cases_office_id", "cases", ["office_code", "id"], unique=False)
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP if dialect == "postgresql" else []:
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN if dialect == "postgresql" else []:
        op.execute(statement)
    op.drop_index("ix_cases_office_id", table_name="cases")
