"""process administration: drafts of diagrams being edited, bulk case migration runs

Revision ID: 0005_process_admin
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

import simpul.engine.models

revision = "0005_process_admin"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "process_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("bpmn_xml", sa.Text(), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("base_version_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("deployed_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("saved_by", sa.String(length=64), nullable=False),
        sa.Column("saved_at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["base_version_id"], ["process_versions.id"]),
        sa.ForeignKeyConstraint(["deployed_version_id"], ["process_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("process_drafts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_drafts_process_key"), ["process_key"], unique=False)

    op.create_table(
        "process_migration_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("target_version_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", simpul.engine.models.UTCDateTime(), nullable=False),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("migrated", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["target_version_id"], ["process_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("process_migration_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_process_migration_runs_process_key"), ["process_key"], unique=False)


def downgrade():
    op.drop_table("process_migration_runs")
    op.drop_table("process_drafts")
