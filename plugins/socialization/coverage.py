"""Each resident's e-KTP state, and the coverage figures per kelurahan, RT/RW, sex and age band.

A resident's state is derived from the kelurahan list and from Simpul's own cases (by NIK,
within the office):

* ``not_eligible``   younger than the recording age and never married;
* ``without_record`` eligible, and neither a case nor the list shows a card;
* ``recorded``       a case is open (the resident came to the counter or to a visit);
* ``printed``        the regency printed the card (``card_printed``); not yet handed over;
* ``carded``         the card was handed over (``Task_handover``), or the kelurahan list says
                     the resident holds an e-KTP.

Eligibility follows the national rule (17 or older, or married or once married); the
``record_from_age`` setting lowers the age to 16 for offices that record pupils early.

The case side is one row per (office, NIK) in ``socialization_case_states``, written by the
``case_event_recorded`` hook in the transaction of the step itself (``note_case_event``), so
the figures are one grouped scan of the registry joined to that row by its primary key, never
a join over every case.

The figures, cumulative as a camat reads them: ``eligible`` (all but not eligible),
``recorded`` (recorded, printed or carded), ``carded``, and ``without_ektp`` (eligible and not
carded: the residents the office still has to reach or finish).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select

from simpul.engine import N_

from .models import CaseState, CoverageCell, CoverageDay, Resident
from .settings import record_from_age

log = logging.getLogger("simpul.socialization")

STATES = ("not_eligible", "without_record", "recorded", "printed", "carded")
STATE_LABELS = {
    "not_eligible": N_("Not eligible yet"),
    "without_record": N_("Eligible, not recorded"),
    "recorded": N_("Recorded (case open)"),
    "printed": N_("Card printed"),
    "carded": N_("Card handed over"),
}
EVER_MARRIED = ("kawin", "cerai_hidup", "cerai_mati")
#: age bands (lower bound, label) for the coverage table.
AGE_BANDS = ((0, "0-15"), (16, "16"), (17, "17-20"), (21, "21-30"), (31, "31-45"), (46, "46-60"), (61, "61+"))
HANDOVER_STEP = "Task_handover"
PRINTED_MESSAGE = "card_printed"


# -- keeping the case side in step (inside the step's transaction) -----------------------------


def note_case_event(session, event: dict, case) -> None:
    """Update the resident's case state for ``event`` in the transaction that records it."""
    if not _may_move(event):  # most steps do not: no read of the state for them
        return
    nik = (case.nik or "").strip()
    if not nik or session is None:
        return
    at = _when(event.get("at"))
    state = session.get(CaseState, (case.office_code, nik))
    before = state.state if state is not None else None
    _note(session, event, case, nik, at, state)
    after = session.get(CaseState, (case.office_code, nik))
    if after is not None and after.state != before:
        move_cells(session, case.office_code, nik, before, after.state)


def _may_move(event: dict) -> bool:
    kind, step = event.get("kind"), event.get("step")
    return (
        kind == "case_started"
        or (kind == "message_received" and step == PRINTED_MESSAGE)
        or (kind == "task_completed" and step == HANDOVER_STEP)
    )


def _note(session, event, case, nik, at, state) -> None:  # noqa: C901 - one branch per event kind
    kind, step = event.get("kind"), event.get("step")
    if kind == "case_started":
        data = case.data or {}
        snapshot = {
            "case_name": (case.resident_name or data.get("resident_name") or "")[:120] or None,
            "case_birth_date": str(data.get("birth_date") or "")[:10] or None,
            "case_sex": str(data.get("sex") or "")[:1] or None,
            "case_kk": str(data.get("kk_number") or "")[:16] or None,
            "case_address": str(data.get("address") or "")[:200] or None,
            "case_kelurahan": str(data.get("kelurahan") or "")[:100] or None,
        }
        if state is None:
            session.add(
                CaseState(
                    office_code=case.office_code,
                    nik=nik,
                    state="recorded",
                    receipt=case.receipt,
                    recorded_at=at,
                    **snapshot,
                )
            )
        else:
            for key, value in snapshot.items():
                setattr(state, key, value)
            if state.state not in ("printed", "handed_over"):  # a replacement keeps the card state
                state.state, state.receipt, state.recorded_at = "recorded", case.receipt, at
        session.flush()
        return
    if state is None:
        return
    if kind == "message_received" and step == PRINTED_MESSAGE and state.state != "handed_over":
        state.state, state.printed_at, state.receipt = "printed", at, case.receipt
    elif kind == "task_completed" and step == HANDOVER_STEP:
        state.state, state.handed_at, state.receipt = "handed_over", at, case.receipt
        state.printed_at = state.printed_at or at
    else:
        return
    session.flush()


