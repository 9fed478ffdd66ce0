"""Full step marks for the cases from before step_marks, and SLA escalations as breaches

* dashboard_0007 gave the cases already there only their start and end marks, so their steps
  were missing from the flow, the step times and the workload.  Each case with no step mark
  gets one per step from its audit events (``case_events``: a task completed, a service run,
  a message received, a reopening), as ``engine.stats.note_event`` writes them: the
  milestone of the step, the time since the case's previous step (a task's own creation time
  and due time were not kept, so ``opened_at`` is the previous step and ``breached`` false).
* An SLA escalation (a non-interrupting boundary timer that opened its task, e.g. "Batas
  waktu kartu kembali" -> "Eskalasi: kartu belum kembali") is a breach from now on
  (``engine.stats.note_breach``): each one already fired gets its ``sla`` mark from its
  ``timer_fired`` event, once.

Reads the events case by case in batches, keyed by case id, so it runs on a database holding
many cases without loading them at once.

Revision ID: residents2_0001_marks_backfill
Revises: scale_0001_search
"""

import sqlalchemy as sa
from alembic import op

revision = "residents2_0001_marks_backfill"
down_revision = "scale_0001_search"
branch_labels = None
depends_on = None

BATCH = 500

#: as engine.stats.MILESTONES when this revision was written (a migration keeps its own copy)
MILESTONES = {
    "Task_biometric_recording": "recorded",
    "Task_biometric_update": "recorded",
    "Task_rerecord_biometric": "recorded",
    "Service_send_to_regency": "sent",
    "card_printed": "printed",
    "temporary_certificate_issued": "suket",
}
KINDS = {
    "case_started": "start",
    "task_completed": "task",
    "service_completed": "service",
    "message_received": "message",
    "case_reopened": "reopen",
}
_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _escalation_steps(xml: str) -> frozenset:
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    except Exception:
        return frozenset()
    timers = {
        node.get("id")
        for node in root.iter(f"{_BPMN}boundaryEvent")
        if node.get("cancelActivity") == "false" and node.find(f"{_BPMN}timerEventDefinition") is not None
    }
    targets = {f.get("targetRef") for f in root.iter(f"{_BPMN}sequenceFlow") if f.get("sourceRef") in timers}
    return frozenset(
        node.get("name") or node.get("id")
        for node in root.iter()
        if node.get("id") in targets and isinstance(node.tag, str) and not node.tag.endswith("Event")
    )


def _as_dt(value):
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _kelurahan(data):
    import json

    if isinstance(data, str):
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    return str(data["kelurahan"])[:100] if isinstance(data, dict) and data.get("kelurahan") else None


def _step_marks(case, events) -> list[dict]:
    """The marks ``note_event`` would have written for one case's events."""
    marks, last_work = [], None
    base = dict(
        case_id=case.id, office_code=case.office_code, process_key=case.process_key, kelurahan=_kelurahan(case.data)
    )
    for event in events:
        kind, at = KINDS.get(event.kind), _as_dt(event.at)
        if kind is None:
            continue
        if kind == "start":
            last_work = at
            continue  # the start mark is there already (dashboard_0007)
        opened = last_work
        row = dict(
            base,
            kind=kind,
            step=event.step,
            step_name=(event.step_name or event.step or "")[:200] or None,
            milestone="reopened" if kind == "reopen" else MILESTONES.get(event.step),
            role=None,
            actor=event.actor,
            opened_at=at if kind == "reopen" else opened,
            closed_at=at,
            seconds=0 if kind == "reopen" else (int((at - opened).total_seconds()) if opened is not None else None),
            breached=False,
        )
        marks.append(row)
        if kind != "message":
            last_work = at
    return marks


