"""socialization: residents indexed by (office_code, id), the without-e-KTP list's keyset order

The list pages through an office's residents in id order (``id > last``, ``ORDER BY id``).
With only the office's NIK and area indexes, SQLite read every resident of the office and
sorted them for each page (about 0.5 s at 100,000 residents); with this index it walks them
in order and stops at the page's end.  Runs on a registry already holding residents.

Revision ID: lead5_0001_residents_office_id
Revises: imports3_0001_import_slices
"""

from alembic import op

revision = "lead5_0001_residents_office_id"
down_revision = "imports3_0001_import_slices"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_soc_residents_office_id", "socialization_residents", ["office_code", "id"])


def downgrade():
    op.drop_index("ix_soc_residents_office_id", table_name="socialization_residents")
