"""Inbox indexes that hold the whole paging key (due date, waiting since, id)

The inbox pages by key (engine/inbox.py): a page starts after the (due_at, created_at, id)
of the previous page's last task.  Each view's index now ends with those three columns, so
a page -- the last one of a regency's 20,000 open tasks too -- is read from the index in
order and cut after a page's rows, and "My roles" has the assignee in its index so that its
badge is counted from the index alone.

Runs on a database already holding cases: the indexes are rebuilt from the open tasks.

Revision ID: scale2_0001_inbox_keys
Revises: scale_0001_search
"""

import sqlalchemy as sa
from alembic import op

revision = "scale2_0001_inbox_keys"
down_revision = "scale_0001_search"
branch_labels = None
depends_on = None

NEW = {
    "ix_human_tasks_inbox": ["office_code", "role", "assignee", "due_at", "created_at", "id"],
    "ix_human_tasks_office_due": ["office_code", "due_at", "created_at", "id"],
    "ix_human_tasks_assignee_due": ["office_code", "assignee", "due_at", "created_at", "id"],
}
OLD = {
    "ix_human_tasks_inbox": ["office_code", "role", "due_at"],
    "ix_human_tasks_office_due": ["office_code", "due_at"],
    "ix_human_tasks_assignee_due": ["office_code", "assignee", "due_at"],
}


def _replace(indexes: dict) -> None:
    existing = {ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("human_tasks")}
    for name, columns in indexes.items():
        if name in existing:
            op.drop_index(name, table_name="human_tasks")
        op.create_index(name, "human_tasks", columns, unique=False)


def upgrade():
    _replace(NEW)


def downgrade():
    _replace(OLD)