def _sla_marks(conn, escalations_of) -> list[dict]:
    """One ``sla`` mark per escalation timer that fired and has none yet."""
    rows = conn.execute(
        sa.text(
            "SELECT e.case_id, e.at, e.actor, e.detail, c.office_code, c.process_key, c.process_version_id, c.data"
            " FROM case_events e JOIN cases c ON c.id = e.case_id"
            " WHERE e.kind = 'timer_fired' AND e.detail IS NOT NULL AND NOT EXISTS ("
            "   SELECT 1 FROM step_marks m WHERE m.case_id = e.case_id AND m.kind = 'sla' AND m.closed_at = e.at)"
        )
    ).all()
    marks = []
    for case_id, at, actor, detail, office, process, version_id, data in rows:
        opened = [name.strip() for name in detail.split(", ") if name.strip()]
        hit = [name for name in opened if name in escalations_of(version_id)]
        if not hit:
            continue
        marks.append(
            dict(
                case_id=case_id,
                office_code=office,
                process_key=process,
                kelurahan=_kelurahan(data),
                kind="sla",
                step=None,
                step_name=hit[0][:200],
                milestone="sla_breach",
                role=None,
                actor=actor,
                opened_at=None,
                closed_at=_as_dt(at),
                seconds=None,
                breached=True,
            )
        )
    return marks


def _marks_table():
    return sa.table(
        "step_marks",
        *(
            sa.column(name)
            for name in (
                "case_id",
                "office_code",
                "process_key",
                "kind",
                "step",
                "step_name",
                "milestone",
                "kelurahan",
                "role",
                "actor",
                "seconds",
                "breached",
            )
        ),
        sa.column("opened_at", sa.DateTime(timezone=True)),
        sa.column("closed_at", sa.DateTime(timezone=True)),
    )


def _bind(conn, rows):
    """Datetimes as the column type stores them (naive UTC on SQLite)."""
    if conn.dialect.name != "sqlite":
        return rows
    for row in rows:
        for key in ("opened_at", "closed_at"):
            if row.get(key) is not None:
                row[key] = row[key].replace(tzinfo=None)
    return rows


def _key(kind, step, at):
    return kind, step, _as_dt(at).replace(microsecond=0)


def upgrade():
    conn = op.get_bind()
    marks = _marks_table()
    ids = sa.bindparam("ids", expanding=True)
    after = 0
    while True:
        cases = conn.execute(
            sa.text("SELECT id, office_code, process_key, data FROM cases WHERE id > :after ORDER BY id LIMIT :n"),
            {"after": after, "n": BATCH},
        ).all()
        if not cases:
            break
        after = cases[-1].id
        by_case: dict = {c.id: [] for c in cases}
        for event in conn.execute(
            sa.text(
                "SELECT case_id, at, actor, kind, step, step_name FROM case_events"
                " WHERE case_id IN :ids AND kind IN ('case_started', 'task_completed', 'service_completed',"
                " 'message_received', 'case_reopened') ORDER BY case_id, at, id"
            ).bindparams(ids),
            {"ids": list(by_case)},
        ):
            by_case[event.case_id].append(event)
        # a case from before that went on since has the marks of its later steps already
        have = {
            (row.case_id, *_key(row.kind, row.step, row.closed_at))
            for row in conn.execute(
                sa.text(
                    "SELECT case_id, kind, step, closed_at FROM step_marks WHERE case_id IN :ids"
                    " AND kind IN ('task', 'service', 'message', 'reopen')"
                ).bindparams(ids),
                {"ids": list(by_case)},
            )
        }
        rows = [
            row
            for c in cases
            for row in _step_marks(c, by_case[c.id])
            if (c.id, *_key(row["kind"], row["step"], row["closed_at"])) not in have
        ]
        if rows:
            conn.execute(marks.insert(), _bind(conn, rows))

    cache: dict = {}

    def escalations_of(version_id):
        if version_id not in cache:
            xml = conn.execute(
                sa.text("SELECT bpmn_xml FROM process_versions WHERE id = :id"), {"id": version_id}
            ).scalar()
            cache[version_id] = _escalation_steps(xml or "")
        return cache[version_id]

    rows = _sla_marks(conn, escalations_of)
    if rows:
        conn.execute(marks.insert(), _bind(conn, rows))


def downgrade():
    # the backfilled marks cannot be told from those written since; the SLA marks can
    op.execute("DELETE FROM step_marks WHERE kind = 'sla'")
