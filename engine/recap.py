"""The monthly recap (laporan bulanan) a camat sends up: per kelurahan and in total.

Counted from the step marks of the month (engine.stats) in the office's own time zone, and
from the cases open at the month's end.  ``recap_xlsx`` and ``recap_pdf`` write the same
numbers with openpyxl and fpdf2."""

from __future__ import annotations

import io
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from .errors import Forbidden, InvalidInput, NotFound
from .models import Case, Office, utcnow
from .models_stats import StepMark
from .stats import dashboard_offices

COUNTED = ("recorded", "sent", "printed", "handed_over", "rejected", "suket")
AGE_BUCKETS = ((0, 7), (8, 14), (15, 30), (31, None))
NO_KELURAHAN = "-"


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    try:
        year, mon = (int(p) for p in str(month).split("-"))
        local = ZoneInfo(tz or "Asia/Makassar")
        start = datetime(year, mon, 1, tzinfo=local)
        end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=local)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("A month is written YYYY-MM.") from exc
    return start.astimezone(UTC), end.astimezone(UTC)


def _blank() -> dict:
    return {"applications": 0, **dict.fromkeys(COUNTED, 0), "open_at_end": 0}


def monthly_recap(runtime, actor, month: str, *, office: str | None = None) -> dict:
    """The recap of ``month`` (YYYY-MM) for the actor's office; a regency names one of its
    kecamatan, and without a name gets the first (its page then offers the others)."""
    if not (actor.has_role("supervisor") or actor.has_role("regency_officer")):
        raise Forbidden("The monthly recap is for the camat (supervisor) and the regency.")
    with runtime.read() as s:
        offices = dashboard_offices(s, actor)
        own = actor.office_code if any(o.code == actor.office_code for o in offices) else None
        code = office or own or (offices[0].code if offices else None)
        chosen = next((o for o in offices if o.code == code), None)
        if chosen is None:
            raise NotFound("Office {code} not found.", code=office or actor.office_code or "?")
        return _recap(s, chosen, month)


def _recap(s, office: Office, month: str) -> dict:
    start, end = month_bounds(month, office.timezone)
    m = StepMark.__table__
    total = _blank()
    by_kel: defaultdict[str, dict] = defaultdict(_blank)
    by_procedure: dict = defaultdict(int)
    reasons: dict = defaultdict(int)
    for kelurahan, milestone, process_key, step_name, n in s.execute(
        select(m.c.kelurahan, m.c.milestone, m.c.process_key, m.c.step_name, func.count())
        .where(
            m.c.office_code == office.code,
            m.c.closed_at >= start,
            m.c.closed_at < end,
            m.c.milestone.in_(("started", *COUNTED)),
        )
        .group_by(m.c.kelurahan, m.c.milestone, m.c.process_key, m.c.step_name)
    ):
        key = "applications" if milestone == "started" else milestone
        kel = kelurahan or NO_KELURAHAN
        total[key] += n
        by_kel[kel][key] += n
        if milestone == "started":
            by_procedure[process_key] += n
        if milestone == "rejected":
            reasons[step_name or "?"] += n
    # Open at the month's end: started before it and not ended before it.
    c = Case.__table__
    ages = [0] * len(AGE_BUCKETS)
    for kelurahan, created_at in s.execute(
        select(m.c.kelurahan, c.c.created_at)
        .select_from(c.join(m, (m.c.case_id == c.c.id) & (m.c.kind == "start")))
        .where(
            c.c.office_code == office.code,
            c.c.created_at < end,
            or_(c.c.ended_at.is_(None), c.c.ended_at >= end),
        )
    ):
        total["open_at_end"] += 1
        by_kel[kelurahan or NO_KELURAHAN]["open_at_end"] += 1
        days = (min(end, utcnow()) - created_at).days
        for i, (low, high) in enumerate(AGE_BUCKETS):
            if days >= low and (high is None or days <= high):
                ages[i] += 1
                break
    return {
        "month": month,
        "office": office.code,
        "office_name": office.name,
        **total,
        "applications_by_procedure": dict(sorted(by_procedure.items())),
        "rejected_by_reason": [
            {"reason": r, "count": n} for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "open_age_days": [{"from": low, "to": high, "count": ages[i]} for i, (low, high) in enumerate(AGE_BUCKETS)],
        "by_kelurahan": [{"kelurahan": k, **v} for k, v in sorted(by_kel.items())],
    }


COLUMNS = ("applications", *COUNTED, "open_at_end")


def recap_xlsx(recap: dict, labels: dict) -> bytes:
    """The recap as a workbook: one sheet per kelurahan row and total, one for reasons."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = labels.get("sheet", "Recap")[:31]
    ws.append([labels.get("title", "Monthly recap"), recap["office_name"], recap["office"], recap["month"]])
    ws.append([])
    ws.append([labels.get("kelurahan", "Kelurahan"), *[labels.get(c, c) for c in COLUMNS]])
    for cell in ws[3]:
        cell.font = Font(bold=True)
    for row in recap["by_kelurahan"]:
        ws.append([row["kelurahan"], *[row[c] for c in COLUMNS]])
    ws.append([labels.get("total", "Total"), *[recap[c] for c in COLUMNS]])
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    ws.column_dimensions["A"].width = 28
    more = wb.create_sheet(labels.get("details", "Details")[:31])
    more.append([labels.get("by_procedure", "Applications by procedure")])
    for proc, n in recap["applications_by_procedure"].items():
        more.append([proc, n])
    more.append([])
    more.append([labels.get("by_reason", "Rejected by reason")])
    for r in recap["rejected_by_reason"]:
        more.append([r["reason"], r["count"]])
    more.append([])
    more.append([labels.get("ages", "Open at month end, by age (days)")])
    for bucket in recap["open_age_days"]:
        span = f"{bucket['from']}-{bucket['to']}" if bucket["to"] is not None else f">{bucket['from'] - 1}"
        more.append([span, bucket["count"]])
    more.column_dimensions["A"].width = 40
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def recap_pdf(recap: dict, labels: dict) -> bytes:
    """The recap as a one-page PDF table (fpdf2, its core Helvetica font: Latin-1 text)."""
    from fpdf import FPDF

    def latin(text) -> str:
        return str(text).encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF(orientation="L", format="A4")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, latin(f"{labels.get('title', 'Monthly recap')} {recap['month']}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 8, latin(f"{recap['office_name']} ({recap['office']})"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    head = [labels.get("kelurahan", "Kelurahan"), *[labels.get(c, c) for c in COLUMNS]]
    rows = [[r["kelurahan"], *[r[c] for c in COLUMNS]] for r in recap["by_kelurahan"]]
    rows.append([labels.get("total", "Total"), *[recap[c] for c in COLUMNS]])
    with pdf.table(col_widths=(50, *([25] * len(COLUMNS))), text_align="LEFT") as table:
        for line in [head, *rows]:
            cells = table.row()
            for value in line:
                cells.cell(latin(value))
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(0, 7, latin(labels.get("by_reason", "Rejected by reason")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for r in recap["rejected_by_reason"]:
        pdf.cell(0, 6, latin(f"{r['reason']}: {r['count']}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
