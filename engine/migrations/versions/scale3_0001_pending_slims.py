"""Cases closed by a rejection are slimmed once their reopen period has passed

``pending_slims`` holds each rejected case that still keeps its task tree, with the moment
it was rejected (indexed): the worker takes the ones whose reopen period has passed, a
batch at a time, and slims them (engine/slim.py ``slim_rejected_cases``).

Runs on a database already holding cases: every rejected case whose stored state is still a
full task tree gets its row here, at its ``ended_at`` (one INSERT ... SELECT).  The worker
slims those already past the period at its next passes, in batches; none is slimmed here.

Revision ID: scale3_0001_pending_slims
Revises: residents2_0001_marks_backfill
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine.models import UTCDateTime

revision = "scale3_0001_pending_slims"
down_revision = "residents2_0001_marks_backfill"
branch_labels = None
depends_on = None

BACKFILL = """INSERT INTO pending_slims (case_id, rejected_at)
SELECT c.id, COALESCE(c.ended_at, c.updated_at) FROM cases c JOIN workflow_states w ON w.case_id = c.id
WHERE c.status = 'completed' AND c.outcome = 'rejected' AND w.state NOT LIKE '{"slim":%'"""


def upgrade():
    if sa.inspect(op.get_bind()).has_table("pending_slims"):
        # a database stamped back by hand: the queue is only derived from the cases, built again
        op.drop_index("ix_pending_slims_rejected_at", table_name="pending_slims")
        op.drop_table("pending_slims")
    op.create_table(
        "pending_slims",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("rejected_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_pending_slims_rejected_at", "pending_slims", ["rejected_at"], unique=False)
    op.execute(BACKFILL)


def downgrade():
    op.drop_index("ix_pending_slims_rejected_at", table_name="pending_slims")
    op.drop_table("pending_slims")
