"""coordination: one row per peer office (last contact, link backoff, refusals)

Revision ID: 0004_coordination
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

import simpul.engine.models

revision = "0004_coordination"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    counter = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "coordination_peers",
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("last_success_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures_in_row", sa.Integer(), nullable=False),
        sa.Column("retry_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("clock_offset", sa.Float(), nullable=False),
        sa.Column("messages_sent", counter, nullable=False),
        sa.Column("bytes_sent", counter, nullable=False),
        sa.Column("last_received_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("messages_received", counter, nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("last_refused_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("last_refusal", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("office_code"),
    )


def downgrade():
    op.drop_table("coordination_peers")
