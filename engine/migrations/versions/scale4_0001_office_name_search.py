"""A name search inside one office answered by one index (PostgreSQL)

The trigram index on ``resident_name`` alone matched a common name across the whole regency
(100,000 rows for "aisyah" at a million cases); intersected with the office's rows as a
bitmap, it went lossy and every heap page of the office was read again: 35 ms for a name the
office does not even hold.  One GIN index over ``(office_code, resident_name)`` (``btree_gin``
for the office column, ``pg_trgm`` for the name) intersects the two inside the index and
returns only rows of that office holding the name; it also answers a name search without an
office (GIN uses any subset of its columns), so it replaces the name-only index.

Runs on a database already holding cases: the index is built from the existing rows.  SQLite
is unchanged (its FTS5 table ``cases_search`` answers there).

Revision ID: scale4_0001_office_name_search
Revises: scale3_0001_pending_slims
"""

from alembic import op

revision = "scale4_0001_office_name_search"
down_revision = "scale3_0001_pending_slims"
branch_labels = None
depends_on = None

POSTGRES_UP = [
    "CREATE EXTENSION IF NOT EXISTS btree_gin",
    "CREATE INDEX ix_cases_office_name_trgm ON cases USING gin (office_code, resident_name gin_trgm_ops)",
    "DROP INDEX IF EXISTS ix_cases_name_trgm",
]
POSTGRES_DOWN = [
    "CREATE INDEX IF NOT EXISTS ix_cases_name_trgm ON cases USING gin (resident_name gin_trgm_ops)",
    "DROP INDEX IF EXISTS ix_cases_office_name_trgm",
]


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_UP:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES_DOWN:
            op.execute(statement)
