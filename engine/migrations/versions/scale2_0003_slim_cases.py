"""Finished cases keep the steps they passed instead of their whole task tree

A case that ended (completed or cancelled, not closed by a rejection, which a supervisor
may reopen) has its stored workflow state replaced by ``{"slim": 1, "completed": [...]}``:
the BPMN ids of the elements it completed, which is what its diagram highlights (see
engine/slim.py).  Its data, outcome and audit events are untouched.

Runs on a database already holding cases: each finished case's completed elements are read
off its stored state (no process spec needed), in batches.  Not reversible: the downgrade
leaves the slim states as they are.

Revision ID: scale2_0003_slim_cases
Revises: scale2_0002_outbox_pruning
"""

import sqlalchemy as sa
from alembic import op

from simpul.engine.slim import completed_in_stored, element_ids, is_slim, slim_state

revision = "scale2_0003_slim_cases"
down_revision = "scale2_0002_outbox_pruning"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    conn = op.get_bind()
    elements = {
        vid: element_ids(xml) for vid, xml in conn.execute(sa.text("SELECT id, bpmn_xml FROM process_versions"))
    }
    last = 0
    while True:
        rows = conn.execute(
            sa.text(
                "SELECT c.id, c.process_version_id, w.state FROM cases c JOIN workflow_states w ON w.case_id = c.id "
                "WHERE c.id > :last AND c.status IN ('completed', 'cancelled') "
                "AND (c.outcome IS NULL OR c.outcome <> 'rejected') ORDER BY c.id LIMIT :n"
            ),
            {"last": last, "n": BATCH},
        ).all()
        if not rows:
            break
        last = rows[-1].id
        slimmed = [
            {"cid": r.id, "state": slim_state(completed_in_stored(r.state, elements.get(r.process_version_id, ())))}
            for r in rows
            if not is_slim(r.state)
        ]
        if slimmed:
            conn.execute(sa.text("UPDATE workflow_states SET state = :state WHERE case_id = :cid"), slimmed)


def downgrade():
    pass  # the task trees are gone; a slim state still loads as a finished case
