"""Outcomes that can be counted, and the summary rows behind the dashboard

cases.outcome says how a case ended (handed_over, rejected, abandoned, cancelled, ...); the
existing cases get theirs from their status and the end event they ended at (by its name,
looked up in the BPMN of the case's process version).  step_marks holds one row per step a
case passes; existing cases get their start and end marks from the cases table.

Revision ID: dashboard_0007_outcomes
Revises: 0006_merge
"""

import sqlalchemy as sa
from alembic import op

revision = "dashboard_0007_outcomes"
down_revision = "0006_merge"
branch_labels = None
depends_on = None

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
#: the outcomes of the bundled processes' end events, by name, for versions deployed before
#: end events carried them
_BUNDLED = {
    "Selesai": "handed_over",
    "Permohonan ditutup (tidak dilengkapi)": "abandoned",
    "Ditolak: data domisili tidak sesuai": "rejected",
    "Ditolak: perubahan data tidak sah": "rejected",
    "Ditolak: data tidak cocok dengan database": "rejected",
    "Ditutup: rekam ganda / gagal enrolmen": "rejected",
    "Eskalasi ditindaklanjuti": "completed",
    "Suket tercatat": "completed",
    "Dikembalikan ke kecamatan": "returned",
    "Kartu dikirim ke kecamatan": "card_sent",
}


def _outcomes_by_name(xml: str) -> dict:
    from lxml import etree

    found: dict = {}
    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except Exception:
        return found
    for node in root.iter(f"{_BPMN}endEvent"):
        for prop in node.iter(f"{_SPIFF}property"):
            if prop.get("name") == "outcome" and prop.get("value") not in (None, "", "branch"):
                found[node.get("name") or node.get("id")] = prop.get("value")
    return found


def upgrade():
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("outcome", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_cases_office_outcome", ["office_code", "outcome", "ended_at"], unique=False)
        batch_op.create_index("ix_cases_office_created", ["office_code", "created_at"], unique=False)
    op.create_table(
        "step_marks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("office_code", sa.String(length=16), nullable=False),
        sa.Column("process_key", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=100), nullable=True),
        sa.Column("step_name", sa.String(length=200), nullable=True),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("kelurahan", sa.String(length=100), nullable=True),
        sa.Column("role", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_step_marks_case", "step_marks", ["case_id", "id"], unique=False)
    op.create_index("ix_step_marks_office_at", "step_marks", ["office_code", "closed_at"], unique=False)
    op.create_index(
        "ix_step_marks_office_milestone_at", "step_marks", ["office_code", "milestone", "closed_at"], unique=False
    )

    conn = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id"),
        sa.column("status"),
        sa.column("outcome"),
        sa.column("end_reason"),
        sa.column("process_version_id"),
    )
    conn.execute(cases.update().where(cases.c.status == "cancelled").values(outcome="cancelled"))
    groups = conn.execute(
        sa.text("SELECT DISTINCT c.process_version_id, c.end_reason FROM cases c WHERE c.status = 'completed'")
    ).all()
    maps: dict = {}
    for version_id, reason in groups:
        if version_id not in maps:
            xml = conn.execute(
                sa.text("SELECT bpmn_xml FROM process_versions WHERE id = :id"), {"id": version_id}
            ).scalar()
            maps[version_id] = _outcomes_by_name(xml or "")
        outcome = maps[version_id].get(reason) or _BUNDLED.get(reason) or "completed"
        where = sa.and_(cases.c.status == "completed", cases.c.process_version_id == version_id)
        where = sa.and_(where, cases.c.end_reason.is_(None) if reason is None else cases.c.end_reason == reason)
        conn.execute(cases.update().where(where).values(outcome=outcome))
    # start and end marks of the cases already there (their step marks are not rebuilt)
    conn.execute(
        sa.text(
            "INSERT INTO step_marks (case_id, office_code, process_key, kind, milestone, actor, opened_at,"
            " closed_at, seconds, breached)"
            " SELECT id, office_code, process_key, 'start', 'started', created_by, created_at, created_at, 0, false"
            " FROM cases"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO step_marks (case_id, office_code, process_key, kind, step_name, milestone, opened_at,"
            " closed_at, breached)"
            " SELECT id, office_code, process_key, 'end', end_reason, outcome, created_at, ended_at, false"
            " FROM cases WHERE status IN ('completed', 'cancelled') AND ended_at IS NOT NULL"
        )
    )


def downgrade():
    op.drop_index("ix_step_marks_office_milestone_at", table_name="step_marks")
    op.drop_index("ix_step_marks_office_at", table_name="step_marks")
    op.drop_index("ix_step_marks_case", table_name="step_marks")
    op.drop_table("step_marks")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_index("ix_cases_office_created")
        batch_op.drop_index("ix_cases_office_outcome")
        batch_op.drop_column("outcome")
