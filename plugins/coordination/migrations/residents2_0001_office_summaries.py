"""coordination: the latest dashboard summary each kecamatan node sent to its regency

A regency whose kecamatan run their own nodes (their own databases) sees them side by side
from these rows: one per office, replaced by each newer summary (``summaries.py``).

Revision ID: residents2_0001_office_summaries
Revises: coordination_0001_peers
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "residents2_0001_office_summaries"
down_revision = "coordination_0001_peers"
branch_labels = None
depends_on = None


def upgrade():
    if sa.inspect(op.get_bind()).has_table("coordination_office_summaries"):
        return  # a history re-stamped from its first revision (a node from before the plugin history)
    op.create_table(
        "coordination_office_summaries",
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("regency_code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("office_code"),
    )
    op.create_index(
        "ix_coordination_office_summaries_regency", "coordination_office_summaries", ["regency_code", "office_code"]
    )


def downgrade():
    op.drop_index("ix_coordination_office_summaries_regency", table_name="coordination_office_summaries")
    op.drop_table("coordination_office_summaries")
