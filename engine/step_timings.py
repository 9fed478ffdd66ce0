"""How long the steps of a procedure take in one office, measured on its own finished cases.

``step_timings`` is what an expected date or a "typically N days" line is computed from.  It
is built for an office with a million cases: the sample is the newest ``limit`` cases of the
procedure that finished in the last ``days`` days, found through the index
``ix_cases_office_process_ended`` (office, procedure, status, end time), and only those cases'
events are read (through the index on ``case_events.case_id``).  The cost is bounded by
``limit``, never by the size of the office's history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select

from .models import Case, CaseEvent, utcnow

#: the events that mark the end of a step (the step is the event's ``step``).
MILESTONE_KINDS = ("task_completed", "service_completed", "message_received")


def step_timings(
    runtime,
    office_code: str,
    process_key: str,
    *,
    days: int = 90,
    limit: int = 500,
    final_step: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The median time of each step in the office's recently finished cases of a procedure.

    A step's time is from the previous milestone of the case (its start, or the end of the
    step before) to the event that ended the step (``task_completed``, ``service_completed``
    or ``message_received``, whose ``step`` names it).  With ``final_step``, only cases that
    went through that step count (e.g. the handover: cases that were rejected or abandoned
    would make the procedure look faster than it is).

    Returns ``{"cases": n, "days": days, "since": iso, "total_median_seconds": s | None,
    "steps": [{"step", "median_seconds", "count", "offset_seconds"}, ...]}``, steps ordered
    by their median offset from the start (the order they typically happen in); ``count`` is
    how many sample cases went through the step (a step of a side path has a small count).
    """
    now = now or utcnow()
    since = now - timedelta(days=days)
    c = Case.__table__.c
    e = CaseEvent.__table__.c
    with runtime.read() as s:
        conn = s.connection()
        rows = conn.execute(
            select(c.id, c.created_at)
            .where(
                c.office_code == office_code,
                c.process_key == process_key,
                c.status == "completed",
                c.ended_at >= since,
                c.ended_at <= now,
            )
            .order_by(c.ended_at.desc())
            .limit(limit)
        ).all()
        started = {row.id: _aware(row.created_at) for row in rows}
        events: dict[int, list] = {case_id: [] for case_id in started}
        ids = list(started)
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            for ev in conn.execute(
                select(e.case_id, e.step, e.at)
                .where(e.case_id.in_(chunk), e.kind.in_(MILESTONE_KINDS))
                .order_by(e.case_id, e.id)
            ):
                events[ev.case_id].append((ev.step, _aware(ev.at)))
    durations: dict[str, list[float]] = {}
    offsets: dict[str, list[float]] = {}
    totals: list[float] = []
    counted = 0
    for case_id, milestones in events.items():
        if final_step and final_step not in {step for step, _at in milestones}:
            continue
        counted += 1
        previous = start = started[case_id]
        for step, at in milestones:
            if step is None:
                continue
            durations.setdefault(step, []).append(max(0.0, (at - previous).total_seconds()))
            offsets.setdefault(step, []).append(max(0.0, (at - start).total_seconds()))
            previous = at
        totals.append(max(0.0, (previous - start).total_seconds()))
    steps: list[dict[str, Any]] = [
        {
            "step": step,
            "median_seconds": median(values),
            "count": len(values),
            "offset_seconds": median(offsets[step]),
        }
        for step, values in durations.items()
    ]
    steps.sort(key=lambda item: item["offset_seconds"])
    return {
        "cases": counted,
        "days": days,
        "since": since.isoformat(),
        "total_median_seconds": median(totals) if totals else None,
        "steps": steps,
    }


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
