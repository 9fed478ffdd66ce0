"""socialization: background resident-list imports and their progress; an index for the
flags page's NIKs twice (covering ``gone_at``, so it is read from the index alone)

Revision ID: registry2_0001_import_jobs
Revises: registry_0004_campaigns
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "registry2_0001_import_jobs"
down_revision = "registry_0004_campaigns"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "socialization_import_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token", sa.String(length=24), nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("rows_done", sa.Integer(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_soc_import_jobs_token", "socialization_import_jobs", ["token"], unique=True)
    op.create_index("ix_soc_import_jobs_status", "socialization_import_jobs", ["status", "id"])
    op.create_index("ix_soc_residents_live_nik", "socialization_residents", ["office_code", "nik", "gone_at"])


def downgrade():
    op.drop_index("ix_soc_residents_live_nik", table_name="socialization_residents")
    op.drop_index("ix_soc_import_jobs_status", table_name="socialization_import_jobs")
    op.drop_index("ix_soc_import_jobs_token", table_name="socialization_import_jobs")
    op.drop_table("socialization_import_jobs")
