"""Kecamatan figures for a regency whose kecamatan run their own nodes.

A regency node's dashboard shows the kecamatan in its own database side by side; a kecamatan
that runs its own node (its own database) is not there.  Such a node sends its regency a
summary now and then -- per-week counts of the last weeks, open and overdue work per step,
incidents -- as an outbox message of kind ``dashboard_summary`` (``engine.queue_office_message``),
delivered by the worker over the same signed link as the cases.  The regency keeps the
latest one per office (``coordination_office_summaries``) and its dashboard shows it with
"as of <time>" (hook ``office_summaries``).

When: after a step, at most every ``coordination_summary_minutes`` (node setting, default
60; 0 sends none on its own; the first that long after the node's first step), and on
demand with ``simpul coordination summary`` (for cron).  A summary
is a picture, not a log: an older one arriving after a newer one is ignored, and the
receiving side accepts a summary only from the office it describes, for its own regency.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import JSON, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column

from simpul import engine
from simpul.engine import Actor, UTCDateTime, list_offices, utcnow

from . import protocol as p
from .models import Base

KIND = "dashboard_summary"
WEEKS = 8
FLOW_KEYS = ("started", "recorded", "sent", "printed", "handed_over", "rejected", "breaches")


class OfficeSummary(Base):
    __tablename__ = "coordination_office_summaries"
    __table_args__ = (Index("ix_coordination_office_summaries_regency", "regency_code", "office_code"),)

    office_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    regency_code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    figures: Mapped[dict] = mapped_column(JSON)


# -- the kecamatan side ------------------------------------------------------------------------


def build_summary(runtime, office_code: str) -> dict:
    """The figures of one office of this node, as its dashboard computes them."""
    today = runtime.today()  # the office's day, not UTC's
    board = engine.stats.dashboard(
        runtime,
        Actor.system("coordination"),
        since=(today - timedelta(days=7 * WEEKS - 1)).isoformat(),
        until=today.isoformat(),
        office=office_code,
    )
    (office,) = board["offices"]
    now = office["now"]
    return {
        "office": office["office"],
        "name": office["name"],
        "as_of": board["generated_at"],
        "weeks": [{"week": w["week"], **{k: w.get(k, 0) for k in FLOW_KEYS}} for w in office["flow"]["weeks"]],
        "open_by_step": [
            {k: r[k] for k in ("step", "name", "name_en", "open", "overdue")} for r in now["open_by_step"]
        ],
        "open_total": now["open_total"],
        "overdue_total": now["overdue_total"],
        "incidents": now["incidents"],
    }


def summary_offices(runtime) -> list[str]:
    """The kecamatan whose summary this node sends: its own office, on a kecamatan node."""
    config = runtime.config
    if config.office_kind != "kecamatan" or not config.regency_code:
        return []
    return [config.office_code]


def send_summaries(runtime) -> list[str]:
    """Queue one summary per kecamatan of this node for the regency; returns the message ids."""
    ids = []
    for office in summary_offices(runtime):
        summary = build_summary(runtime, office)
        ids.append(
            engine.queue_office_message(
                runtime, office, runtime.config.regency_code, KIND, summary, f"{office}:{summary['as_of']}"
            )
        )
    return ids


_last_sent: dict[int, float] = {}
_due: dict[int, object] = {}
_lock = threading.Lock()


def note_due(runtime) -> None:
    """In a step's transaction (``case_event_recorded``): is a summary due after it?  The
    first is due ``coordination_summary_minutes`` after the node's first step, then at most
    that often."""
    minutes = float(runtime.setting("coordination_summary_minutes", 60) or 0)
    if minutes <= 0 or not summary_offices(runtime):
        return
    now = time.monotonic()
    with _lock:
        last = _last_sent.setdefault(id(runtime), now)
        if now - last >= minutes * 60:
            _last_sent[id(runtime)] = now
            _due[id(runtime)] = runtime


def send_due() -> None:
    """After the step committed (``case_event``): send the summaries found due, each in its own
    transaction, so the step never waits for them."""
    with _lock:
        due = list(_due.values())
        _due.clear()
    for runtime in due:
        send_summaries(runtime)


# -- the regency side --------------------------------------------------------------------------


def _result(message_id, status, error=None) -> dict:
    result = {"message_id": message_id, "status": status}
    if error:
        result["error"] = error
    return result


def apply_summary(runtime, message_id: str, payload: dict, sender: str, destination: str) -> dict:
    """Keep a summary sent by ``sender`` (authenticated) to its regency ``destination``."""
    config = runtime.config
    if config.office_kind != "regency" or destination != config.office_code:
        return _result(message_id, p.RETRY, f"office {destination} keeps no kecamatan summaries")
    if payload.get("office") != sender:
        return _result(message_id, p.RETRY, f"office {sender} may send only its own summary")
    try:
        as_of = datetime.fromisoformat(str(payload.get("as_of")))
    except ValueError:
        return _result(message_id, p.RETRY, "a summary needs its time (as_of)")
    if as_of.tzinfo is None:
        return _result(message_id, p.RETRY, "a summary's time needs its zone")
    figures = {k: payload.get(k) for k in ("weeks", "open_by_step", "open_total", "overdue_total", "incidents")}
    with runtime.transaction() as uow:
        s = uow.session
        row = s.get(OfficeSummary, sender, with_for_update=s.bind.dialect.name == "postgresql")
        if row is None:
            row = OfficeSummary(office_code=sender, regency_code=destination)
            s.add(row)
        elif row.as_of >= as_of:
            return _result(message_id, p.DUPLICATE)  # an older picture than the one kept
        row.name = str(payload.get("name") or sender)[:200]
        row.as_of, row.received_at, row.figures = as_of, utcnow(), figures
    return _result(message_id, p.APPLIED)


def office_summaries(runtime, actor) -> list[dict]:
    """The kept summaries the viewer may see: a regency's officers, their kecamatan; never
    an office this node has in its own database (its dashboard already shows those)."""
    if actor.is_system:
        regency = runtime.config.office_code
    elif actor.has_role("regency_officer"):
        regency = actor.office_code
    else:
        return []
    local = {o.code for o in list_offices(runtime) if o.parent_code == regency}
    with runtime.read() as s:
        rows = s.scalars(
            select(OfficeSummary).where(OfficeSummary.regency_code == regency).order_by(OfficeSummary.office_code)
        ).all()
        return [
            {"office": r.office_code, "name": r.name, "as_of": r.as_of.isoformat(), **(r.figures or {})}
            for r in rows
            if r.office_code not in local
        ]


def register_command(cli) -> None:
    """``simpul coordination summary``: send this node's kecamatan summary now (cron, or by hand)."""
    import click

    group = cli.commands.get("coordination")
    if group is None or "summary" in getattr(group, "commands", {}):
        return

    @group.command("summary")
    @click.pass_context
    def summary_cmd(ctx):
        """Queue this kecamatan's dashboard summary for the regency (the worker sends it)."""
        runtime = ctx.find_root().obj.runtime
        ids = send_summaries(runtime)
        if not ids:
            raise click.ClickException("This node sends no summary: it is not a kecamatan node with a regency.")
        click.echo(f"summary queued for office {runtime.config.regency_code}: {', '.join(ids)}")
