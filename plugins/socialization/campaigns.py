"""Outreach campaigns and recording visits (jemput bola).

A campaign's target list is taken from a coverage filter (kelurahan, RW, RT, sex and the
e-KTP states, e.g. eligible without record in one kelurahan, RT 005-008) when it is created,
and kept: the residents the campaign set out to reach, whatever happens to the registry
later.  A visit belongs to a campaign; its expected residents are the campaign's targets.
On the day the operator marks who came, and their cases start from the visit (through
``engine.start_case`` with the registry's data, as the counter would), each case carrying a
comment naming the visit.  All of it works on the office node alone.

Results per campaign: targets, reached (came to one of its visits), recorded and carded
(their state now), and still missing (targets not yet recorded).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, insert, select

from simpul import engine
from simpul.engine import N_, InvalidInput, NotFound, SimpulError

from .coverage import WITHOUT_STATES, _joined, state_expression
from .exports import iter_without
from .models import Attendance, Campaign, CampaignTarget, Resident, Visit
from .settings import record_from_age

MEDIA = {
    "meeting": N_("Meeting"),
    "banner": N_("Banner"),
    "radio": N_("Radio"),
    "whatsapp": N_("WhatsApp group"),
    "school": N_("School visit"),
    "door_to_door": N_("Door to door"),
}
FILTER_KEYS = ("kelurahan", "rw", "rt", "sex")
MSG_TITLE = N_("Give the campaign a title.")
MSG_DATES = N_("The campaign ends before it starts.")
MSG_MEDIA = N_("Unknown medium {medium}; choose from {known}.")
MSG_STATES = N_("Unknown e-KTP state {state}.")
MSG_NO_CAMPAIGN = N_("No campaign {id} at this office.")
MSG_NO_VISIT = N_("No visit {id} at this office.")
MSG_PLACE = N_("Say where the visit takes place.")
MSG_NOT_EXPECTED = N_("Resident {id} is not on this visit's list.")
MSG_TIME = N_("Write the time as HH:MM.")
VISIT_NOTE = N_("Recorded at the recording visit {place} on {day} (campaign \u201c{title}\u201d).")


def _day(value, field) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        raise InvalidInput("{field}: write the date as YYYY-MM-DD.", field=field) from None


def create_campaign(
    runtime, actor, *, title, goal=None, filters=None, states=None, starts_on, ends_on, media=(), staff=()
):
    office = actor.office_code or runtime.config.office_code
    title = " ".join(str(title or "").split())[:200]
    if not title:
        raise InvalidInput(MSG_TITLE)
    starts, ends = _day(starts_on, "starts_on"), _day(ends_on, "ends_on")
    if ends < starts:
        raise InvalidInput(MSG_DATES)
    for m in media:
        if m not in MEDIA:
            raise InvalidInput(MSG_MEDIA, medium=m, known=", ".join(MEDIA))
    states = list(states or ("without_record",))
    for s in states:
        if s not in WITHOUT_STATES:
            raise InvalidInput(MSG_STATES, state=s)
    filters = {k: str(v)[:40] for k, v in (filters or {}).items() if k in FILTER_KEYS and v}
    targets = list(iter_without(runtime, office, states=tuple(states), **filters))
    with runtime.transaction() as uow:
        campaign = Campaign(
            office_code=office,
            title=title,
            goal=(goal or "")[:1000] or None,
            target_filter={**filters, "states": states},
            starts_on=starts,
            ends_on=ends,
            media=list(media),
            staff=[str(s)[:64] for s in staff],
            created_by=actor.username,
            created_at=datetime.now(UTC),
        )
        uow.session.add(campaign)
        uow.session.flush()
        conn = uow.session.connection()
        rows = [{"campaign_id": campaign.id, "resident_id": t["id"], "nik": t["nik"]} for t in targets]
        for start in range(0, len(rows), 2000):
            conn.execute(insert(CampaignTarget.__table__), rows[start : start + 2000])
        return campaign.id


def _campaign(session, office, campaign_id) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or campaign.office_code != office:
        raise NotFound(MSG_NO_CAMPAIGN, id=campaign_id)
    return campaign


def list_campaigns(runtime, actor) -> list[dict]:
    office = actor.office_code or runtime.config.office_code
    with runtime.read() as s:
        counts = dict(
            s.execute(
                select(CampaignTarget.campaign_id, func.count())
                .join(Campaign, Campaign.id == CampaignTarget.campaign_id)
                .where(Campaign.office_code == office)
                .group_by(CampaignTarget.campaign_id)
            ).all()
        )
        rows = s.scalars(select(Campaign).where(Campaign.office_code == office).order_by(Campaign.id.desc())).all()
    return [_campaign_dict(c, counts.get(c.id, 0)) for c in rows]


def _campaign_dict(c: Campaign, targets: int) -> dict:
    return {
        "id": c.id,
        "title": c.title,
        "goal": c.goal,
        "filter": c.target_filter,
        "starts_on": c.starts_on.isoformat(),
        "ends_on": c.ends_on.isoformat(),
        "media": c.media,
        "staff": c.staff,
        "targets": targets,
    }


def campaign_results(runtime, actor, campaign_id: int, *, with_targets: bool = False) -> dict:
    office = actor.office_code or runtime.config.office_code
    today = runtime.today()
    st = state_expression(today, record_from_age(runtime)).label("state")
    with runtime.read() as s:
        campaign = _campaign(s, office, campaign_id)
        came = set(
            s.scalars(
                select(Attendance.resident_id)
                .join(Visit, Visit.id == Attendance.visit_id)
                .where(Visit.campaign_id == campaign_id)
            ).all()
        )
        rows = s.execute(
            select(Resident.id, Resident.nik, Resident.name, Resident.kelurahan_code, Resident.rt, Resident.rw, st)
            .select_from(_joined(office).join(CampaignTarget, CampaignTarget.resident_id == Resident.id))
            .where(CampaignTarget.campaign_id == campaign_id, Resident.office_code == office)
            .order_by(Resident.id)
        ).all()
        visits = s.scalars(
            select(Visit).where(Visit.campaign_id == campaign_id).order_by(Visit.visit_date, Visit.id)
        ).all()
        per_visit = dict(
            s.execute(
                select(Attendance.visit_id, func.count())
                .join(Visit, Visit.id == Attendance.visit_id)
                .where(Visit.campaign_id == campaign_id, Attendance.receipt.is_not(None))
                .group_by(Attendance.visit_id)
            ).all()
        )
    states = [r.state for r in rows]
    out = _campaign_dict(campaign, len(rows))
    out["results"] = {
        "targets": len(rows),
        "reached": sum(1 for r in rows if r.id in came),
        "recorded": sum(1 for x in states if x in ("recorded", "printed", "carded")),
        "carded": sum(1 for x in states if x == "carded"),
        "still_missing": sum(1 for x in states if x in ("without_record", "not_eligible")),
    }
    out["visits"] = [
        _visit_dict(v) | {"cases_started": per_visit.get(v.id, 0)} for v in visits
    ]  # over time: one line per visit
    if with_targets:
        out["target_list"] = [
            {
                "id": r.id,
                "nik": engine.mask_nik(r.nik),
                "name": r.name,
                "kelurahan": r.kelurahan_code,
                "rt": r.rt,
                "rw": r.rw,
                "state": r.state,
                "came": r.id in came,
            }
            for r in rows
        ]
    return out


def _visit_dict(v: Visit) -> dict:
    return {
        "id": v.id,
        "campaign_id": v.campaign_id,
        "place": v.place,
        "date": v.visit_date.isoformat(),
        "time": v.visit_time,
        "staff": v.staff,
    }


def create_visit(runtime, actor, campaign_id: int, *, place, visit_date, visit_time=None, staff=()):
    office = actor.office_code or runtime.config.office_code
    place = " ".join(str(place or "").split())[:200]
    if not place:
        raise InvalidInput(MSG_PLACE)
    if visit_time and not (len(visit_time) == 5 and visit_time[2] == ":" and visit_time.replace(":", "").isdigit()):
        raise InvalidInput(MSG_TIME)
    with runtime.transaction() as uow:
        _campaign(uow.session, office, campaign_id)
        visit = Visit(
            office_code=office,
            campaign_id=campaign_id,
            place=place,
            visit_date=_day(visit_date, "date"),
            visit_time=visit_time or None,
            staff=[str(s)[:64] for s in staff],
            created_by=actor.username,
            created_at=datetime.now(UTC),
        )
        uow.session.add(visit)
        uow.session.flush()
        return visit.id


def list_visits(runtime, actor, campaign_id: int | None = None) -> list[dict]:
    office = actor.office_code or runtime.config.office_code
    query = select(Visit).where(Visit.office_code == office)
    if campaign_id:
        query = query.where(Visit.campaign_id == campaign_id)
    with runtime.read() as s:
        return [_visit_dict(v) for v in s.scalars(query.order_by(Visit.visit_date.desc(), Visit.id.desc()))]


def show_visit(runtime, actor, visit_id: int) -> dict:
    """The visit with its expected residents (the campaign's targets) and who came."""
    office = actor.office_code or runtime.config.office_code
    with runtime.read() as s:
        visit = s.get(Visit, visit_id)
        if visit is None or visit.office_code != office:
            raise NotFound(MSG_NO_VISIT, id=visit_id)
        campaign = _campaign(s, office, visit.campaign_id)
        marked = {a.resident_id: a for a in s.scalars(select(Attendance).where(Attendance.visit_id == visit_id))}
        expected = s.execute(
            select(Resident.id, Resident.nik, Resident.name, Resident.rt, Resident.rw)
            .join(CampaignTarget, CampaignTarget.resident_id == Resident.id)
            .where(CampaignTarget.campaign_id == visit.campaign_id, Resident.office_code == office)
            .order_by(Resident.name, Resident.id)
        ).all()
    return _visit_dict(visit) | {
        "campaign": {"id": campaign.id, "title": campaign.title},
        "expected": [
            {
                "id": r.id,
                "nik": engine.mask_nik(r.nik),
                "name": r.name,
                "rt": r.rt,
                "rw": r.rw,
                "came": r.id in marked,
                "receipt": marked[r.id].receipt if r.id in marked else None,
                "problem": marked[r.id].problem if r.id in marked else None,
            }
            for r in expected
        ],
    }


def _start_data(runtime, office, resident: Resident) -> dict:
    names = {k["code"]: k["name"] for k in engine.kelurahan_list(runtime, office)}
    return {
        "nik": resident.nik,
        "resident_name": resident.name,
        "birth_date": resident.birth_date.isoformat(),
        "sex": resident.sex,
        "birth_place": resident.birth_place or "-",
        "kk_number": resident.kk_number or "",
        "marital_status": resident.marital_status or "belum_kawin",
        "address": resident.address or "-",
        "rt": resident.rt or "000",
        "rw": resident.rw or "000",
        "kelurahan": names.get(resident.kelurahan_code, resident.kelurahan_code),
    }


def mark_came(runtime, actor, visit_id: int, resident_ids, *, process: str = "ektp_new_card") -> list[dict]:
    """Mark residents as come to the visit and start their cases (one transaction each, as at
    the counter): ``[{"resident_id", "receipt" or None, "problem" or None}]``."""
    office = actor.office_code or runtime.config.office_code
    info = show_visit(runtime, actor, visit_id)
    expected = {e["id"]: e for e in info["expected"]}
    catalogue = runtime.translations()
    out = []
    for rid in resident_ids:
        if rid not in expected:
            raise InvalidInput(MSG_NOT_EXPECTED, id=rid)
        if expected[rid]["came"]:
            out.append({"resident_id": rid, "receipt": expected[rid]["receipt"], "problem": expected[rid]["problem"]})
            continue
        with runtime.read() as s:
            resident = s.get(Resident, rid)
        receipt, problem = None, None
        try:
            started = engine.start_case(runtime, process, _start_data(runtime, office, resident), actor)
            receipt = started["receipt"]
            note = engine.Message(VISIT_NOTE, place=info["place"], day=info["date"], title=info["campaign"]["title"])
            engine.add_comment(runtime, receipt, note.render(catalogue), actor)
        except SimpulError as exc:  # an open case already, data the counter must correct ...
            problem = exc.render(catalogue=catalogue)[:500]
        with runtime.transaction() as uow:
            uow.session.add(
                Attendance(
                    visit_id=visit_id,
                    resident_id=rid,
                    nik=resident.nik,
                    receipt=receipt,
                    problem=problem,
                    marked_by=actor.username,
                    marked_at=datetime.now(UTC),
                )
            )
        out.append({"resident_id": rid, "receipt": receipt, "problem": problem})
    return out