def note_case_end(session, case) -> None:
    """A case ended (the ``case_ended`` hook, in its transaction): a resident whose open case
    closed without a card (rejected, cancelled) is no longer ``recorded``."""
    nik = (case.nik or "").strip()
    if not nik or session is None:
        return
    state = session.get(CaseState, (case.office_code, nik))
    if state is not None and state.receipt == case.receipt and state.state == "recorded":
        state.state = "none"
        session.flush()
        move_cells(session, case.office_code, nik, "recorded", "none")


def _when(value) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return datetime.now(UTC)


# -- the figures ------------------------------------------------------------------------------


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def state_expression(today: date, from_age: int):
    cutoff = years_before(today, from_age)
    return case(
        (or_(CaseState.state == "handed_over", Resident.has_ektp.is_(True)), literal("carded")),
        (CaseState.state == "printed", literal("printed")),
        (CaseState.state == "recorded", literal("recorded")),
        (or_(Resident.birth_date <= cutoff, Resident.marital_status.in_(EVER_MARRIED)), literal("without_record")),
        else_=literal("not_eligible"),
    )


def age_band_expression(today: date):
    whens = []
    for lower, label in reversed(AGE_BANDS[1:]):
        whens.append((Resident.birth_date <= years_before(today, lower), literal(label)))
    return case(*whens, else_=literal(AGE_BANDS[0][1]))


def _joined(office_code: str):
    return Resident.__table__.outerjoin(
        CaseState.__table__, and_(CaseState.office_code == Resident.office_code, CaseState.nik == Resident.nik)
    )


def resident_filters(office_code: str, *, kelurahan=None, rt=None, rw=None, sex=None):
    clauses = [Resident.office_code == office_code, Resident.gone_at.is_(None)]
    if kelurahan:
        clauses.append(Resident.kelurahan_code == kelurahan)
    if rw:
        clauses.append(Resident.rw.in_(_numbers(rw)))
    if rt:
        clauses.append(Resident.rt.in_(_numbers(rt)))
    if sex in ("L", "P"):
        clauses.append(Resident.sex == sex)
    return clauses


def _numbers(spec) -> list[str]:
    """``"05-08"``, ``"5,7"`` or ``"005"`` -> the zero-padded RT/RW numbers."""
    out = []
    for part in str(spec).replace(" ", "").split(","):
        if "-" in part:
            low, _sep, high = part.partition("-")
            if low.isdigit() and high.isdigit() and int(high) - int(low) < 1000:
                out.extend(f"{n:03d}" for n in range(int(low), int(high) + 1))
        elif part.isdigit():
            out.append(f"{int(part):03d}")
    return out or ["---"]


def _empty() -> dict:
    return dict.fromkeys(STATES, 0)


def _figures(counts: dict) -> dict:
    eligible = sum(v for k, v in counts.items() if k != "not_eligible")
    recorded = counts["recorded"] + counts["printed"] + counts["carded"]
    return {
        "residents": eligible + counts["not_eligible"],
        "eligible": eligible,
        "recorded": recorded,
        "printed": counts["printed"],
        "carded": counts["carded"],
        "without_record": counts["without_record"],
        "without_ektp": eligible - counts["carded"],
        "not_eligible": counts["not_eligible"],
    }


def bucket_expression():
    return case(
        (or_(CaseState.state == "handed_over", Resident.has_ektp.is_(True)), literal("carded")),
        (CaseState.state == "printed", literal("printed")),
        (CaseState.state == "recorded", literal("recorded")),
        else_=literal("none"),
    )


