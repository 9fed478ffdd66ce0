"""Index the office's finished cases of a procedure by end time (step timings, expected dates)

Revision ID: residents_0007_cases_ended
Revises: 0006_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "residents_0007_cases_ended"
down_revision = "dashboard_0007_outcomes"
branch_labels = None
depends_on = None


def upgrade():
    existing = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("cases")}
    if "ix_cases_office_process_ended" in existing:  # a database stamped back by hand: nothing to do
        return
    with op.batch_alter_table("cases") as batch_op:
        batch_op.create_index(
            "ix_cases_office_process_ended", ["office_code", "process_key", "status", "ended_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_office_process_ended")
