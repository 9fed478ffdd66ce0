"""tally: the copies made for a case

Revision ID: tally_0001_copies
Revises: (none: the tally plugin's history starts here)
"""

import sqlalchemy as sa
from alembic import op

revision = "tally_0001_copies"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tally_copies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receipt", sa.String(length=40), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("fee", sa.Integer(), nullable=False),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_tally_copies_receipt", "tally_copies", ["receipt"])


def downgrade():
    op.drop_index("ix_tally_copies_receipt", table_name="tally_copies")
    op.drop_table("tally_copies")
