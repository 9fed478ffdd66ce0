"""socialization: the kelurahan resident registry and each resident's e-KTP state

The first revision of the socialization plugin's own history (``alembic_version_socialization``).

Revision ID: registry_0001_residents
Revises: (none: the plugin's history starts here)
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "registry_0001_residents"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "socialization_residents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("kelurahan_code", sa.String(length=16), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("kk_number", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("birth_place", sa.String(length=60), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("marital_status", sa.String(length=16), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("rt", sa.String(length=3), nullable=True),
        sa.Column("rw", sa.String(length=3), nullable=True),
        sa.Column("has_ektp", sa.Boolean(), nullable=True),
        sa.Column("ektp_since", sa.Date(), nullable=True),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=64), nullable=False),
        sa.Column("gone_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_soc_residents_key", "socialization_residents", ["office_code", "kelurahan_code", "nik"], unique=True
    )
    op.create_index("ix_soc_residents_nik", "socialization_residents", ["office_code", "nik"])
    op.create_index("ix_soc_residents_area", "socialization_residents", ["office_code", "kelurahan_code", "rw", "rt"])
    op.create_index("ix_soc_residents_birth", "socialization_residents", ["office_code", "birth_date"])
    op.create_table(
        "socialization_case_states",
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("receipt", sa.String(length=40), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=True),
        sa.Column("printed_at", UTCDateTime(), nullable=True),
        sa.Column("handed_at", UTCDateTime(), nullable=True),
        sa.Column("case_name", sa.String(length=120), nullable=True),
        sa.Column("case_birth_date", sa.String(length=10), nullable=True),
        sa.Column("case_sex", sa.String(length=1), nullable=True),
        sa.Column("case_kk", sa.String(length=16), nullable=True),
        sa.Column("case_address", sa.String(length=200), nullable=True),
        sa.Column("case_kelurahan", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("office_code", "nik"),
    )


def downgrade():
    op.drop_table("socialization_case_states")
    op.drop_index("ix_soc_residents_birth", table_name="socialization_residents")
    op.drop_index("ix_soc_residents_area", table_name="socialization_residents")
    op.drop_index("ix_soc_residents_nik", table_name="socialization_residents")
    op.drop_index("ix_soc_residents_key", table_name="socialization_residents")
    op.drop_table("socialization_residents")
