"""socialization: background imports run in slices, one per worker pass: the job's phase and
position in the file, its lease, and the rows checked so far, kept apart from the registry
until the last slice moves them in one transaction

Revision ID: imports3_0001_import_slices
Revises: registry2_0001_import_jobs
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "imports3_0001_import_slices"
down_revision = "registry2_0001_import_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("socialization_import_jobs") as batch:
        batch.add_column(sa.Column("state", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("lease", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("lease_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("interruptions", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "socialization_import_staged",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=True),
        sa.Column("kelurahan_code", sa.String(length=16), nullable=True),
        sa.Column("kk_number", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_place", sa.String(length=60), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("marital_status", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("rt", sa.String(length=3), nullable=True),
        sa.Column("rw", sa.String(length=3), nullable=True),
        sa.Column("has_ektp", sa.Boolean(), nullable=True),
        sa.Column("ektp_since", sa.Date(), nullable=True),
        sa.Column("column_name", sa.String(length=200), nullable=True),
        sa.Column("message", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_soc_import_staged_nik", "socialization_import_staged", ["job_id", "nik", "kind"])


def downgrade():
    op.drop_index("ix_soc_import_staged_nik", table_name="socialization_import_staged")
    op.drop_table("socialization_import_staged")
    with op.batch_alter_table("socialization_import_jobs") as batch:
        batch.drop_column("interruptions")
        batch.drop_column("lease_until")
        batch.drop_column("lease")
        batch.drop_column("state")