def _bucket(has_ektp, case_state) -> str:
    if has_ektp or case_state == "handed_over":
        return "carded"
    return case_state if case_state in ("printed", "recorded") else "none"


def _band(birth: date, today: date) -> str:
    label = AGE_BANDS[0][1]
    for lower, name in AGE_BANDS:
        if birth <= years_before(today, lower):
            label = name
    return label


def rebuild_cells(session, office_code: str, today: date, from_age: int) -> None:
    """Recount the office's coverage cells from the registry (an import; a new day)."""
    cells = CoverageCell.__table__
    conn = session.connection()
    conn.execute(delete(cells).where(cells.c.office_code == office_code))
    cutoff = years_before(today, from_age)
    eligible = case(
        (or_(Resident.birth_date <= cutoff, Resident.marital_status.in_(EVER_MARRIED)), literal(True)),
        else_=literal(False),
    )
    keys = (
        Resident.kelurahan_code,
        func.coalesce(Resident.rw, ""),
        func.coalesce(Resident.rt, ""),
        Resident.sex,
        age_band_expression(today),
        eligible,
        bucket_expression(),
    )
    query = (
        select(literal(office_code), *keys, func.count())
        .select_from(_joined(office_code))
        .where(*resident_filters(office_code))
        .group_by(*keys)
    )
    conn.execute(
        insert(cells).from_select(
            ["office_code", "kelurahan_code", "rw", "rt", "sex", "band", "eligible", "state", "n"], query
        )
    )
    day = session.get(CoverageDay, office_code)
    if day is None:
        session.add(CoverageDay(office_code=office_code, day=today, from_age=from_age))
    else:
        day.day, day.from_age = today, from_age
    session.flush()


def move_cells(session, office_code: str, nik: str, before: str | None, after: str | None) -> None:
    """A resident's case state changed: move them between cells (in the step's transaction)."""
    day = session.get(CoverageDay, office_code)
    if day is None:
        return  # never counted yet: the first read builds the cells
    rows = session.execute(
        select(Resident.kelurahan_code, Resident.rw, Resident.rt, Resident.sex, Resident.birth_date,
               Resident.marital_status, Resident.has_ektp)
        .where(Resident.office_code == office_code, Resident.nik == nik, Resident.gone_at.is_(None))
    ).all()  # fmt: skip
    for kel, rw, rt, sex, birth, married, has_ektp in rows:
        old, new = _bucket(has_ektp, before), _bucket(has_ektp, after)
        if old == new:
            continue
        eligible = birth <= years_before(day.day, day.from_age) or married in EVER_MARRIED
        key = {
            "office_code": office_code,
            "kelurahan_code": kel,
            "rw": rw or "",
            "rt": rt or "",
            "sex": sex,
            "band": _band(birth, day.day),
            "eligible": bool(eligible),
        }
        _add(session, {**key, "state": old}, -1)
        _add(session, {**key, "state": new}, 1)


def _add(session, key: dict, delta: int) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    table = CoverageCell.__table__
    stmt = upsert(table).values(**key, n=delta)
    stmt = stmt.on_conflict_do_update(index_elements=list(key), set_={"n": table.c.n + delta})
    session.execute(stmt)


def _fresh(runtime, session, office_code: str, today: date) -> bool:
    """``True`` when the office's cells are current (same day, same recording age)."""
    day = session.get(CoverageDay, office_code)
    return day is not None and day.day == today and day.from_age == record_from_age(runtime)


def _rebuild(runtime, office_code: str, today: date) -> None:
    with runtime.transaction() as uow:
        rebuild_cells(uow.session, office_code, today, record_from_age(runtime))


