"""coordination: one row per peer office (last contact, link backoff, refusals)

The first revision of the coordination plugin's own history.  Until Simpul 0.2 the engine's
revision 0004_coordination created this table; on such a database the table is already
there with these columns, and this revision adopts it instead of creating it again.

Revision ID: coordination_0001_peers
Revises: (none: the plugin's history starts here)
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine import UTCDateTime

revision = "coordination_0001_peers"
down_revision = None
branch_labels = None
depends_on = None

TABLE = "coordination_peers"


def upgrade():
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return  # created by the engine's former 0004_coordination: adopted as it is
    counter = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        TABLE,
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures_in_row", sa.Integer(), nullable=False),
        sa.Column("retry_at", UTCDateTime(), nullable=True),
        sa.Column("clock_offset", sa.Float(), nullable=False),
        sa.Column("messages_sent", counter, nullable=False),
        sa.Column("bytes_sent", counter, nullable=False),
        sa.Column("last_received_at", UTCDateTime(), nullable=True),
        sa.Column("messages_received", counter, nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("last_refused_at", UTCDateTime(), nullable=True),
        sa.Column("last_refusal", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("office_code"),
    )


def downgrade():
    op.drop_table(TABLE)
