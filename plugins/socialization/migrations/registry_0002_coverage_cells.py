"""socialization: the coverage figures kept ready per kelurahan, RW, RT, sex, age band and state

Revision ID: registry_0002_coverage_cells
Revises: registry_0001_residents
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0002_coverage_cells"
down_revision = "registry_0001_residents"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "socialization_coverage_cells",
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("kelurahan_code", sa.String(length=16), nullable=False),
        sa.Column("rw", sa.String(length=3), nullable=False),
        sa.Column("rt", sa.String(length=3), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=False),
        sa.Column("band", sa.String(length=8), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_code", "kelurahan_code", "rw", "rt", "sex", "band", "eligible", "state"),
    )
    op.create_table(
        "socialization_coverage_days",
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_age", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_code"),
    )


def downgrade():
    op.drop_table("socialization_coverage_days")
    op.drop_table("socialization_coverage_cells")
