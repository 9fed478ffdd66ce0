"""Join the feature branches into one head; drop an index the inbox no longer needs

ix_human_tasks_assignee (office_code, assignee) is a prefix of ix_human_tasks_assignee_due
(office_code, assignee, due_at), added with the inbox: every step wrote both.

Revision ID: 0006_merge
Revises: 0002_web, 0003_documents, 0005_process_admin

(It also joined 0004_coordination, the coordination plugin's table, until that table moved to
the plugin's own history; engine.migrate forgets that id in an existing database.)
"""

from alembic import op

revision = "0006_merge"
down_revision = ("0002_web", "0003_documents", "0005_process_admin")
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.drop_index("ix_human_tasks_assignee")


def downgrade():
    with op.batch_alter_table("human_tasks") as batch_op:
        batch_op.create_index("ix_human_tasks_assignee", ["office_code", "assignee"], unique=False)
