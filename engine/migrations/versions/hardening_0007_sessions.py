"""Server-side web sessions, so sign-out, a password change and idle time end them

Revision ID: hardening_0007_sessions
Revises: 0006_merge
"""

import sqlalchemy as sa
from alembic import op

import simpul.engine.models

revision = "hardening_0007_sessions"
down_revision = "residents_0007_cases_ended"
branch_labels = None
depends_on = None


def upgrade():
    # Sessions signed before this revision carry no server record: they simply sign in again.
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("created_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("ended_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("end_reason", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_username"), ["username"], unique=False)


def downgrade():
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_username"))
    op.drop_table("web_sessions")
