"""The camat's figures: what is open now, the flow per week, time in each step, workload.

Written on the step path: ``note_event`` adds one ``step_marks`` row for each audit event
that moves a case (started, a task completed, a service run, a message received, ended,
reopened), inside the step's own transaction.  Read by ``dashboard`` and
``engine.recap.monthly_recap`` with index ranges only: the open tasks of one office (the
inbox index), the marks of one office in the chosen period, the incident cases of one
office.  Nothing here scans the event log or every case.

Medians and 90th percentiles are computed in Python over the period's marks (the standard
library's ``statistics``), the same on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, case, exists, func, literal_column, select

from .errors import Forbidden, InvalidInput, NotFound
from .models import Case, CaseEvent, HumanTask, Office, OutboxMessage, User, utcnow
from .models_stats import StepMark

#: milestone -> the steps (task and service ids, message names) that reach it, for the
#: bundled e-KTP processes.
MILESTONES = {
    "recorded": ("Task_biometric_recording", "Task_biometric_update", "Task_rerecord_biometric"),
    "sent": ("Service_send_to_regency",),
    "printed": ("card_printed",),
    "suket": ("temporary_certificate_issued",),
}
FLOW = ("started", "recorded", "sent", "printed", "handed_over", "rejected")
_MARK_KINDS = {
    "case_started": "start",
    "task_completed": "task",
    "service_completed": "service",
    "message_received": "message",
    "case_reopened": "reopen",
}
_MARKS = StepMark.__table__
_INSERT_MARK = _MARKS.insert()


def _milestone_of(step: str | None) -> str | None:
    for name, steps in MILESTONES.items():
        if step in steps:
            return name
    return None


def _previous_work(conn, case_id: int):
    """When the case's last non-message mark was made (what a message was waiting on)."""
    return conn.execute(
        select(_MARKS.c.closed_at)
        .where(_MARKS.c.case_id == case_id, _MARKS.c.kind.in_(("start", "task", "service", "reopen")))
        .order_by(_MARKS.c.id.desc())
        .limit(1)
    ).scalar()


_WAITERS: dict[int, dict[str, str]] = {}


def _message_waiters(session, version_id: int) -> dict[str, str]:
    """{message name: name of the receive task or event waiting for it} of a process version,
    so a message's mark is named like the step the case waited in ("Menunggu kartu dicetak")."""
    if version_id not in _WAITERS:
        from lxml import etree

        from .models import ProcessVersion
        from .outcomes import _NS

        xml = session.scalar(select(ProcessVersion.bpmn_xml).where(ProcessVersion.id == version_id)) or "<x/>"
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        names = {m.get("id"): m.get("name") for m in root.iterfind("bpmn:message", _NS)}
        found: dict[str, str] = {}
        for node in root.iterfind(".//bpmn:receiveTask", _NS):
            if names.get(node.get("messageRef")) and node.get("name"):
                found.setdefault(names[node.get("messageRef")], node.get("name"))
        for definition in root.iterfind(".//bpmn:messageEventDefinition", _NS):
            parent = definition.getparent()
            if names.get(definition.get("messageRef")) and parent.get("name"):
                found.setdefault(names[definition.get("messageRef")], parent.get("name"))
        _WAITERS[version_id] = found
    return _WAITERS[version_id]


_ESCALATIONS: dict[int, frozenset[str]] = {}


def escalation_steps(root) -> frozenset[str]:
    """Names of the tasks a non-interrupting boundary timer leads to in a parsed BPMN
    document: its SLA escalations ("Batas waktu kartu kembali" -> "Eskalasi: kartu belum
    kembali").  An interrupting timer (the 14 days without documents) closes a case instead,
    and is not a breach of the office's own time."""
    from .outcomes import _NS

    timers = {
        node.get("id")
        for node in root.iterfind(".//bpmn:boundaryEvent", _NS)
        if node.get("cancelActivity") == "false" and node.find("bpmn:timerEventDefinition", _NS) is not None
    }
    targets = {f.get("targetRef") for f in root.iterfind(".//bpmn:sequenceFlow", _NS) if f.get("sourceRef") in timers}
    return frozenset(
        node.get("name") or node.get("id")
        for node in root.iter()
        if node.get("id") in targets and isinstance(node.tag, str) and not node.tag.endswith("Event")
    )


