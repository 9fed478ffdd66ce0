"""socialization: outreach campaigns, their target lists, recording visits and who came

Revision ID: registry_0004_campaigns
Revises: registry_0003_flag_resolutions
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "registry_0004_campaigns"
down_revision = "registry_0003_flag_resolutions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "socialization_campaigns",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("goal", sa.String(length=1000), nullable=True),
        sa.Column("target_filter", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("media", sa.JSON(), nullable=False),
        sa.Column("staff", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_soc_campaigns_office", "socialization_campaigns", ["office_code", "id"])
    op.create_table(
        "socialization_campaign_targets",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "resident_id"),
    )
    op.create_index("ix_soc_targets_nik", "socialization_campaign_targets", ["nik"])
    op.create_table(
        "socialization_visits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("visit_time", sa.String(length=5), nullable=True),
        sa.Column("staff", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_soc_visits_office", "socialization_visits", ["office_code", "visit_date"])
    op.create_table(
        "socialization_visit_attendance",
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("nik", sa.String(length=16), nullable=False),
        sa.Column("receipt", sa.String(length=40), nullable=True),
        sa.Column("problem", sa.String(length=500), nullable=True),
        sa.Column("marked_by", sa.String(length=64), nullable=False),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("visit_id", "resident_id"),
    )


def downgrade():
    op.drop_table("socialization_visit_attendance")
    op.drop_index("ix_soc_visits_office", table_name="socialization_visits")
    op.drop_table("socialization_visits")
    op.drop_index("ix_soc_targets_nik", table_name="socialization_campaign_targets")
    op.drop_table("socialization_campaign_targets")
    op.drop_index("ix_soc_campaigns_office", table_name="socialization_campaigns")
    op.drop_table("socialization_campaigns")
