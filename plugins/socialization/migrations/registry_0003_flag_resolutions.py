"""socialization: verifiers' resolutions of registry mismatch flags, with their notes

Revision ID: registry_0003_flag_resolutions
Revises: registry_0002_coverage_cells
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "registry_0003_flag_resolutions"
down_revision = "registry_0002_coverage_cells"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "socialization_flag_resolutions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("note", sa.String(length=1000), nullable=False),
        sa.Column("resolved_by", sa.String(length=64), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_soc_flag_res_key", "socialization_flag_resolutions", ["office_code", "nik", "kind"])


def downgrade():
    op.drop_index("ix_soc_flag_res_key", table_name="socialization_flag_resolutions")
    op.drop_table("socialization_flag_resolutions")