def _escalations(session, version_id: int) -> frozenset[str]:
    if version_id not in _ESCALATIONS:
        from lxml import etree

        from .models import ProcessVersion

        xml = session.scalar(select(ProcessVersion.bpmn_xml).where(ProcessVersion.id == version_id)) or "<x/>"
        root = etree.fromstring(xml.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
        _ESCALATIONS[version_id] = escalation_steps(root)
    return _ESCALATIONS[version_id]


def note_breach(uow, case, values: dict) -> None:
    """A ``timer_fired`` that opened an SLA escalation: one ``sla`` mark, a breach counted once
    (the timer fires once), in the worker's transaction that fired it."""
    opened = [name.strip() for name in (values.get("detail") or "").split(", ") if name.strip()]
    escalations = _escalations(uow.session, case.process_version_id)
    hit = [name for name in opened if name in escalations]
    if not hit or case.status != "active":
        return
    uow.session.connection().execute(
        _INSERT_MARK,
        dict(
            case_id=case.id,
            office_code=case.office_code,
            process_key=case.process_key,
            kelurahan=_kelurahan(case),
            kind="sla",
            step=None,
            step_name=hit[0][:200],
            milestone=SLA_BREACH,
            role=None,
            actor=values["actor"],
            opened_at=None,
            closed_at=values["at"],
            seconds=None,
            breached=True,
        ),
    )


SLA_BREACH = "sla_breach"


def note_event(uow, case, kind: str, values: dict, task=None) -> None:
    """Add the summary rows for one audit event (called by ``record_event``)."""
    mark_kind = _MARK_KINDS.get(kind)
    if kind == "case_cancelled":
        note_end(uow.session.connection(), case, values["at"])
    if kind == "timer_fired":
        note_breach(uow, case, values)
    if mark_kind is None:
        return
    conn = uow.session.connection()
    at = values["at"]
    base = dict(
        case_id=case.id,
        office_code=case.office_code,
        process_key=case.process_key,
        kelurahan=_kelurahan(case),
        closed_at=at,
        breached=False,
        role=None,
        actor=values["actor"],
    )
    row = dict(base, kind=mark_kind, step=values["step"], step_name=values["step_name"], milestone=None)
    if mark_kind == "start":
        row.update(milestone="started", opened_at=at, seconds=0, step=None, step_name=None)
    elif mark_kind == "reopen":
        row.update(milestone="reopened", opened_at=at, seconds=0)
    else:
        row["milestone"] = _milestone_of(values["step"])
        if mark_kind == "task" and task is not None:
            opened = getattr(task, "created_at", None)
            due = getattr(task, "due_at", None)
            row.update(role=getattr(task, "role", None), breached=bool(due is not None and at > due))
        else:
            opened = _previous_work(conn, case.id)
            if mark_kind == "message":
                waiter = _message_waiters(uow.session, case.process_version_id).get(values["step"])
                row["step_name"] = (waiter or values["step_name"] or "")[:200] or None
        row["opened_at"] = opened
        row["seconds"] = int((at - opened).total_seconds()) if opened is not None else None
    conn.execute(_INSERT_MARK, row)


def _kelurahan(case) -> str | None:
    data = case.data if isinstance(getattr(case, "data", None), dict) else {}
    return str(data["kelurahan"])[:100] if data.get("kelurahan") else None


def note_end(conn, case, at) -> None:
    """The case has just ended (completed with its outcome, or cancelled)."""
    conn.execute(
        _INSERT_MARK,
        dict(
            case_id=case.id,
            office_code=case.office_code,
            process_key=case.process_key,
            kelurahan=_kelurahan(case),
            kind="end",
            step=None,
            step_name=case.end_reason[:200] if case.end_reason else None,
            milestone=case.outcome or case.status,
            role=None,
            actor=None,
            opened_at=case.created_at,
            closed_at=at,
            seconds=int((at - case.created_at).total_seconds()),
            breached=False,
        ),
    )


# -- reading ---------------------------------------------------------------------------------

IDLE_AFTER = timedelta(days=1)
MAX_PERIOD_DAYS = 400


def dashboard_offices(session, actor) -> list[Office]:
    """The offices a viewer's dashboard shows: the own kecamatan, or a regency's kecamatan."""
    if actor.is_system:
        return list(session.scalars(select(Office).where(Office.kind == "kecamatan").order_by(Office.code)))
    own = session.get(Office, actor.office_code)
    if own is None:
        return []
    if own.kind == "regency":
        return list(
            session.scalars(
                select(Office).where(Office.parent_code == own.code, Office.kind == "kecamatan").order_by(Office.code)
            )
        )
    return [own]


def viewer_offices(runtime, actor) -> list[tuple[str, str]]:
    """(code, name) of the offices a viewer's dashboard shows (see ``dashboard_offices``)."""
    with runtime.read() as s:
        return [(o.code, o.name) for o in dashboard_offices(s, actor)]


def may_see_figures_of(session, actor, office_code: str) -> bool:
    """A camat sees the own office; a regency officer (or supervisor) its kecamatan."""
    return any(o.code == office_code for o in dashboard_offices(session, actor))


def _need_viewer(actor) -> None:
    if not (actor.has_role("supervisor") or actor.has_role("regency_officer")):
        raise Forbidden("The dashboard is for the camat (supervisor) and the regency.")


def _zone(tz) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def office_today(tz="UTC") -> date:
    """Today's date in the office's time zone ``tz`` (the node setting ``timezone``): at
    01:00 WITA it is already the next day, while UTC's date is still yesterday's."""
    return utcnow().astimezone(_zone(tz)).date()


def parse_period(since=None, until=None, *, default_days: int = 28, tz="UTC") -> tuple[datetime, datetime]:
    """[since, until) as UTC datetimes from ISO dates (``until`` inclusive as a day), the days
    being those of the office's time zone ``tz`` (the node setting ``timezone``)."""
    zone = _zone(tz)
    try:
        end_day = date.fromisoformat(until) if until else office_today(zone)
        start_day = date.fromisoformat(since) if since else end_day - timedelta(days=default_days - 1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("A date is written YYYY-MM-DD.") from exc
    if start_day > end_day:
        raise InvalidInput("The period starts after it ends.")
    if (end_day - start_day).days > MAX_PERIOD_DAYS:
        raise InvalidInput("A period is at most {days} days.", days=MAX_PERIOD_DAYS)
    start = datetime.combine(start_day, time.min, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
    return start, end


def week_of(at: datetime, tz="UTC") -> date:
    """The Monday of the week holding ``at``, in the office's time zone ``tz``: a case started
    on Monday 06:00 WITA (Sunday 22:00 UTC) is Monday's."""
    day = at.astimezone(_zone(tz)).date()
    return day - timedelta(days=day.weekday())


def _quantiles(values: list[int]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    if len(values) == 1:
        return float(values[0]), float(values[0])
    ordered = sorted(values)
    return float(statistics.median(ordered)), float(statistics.quantiles(ordered, n=10, method="inclusive")[-1])


IDLE_LIST_LIMIT = 100


def _now_figures(s, office: str, now: datetime) -> dict:
    t = HumanTask.__table__
    overdue = func.sum(case((and_(t.c.due_at.is_not(None), t.c.due_at < now), 1), else_=0))
    steps = [
        {"step": step, "name": name, "name_en": name_en, "role": role, "open": n, "overdue": int(late or 0)}
        for step, name, name_en, role, n, late in s.execute(
            select(t.c.step, t.c.name, t.c.name_en, t.c.role, func.count(), overdue)
            .where(t.c.office_code == office)
            .group_by(t.c.step, t.c.name, t.c.name_en, t.c.role)
        )
    ]
    by_role: dict = defaultdict(int)
    for row in steps:
        by_role[row["role"]] += row["open"]
    incidents = s.scalar(
        select(func.count()).select_from(Case).where(Case.office_code == office, Case.status == "incident")
    )
    o = OutboxMessage.__table__
    backlog = [
        {"peer": peer, "pending": n, "oldest": oldest.isoformat() if oldest else None}
        for peer, n, oldest in s.execute(
            select(o.c.destination_office, func.count(), func.min(o.c.created_at))
            .where(o.c.status == "pending", o.c.source_office == office)
            .group_by(o.c.destination_office)
            .order_by(o.c.destination_office)
        )
    ]
    # Claimed and idle: nothing happened to the task (claim, release, ...) for a day.
    e = CaseEvent.__table__
    recent = exists().where(e.c.task_id == t.c.id, e.c.at > now - IDLE_AFTER)
    idle_where = (t.c.office_code == office, t.c.assignee.is_not(None), t.c.created_at < now - IDLE_AFTER, ~recent)
    idle_count = s.scalar(select(func.count()).select_from(t).where(*idle_where))
    last_event = select(func.max(e.c.at)).where(e.c.task_id == t.c.id).scalar_subquery()
    idle = []
    for task_id, case_id, step, name, assignee, created_at, since in s.execute(
        select(t.c.id, t.c.case_id, t.c.step, t.c.name, t.c.assignee, t.c.created_at, last_event)
        .where(*idle_where)
        .order_by(t.c.created_at)
        .limit(IDLE_LIST_LIMIT)
    ):
        since = since or created_at
        idle.append(
            {
                "task_id": task_id,
                "case_id": case_id,
                "step": step,
                "name": name,
                "assignee": assignee,
                "since": since.isoformat(),
                "idle_days": (now - since).days,
            }
        )
    if idle:
        receipts = dict(s.execute(select(Case.id, Case.receipt).where(Case.id.in_({i["case_id"] for i in idle}))).all())
        for item in idle:
            item["receipt"] = receipts.get(item.pop("case_id"))
    idle.sort(key=lambda r: r["since"])
    return {
        "open_by_step": sorted(steps, key=lambda r: (-r["open"], r["step"])),
        "open_by_role": [{"role": r, "open": n} for r, n in sorted(by_role.items())],
        "open_total": sum(r["open"] for r in steps),
        "overdue_total": sum(r["overdue"] for r in steps),
        "incidents": incidents,
        "outbox": backlog,
        "idle_claimed": idle,
        "idle_claimed_total": idle_count,
    }


def _day(s, column, tz="UTC", at: datetime | None = None):
    """The day of a timestamp in the office's time zone, in SQL (grouping happens in the
    database).  PostgreSQL converts with the zone's rules; SQLite, which has no zones, adds
    the zone's offset at ``at`` (the period's start: Indonesia's zones keep one offset)."""
    zone = _zone(tz)
    if s.bind.dialect.name == "postgresql":
        return func.date(func.timezone(getattr(zone, "key", "UTC"), column))
    offset = (at or utcnow()).astimezone(zone).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(column, f"{minutes:+d} minutes") if minutes else func.date(column)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _durations(s, where, group, label=None) -> dict:
    """{group value: (count, median, p90)} of ``seconds`` over the marks matching ``where``
    (keys are ``(group value, label)`` when an aggregate ``label`` is given).

    PostgreSQL computes the percentiles itself (percentile_cont); on SQLite, which has none,
    the seconds come back and Python's statistics computes the same interpolated values."""
    m = _MARKS
    if s.bind.dialect.name == "postgresql":
        cols = [group, *([label] if label is not None else [])]
        found = {}
        for row in s.execute(
            select(
                *cols,
                func.count(),
                func.percentile_cont(0.5).within_group(m.c.seconds),
                func.percentile_cont(0.9).within_group(m.c.seconds),
            )
            .where(*where)
            .group_by(group)
        ):
            *keys, n, med, p90 = row
            key = tuple(keys) if label is not None else keys[0]
            found[key] = (n, float(med) if med is not None else None, float(p90) if p90 is not None else None)
        return found
    values: dict = defaultdict(list)
    names: dict = {}
    for key, name, seconds in s.execute(
        select(group, m.c.step_name if label is not None else group, m.c.seconds).where(*where)
    ):
        values[key].append(seconds)
        if name is not None and (key not in names or name > names[key]):
            names[key] = name
    return {
        ((key, names.get(key)) if label is not None else key): (len(v), *_quantiles(v)) for key, v in values.items()
    }


def _flow_figures(s, office: str, start: datetime, end: datetime, tz="UTC") -> dict:
    m = _MARKS
    zone = _zone(tz)
    in_period = (m.c.office_code == office, m.c.closed_at >= start, m.c.closed_at < end)
    weeks = []
    day = week_of(start, zone)
    while datetime.combine(day, time.min, tzinfo=zone) < end:
        weeks.append(day)
        day += timedelta(days=7)
    flow = {w: dict.fromkeys((*FLOW, "breaches", "escalations"), 0) for w in weeks}
    outcomes: dict = defaultdict(int)
    reasons: dict = defaultdict(int)
    day_col = _day(s, m.c.closed_at, zone, start)
    reason_col = case((m.c.kind == literal_column("'end'"), m.c.step_name))  # one SQL text for GROUP BY
    actor_col = case((m.c.kind == literal_column("'task'"), m.c.actor))
    people: dict = defaultdict(lambda: defaultdict(int))
    # One pass over the period's marks for the flow, the outcomes and the workload.
    for kind, milestone, reason, breached, who, on, n in s.execute(
        select(m.c.kind, m.c.milestone, reason_col, m.c.breached, actor_col, day_col, func.count())
        .where(*in_period)
        .group_by(m.c.kind, m.c.milestone, reason_col, m.c.breached, actor_col, day_col)
    ):
        on_day = _as_date(on)  # already the office's day
        week = on_day - timedelta(days=on_day.weekday())
        if week not in flow:
            continue
        if milestone in FLOW:
            flow[week][milestone] += n
        if breached:  # a task done after its due time, or an SLA escalation
            flow[week]["breaches"] += n
        if milestone == SLA_BREACH:
            flow[week]["escalations"] += n
        if kind == "end":
            outcomes[milestone] += n
            if milestone == "rejected":
                reasons[reason or "?"] += n
        if who:
            people[who][week] += n
    timed = (*in_period, m.c.kind.in_(("task", "service", "message")), m.c.seconds.is_not(None), m.c.step.is_not(None))
    steps = [
        {"step": step, "name": name or step, "count": n, "median_s": med, "p90_s": p90}
        for (step, name), (n, med, p90) in _durations(s, timed, m.c.step, func.max(m.c.step_name)).items()
    ]
    steps.sort(key=lambda r: (-(r["median_s"] or 0), -(r["p90_s"] or 0), r["step"]))
    printed = _durations(s, (*in_period, m.c.milestone == "printed", m.c.seconds.is_not(None)), m.c.milestone)
    t_count, t_median, t_p90 = printed.get("printed", (0, None, None))
    last_day = (end.astimezone(zone) - timedelta(days=1)).date()
    return {
        "weeks": [
            {"week": w.isoformat(), "last_day": min(w + timedelta(days=6), last_day).isoformat(), **flow[w]}
            for w in weeks
        ],
        "totals": {k: sum(flow[w][k] for w in weeks) for k in (*FLOW, "breaches", "escalations")},
        "step_times": steps,
        "bottleneck": steps[0] if steps else None,
        "turnaround": {"count": t_count, "median_s": t_median, "p90_s": t_p90},
        "outcomes": dict(sorted(outcomes.items())),
        "rejections": [{"reason": r, "count": n} for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))],
        "completed_by_person": {a: {w.isoformat(): n for w, n in per.items()} for a, per in people.items()},
    }


def _people(s, office: str, flow: dict) -> list[dict]:
    t = HumanTask.__table__
    open_by = dict(
        s.execute(
            select(t.c.assignee, func.count())
            .where(t.c.office_code == office, t.c.assignee.is_not(None))
            .group_by(t.c.assignee)
        ).all()
    )
    users = dict(s.execute(select(User.username, User.display_name).where(User.office_code == office)).all())
    done = flow.pop("completed_by_person")
    names = sorted(set(open_by) | set(done), key=lambda u: (users.get(u) or u).lower())  # by name, not by speed
    return [
        {
            "username": u,
            "display_name": users.get(u) or u,
            "open": open_by.get(u, 0),
            "completed": [done.get(u, {}).get(w["week"], 0) for w in flow["weeks"]],
            "completed_total": sum(done.get(u, {}).values()),
        }
        for u in names
    ]


def dashboard(runtime, actor, *, since=None, until=None, office: str | None = None) -> dict:
    """Every figure of the camat's dashboard, per office the viewer sees.

    ``since``/``until`` (ISO dates, default the last four weeks) choose the period of the
    flow, the step times and the workload; "now" figures are as of the call."""
    _need_viewer(actor)
    tz = runtime.config.timezone
    start, end = parse_period(since, until, tz=tz)
    now = utcnow()
    with runtime.read() as s:
        offices = dashboard_offices(s, actor)
        if office:
            offices = [o for o in offices if o.code == office]
            if not offices:
                raise NotFound("Office {code} not found.", code=office)
        result = []
        for o in offices:
            flow = _flow_figures(s, o.code, start, end, tz)
            result.append(
                {
                    "office": o.code,
                    "name": o.name,
                    "now": _now_figures(s, o.code, now),
                    "flow": flow,
                    "people": _people(s, o.code, flow),
                }
            )
        return {
            "since": start.astimezone(_zone(tz)).date().isoformat(),
            "until": (end.astimezone(_zone(tz)) - timedelta(days=1)).date().isoformat(),
            "timezone": str(tz),
            "generated_at": now.isoformat(),
            "offices": result,
        }


def now_figures(runtime, actor, office: str) -> dict:
    """The dashboard's "now" figures of the viewer's own office or one it oversees (open and
    overdue steps, incidents, the outbox, claimed tasks left idle), without the period's
    flow: the supervisor's page needs only these."""
    _need_viewer(actor)
    with runtime.read() as s:
        if office != actor.office_code and not may_see_figures_of(s, actor, office):
            raise NotFound("Office {code} not found.", code=office)
        return _now_figures(s, office, utcnow())


# -- the cases behind a figure -----------------------------------------------------------------


def figure_filter(stmt, figure: dict, now: datetime | None = None, tz="UTC"):
    """Narrow a ``select(Case)`` to the cases behind one dashboard figure.

    ``figure`` keys (all optional, from a dashboard link): ``step`` (an open task at that
    step), ``role``, ``overdue`` (its task is past due), ``milestone`` or ``done_step`` with
    ``since``/``until`` (a mark in that period), ``actor`` (a task completed by that
    person in the period), ``breached`` (a task done late in the period), ``outcome``,
    ``peer`` (a message to that office is waiting in the outbox), ``claimed_by``."""
    now = now or utcnow()
    t = HumanTask.__table__
    if figure.get("step") or figure.get("role") or figure.get("overdue") or figure.get("claimed_by"):
        cond = [t.c.case_id == Case.id]
        if figure.get("step"):
            cond.append(t.c.step == figure["step"])
        if figure.get("role"):
            cond.append(t.c.role == figure["role"])
        if figure.get("overdue"):
            cond.append(and_(t.c.due_at.is_not(None), t.c.due_at < now))
        if figure.get("claimed_by"):
            cond.append(t.c.assignee == figure["claimed_by"])
        stmt = stmt.where(exists().where(*cond))
    if figure.get("milestone") or figure.get("done_step") or figure.get("actor") or figure.get("breached"):
        start, end = parse_period(figure.get("since"), figure.get("until"), tz=tz)
        m = _MARKS
        cond = [m.c.case_id == Case.id, m.c.closed_at >= start, m.c.closed_at < end]
        if figure.get("milestone"):
            cond.append(m.c.milestone == figure["milestone"])
        if figure.get("done_step"):
            cond.append(m.c.step == figure["done_step"])
        if figure.get("actor"):
            cond += [m.c.actor == figure["actor"], m.c.kind == "task"]
        if figure.get("breached"):
            cond.append(m.c.breached.is_(True))
        stmt = stmt.where(exists().where(*cond))
    if figure.get("outcome"):
        stmt = stmt.where(Case.outcome == figure["outcome"])
    if figure.get("peer"):
        o = OutboxMessage.__table__
        stmt = stmt.where(
            exists().where(o.c.case_id == Case.id, o.c.status == "pending", o.c.destination_office == figure["peer"])
        )
    return stmt


FIGURE_KEYS = (
    "step",
    "role",
    "overdue",
    "claimed_by",
    "milestone",
    "done_step",
    "actor",
    "breached",
    "outcome",
    "peer",
    "since",
    "until",
)
