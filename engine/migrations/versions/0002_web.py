"""web app and API: sign-in attempts, API tokens, user settings, comments, inbox indexes

Revision ID: 0002_web
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

import simpul.engine.models

revision = "0002_web"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_user_at", ["username", "at"], unique=False)
        batch_op.create_index("ix_login_attempts_addr_at", ["remote_addr", "at"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", simpul.engine.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_username"), ["username"], unique=False)

    op.create_table(
        "user_settings",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(["username"], ["users.username"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("username"),
    )

    op.create_table(
        "case_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_comments_case_id"), ["case_id"], unique=False)

    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_human_tasks_office_due", ["office_code", "due_at"], unique=False)
        batch_op.create_index("ix_human_tasks_assignee_due", ["office_code", "assignee", "due_at"], unique=False)


def downgrade():
    with op.batch_alter_table("human_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_human_tasks_assignee_due")
        batch_op.drop_index("ix_human_tasks_office_due")
    op.drop_table("case_comments")
    op.drop_table("user_settings")
    op.drop_table("api_tokens")
    op.drop_table("login_attempts")