def coverage(runtime, office_code: str, *, kelurahan=None, today: date | None = None) -> dict:
    """The figures per kelurahan, RT/RW, sex and age band, and in total, from the cells."""
    today = today or runtime.today()
    cells = CoverageCell.__table__
    where = [cells.c.office_code == office_code]
    if kelurahan:
        where.append(cells.c.kelurahan_code == kelurahan)
    groups = {
        "kel": (cells.c.kelurahan_code,),
        "area": (cells.c.kelurahan_code, cells.c.rw, cells.c.rt),
        "sex": (cells.c.sex,),
        "band": (cells.c.band,),
    }
    found: dict = {name: {} for name in groups}
    total = _empty()
    with runtime.read() as s:
        if not _fresh(runtime, s, office_code, today):
            s.rollback()
            _rebuild(runtime, office_code, today)
        for name, dims in groups.items():
            query = (
                select(*dims, cells.c.eligible, cells.c.state, func.sum(cells.c.n))
                .where(*where)
                .group_by(*dims, cells.c.eligible, cells.c.state)
            )
            for row in s.execute(query):
                *key, eligible, bucket, n = row
                if not n:
                    continue
                state = bucket if bucket != "none" else ("without_record" if eligible else "not_eligible")
                key = tuple(key) if len(key) > 1 else key[0]
                found[name].setdefault(key, _empty())[state] += int(n)
                if name == "kel":
                    total[state] += int(n)
    by_kel, by_area, by_sex, by_band = found["kel"], found["area"], found["sex"], found["band"]
    names = {k["code"]: k["name"] for k in _kelurahan(runtime, office_code)}
    band_order = [label for _l, label in AGE_BANDS]
    return {
        "today": today.isoformat(),
        "record_from_age": record_from_age(runtime),
        "total": _figures(total),
        "by_kelurahan": [{"kelurahan": k, "name": names.get(k, k), **_figures(v)} for k, v in sorted(by_kel.items())],
        "by_rt_rw": [{"kelurahan": k, "rw": rw, "rt": rt, **_figures(v)} for (k, rw, rt), v in sorted(by_area.items())],
        "by_sex": [{"sex": k, **_figures(v)} for k, v in sorted(by_sex.items())],
        "by_age_band": [
            {"band": k, **_figures(v)} for k, v in sorted(by_band.items(), key=lambda kv: band_order.index(kv[0]))
        ],
    }


def _kelurahan(runtime, office_code):
    from simpul import engine

    return engine.kelurahan_list(runtime, office_code)


WITHOUT_STATES = ("without_record", "recorded", "printed")


def without_ektp(
    runtime,
    office_code: str,
    *,
    kelurahan=None,
    rt=None,
    rw=None,
    sex=None,
    states=WITHOUT_STATES,
    after_id: int = 0,
    limit: int | None = 100,
    today: date | None = None,
) -> list[dict]:
    """Eligible residents without a card handed over, in id order (keyset: ``after_id``)."""
    today = today or runtime.today()
    st = state_expression(today, record_from_age(runtime))
    query = (
        select(
            Resident.id,
            Resident.kelurahan_code,
            Resident.nik,
            Resident.name,
            Resident.sex,
            Resident.birth_date,
            Resident.address,
            Resident.rt,
            Resident.rw,
            Resident.kk_number,
            st.label("state"),
            CaseState.receipt,
            CaseState.recorded_at,
            CaseState.printed_at,
        )
        .select_from(_joined(office_code))
        .where(*resident_filters(office_code, kelurahan=kelurahan, rt=rt, rw=rw, sex=sex))
        .where(st.in_(list(states)), Resident.id > after_id)
        .order_by(Resident.id)
    )
    if limit:
        query = query.limit(limit)
    with runtime.read() as s:
        return [dict(r._mapping) for r in s.execute(query)]


def resident_state(runtime, office_code: str, resident: Resident, today: date | None = None) -> dict:
    """One resident's state and its dates (the resident page)."""
    today = today or runtime.today()
    with runtime.read() as s:
        cs = s.get(CaseState, (office_code, resident.nik))
    eligible = resident.birth_date <= years_before(today, record_from_age(runtime)) or (
        resident.marital_status in EVER_MARRIED
    )
    if (cs and cs.state == "handed_over") or resident.has_ektp:
        state = "carded"
    elif cs and cs.state in ("printed", "recorded"):
        state = cs.state
    else:
        state = "without_record" if eligible else "not_eligible"
    return {
        "state": state,
        "receipt": cs.receipt if cs else None,
        "recorded_at": cs.recorded_at if cs else None,
        "printed_at": cs.printed_at if cs else None,
        "handed_at": cs.handed_at if cs else None,
        "registry_ektp_since": resident.ektp_since,
    }
