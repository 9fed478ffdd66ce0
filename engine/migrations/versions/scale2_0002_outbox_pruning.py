"""Sent outbox rows can be pruned: their message ids are kept, and an index finds them

``outbox_sent_ids`` keeps the message id of every sent row pruned (engine/outbox.py), so
queueing the same message again still finds it sent; ``ix_outbox_sent_at`` (status, sent_at)
finds the oldest sent rows without reading the pending ones.

Runs on a database already holding outbox rows: nothing is pruned here, the index is built
from the rows there.

Revision ID: scale2_0002_outbox_pruning
Revises: scale2_0001_inbox_keys
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine.models import UTCDateTime

revision = "scale2_0002_outbox_pruning"
down_revision = "scale2_0001_inbox_keys"
branch_labels = None
depends_on = None


def upgrade():
    inspector = sa.inspect(op.get_bind())
    # a database stamped back by hand may hold both already: kept as they are
    if not inspector.has_table("outbox_sent_ids"):
        op.create_table(
            "outbox_sent_ids",
            sa.Column("message_id", sa.String(length=36), nullable=False),
            sa.Column("sent_at", UTCDateTime(), nullable=True),
            sa.PrimaryKeyConstraint("message_id"),
        )
    if "ix_outbox_sent_at" not in {ix["name"] for ix in inspector.get_indexes("outbox_messages")}:
        op.create_index("ix_outbox_sent_at", "outbox_messages", ["status", "sent_at"], unique=False)


def downgrade():
    op.drop_index("ix_outbox_sent_at", table_name="outbox_messages")
    op.drop_table("outbox_sent_ids")
