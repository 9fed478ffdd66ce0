"""Case counts per process version, kept as cases start, end and move between versions

The process administration list showed, per version, its cases and open cases by counting
the whole ``cases`` table on every load.  ``process_version_counts`` holds the two figures;
triggers on ``cases`` (insert, and an update of status or version) keep them in the writing
transaction.

Runs on a database already holding cases: the counts are taken from them here, once.

Revision ID: scale2_0004_version_counts
Revises: scale2_0003_slim_cases
"""

import sqlalchemy as sa
from alembic import op

revision = "scale2_0004_version_counts"
down_revision = "scale2_0003_slim_cases"
branch_labels = None
depends_on = None

TABLE = "process_version_counts"
OPEN = "('active', 'incident')"

BACKFILL = f"""INSERT INTO {TABLE} (process_version_id, cases, open_cases)
SELECT process_version_id, COUNT(*), SUM(CASE WHEN status IN {OPEN} THEN 1 ELSE 0 END)
FROM cases GROUP BY process_version_id"""

SQLITE_UP = [
    f"""CREATE TRIGGER process_version_counts_insert AFTER INSERT ON cases BEGIN
    INSERT OR IGNORE INTO {TABLE} (process_version_id, cases, open_cases) VALUES (new.process_version_id, 0, 0);
    UPDATE {TABLE} SET cases = cases + 1, open_cases = open_cases + (new.status IN {OPEN})
    WHERE process_version_id = new.process_version_id;
    END""",
    f"""CREATE TRIGGER process_version_counts_update AFTER UPDATE OF status, process_version_id ON cases
    WHEN old.status IS NOT new.status OR old.process_version_id IS NOT new.process_version_id BEGIN
    INSERT OR IGNORE INTO {TABLE} (process_version_id, cases, open_cases) VALUES (new.process_version_id, 0, 0);
    UPDATE {TABLE} SET cases = cases - 1, open_cases = open_cases - (old.status IN {OPEN})
    WHERE process_version_id = old.process_version_id;
    UPDATE {TABLE} SET cases = cases + 1, open_cases = open_cases + (new.status IN {OPEN})
    WHERE process_version_id = new.process_version_id;
    END""",
    f"""CREATE TRIGGER process_version_counts_delete AFTER DELETE ON cases BEGIN
    UPDATE {TABLE} SET cases = cases - 1, open_cases = open_cases - (old.status IN {OPEN})
    WHERE process_version_id = old.process_version_id;
    END""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS process_version_counts_delete",
    "DROP TRIGGER IF EXISTS process_version_counts_update",
    "DROP TRIGGER IF EXISTS process_version_counts_insert",
]
POSTGRES_UP = [
    f"""CREATE FUNCTION process_version_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE {TABLE} SET cases = cases - 1, open_cases = open_cases - (OLD.status IN {OPEN})::int
        WHERE process_version_id = OLD.process_version_id;
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO {TABLE} AS c (process_version_id, cases, open_cases)
        VALUES (NEW.process_version_id, 1, (NEW.status IN {OPEN})::int)
        ON CONFLICT (process_version_id) DO UPDATE
          SET cases = c.cases + 1, open_cases = c.open_cases + EXCLUDED.open_cases;
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE TRIGGER process_version_counts_insert AFTER INSERT OR DELETE ON cases
    FOR EACH ROW EXECUTE FUNCTION process_version_counts()""",
    """CREATE TRIGGER process_version_counts_update AFTER UPDATE OF status, process_version_id ON cases
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.process_version_id IS DISTINCT FROM
    NEW.process_version_id) EXECUTE FUNCTION process_version_counts()""",
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS process_version_counts_update ON cases",
    "DROP TRIGGER IF EXISTS process_version_counts_insert ON cases",
    "DROP FUNCTION IF EXISTS process_version_counts()",
]


def upgrade():
    dialect = op.get_bind().dialect.name
    if sa.inspect(op.get_bind()).has_table(TABLE):
        # a database stamped back by hand: the counts are only counts, taken again
        for statement in SQLITE_DOWN if dialect == "sqlite" else POSTGRES_DOWN:
            op.execute(statement)
        op.drop_table(TABLE)
    op.create_table(
        TABLE,
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), server_default="0", nullable=False),
        sa.Column("open_cases", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("process_version_id"),
    )
    op.execute(BACKFILL)
    for statement in SQLITE_UP if dialect == "sqlite" else POSTGRES_UP:
        op.execute(statement)


def downgrade():
    for statement in SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN:
        op.execute(statement)
    op.drop_table(TABLE)
