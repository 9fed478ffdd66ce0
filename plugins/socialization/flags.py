"""Mismatch flags between the kelurahan registry and Simpul's own cases, each with the two
values side by side, and their resolution by a verifier with a note.

Kinds:

* ``not_in_registry``   a case's resident (by NIK) is on no kelurahan list of the office;
* ``data_differs``      the case's name, date of birth, sex, KK number or address differs from
                        the registry's (names and addresses compared without case and spacing);
* ``nik_twice``         the same NIK stands on two kelurahan lists of the office;
* ``carded_registry_only``  the list says the resident holds an e-KTP, but Simpul has a case
                        for them that has produced no card (a resident the list calls carded
                        and who has no case at all is not flagged: cards from before Simpul);
* ``carded_simpul_only``    Simpul handed a card over, the list says the resident has none.

Flags are computed when shown, from the case-state rows (one per NIK with a case) and the
registry, never from every case, one keyset page of NIKs at a time (``flags_page``); a
resolution matches a flag by a fingerprint of its values.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from simpul.engine import N_, InvalidInput

from .models import CaseState, FlagResolution, Resident

KIND_LABELS = {
    "not_in_registry": N_("Case resident not in the registry"),
    "data_differs": N_("Case data differ from the registry"),
    "nik_twice": N_("NIK on two kelurahan lists"),
    "carded_registry_only": N_("Carded in the registry, no card in Simpul"),
    "carded_simpul_only": N_("Card handed over in Simpul, none in the registry"),
}
COMPARED = (
    ("name", "case_name", N_("Name")),
    ("birth_date", "case_birth_date", N_("Date of birth")),
    ("sex", "case_sex", N_("Sex")),
    ("kk_number", "case_kk", N_("Family card number (KK)")),
    ("address", "case_address", N_("Address")),
)
MSG_NOTE = N_("Write a note saying how the mismatch was resolved.")
MSG_NO_FLAG = N_("There is no such open flag.")


def _plain(value) -> str:
    return " ".join(str(value or "").lower().split())


def _fingerprint(kind: str, values) -> str:
    return hashlib.sha256(json.dumps([kind, values], sort_keys=True, default=str).encode()).hexdigest()[:32]


def _flag(kind, nik, values, *, name=None, receipt=None, resident_id=None) -> dict:
    return {
        "kind": kind,
        "nik": nik,
        "name": name,
        "receipt": receipt,
        "resident_id": resident_id,
        "values": values,  # [{"field", "label", "registry", "case"}]
        "fingerprint": _fingerprint(kind, values),
    }


def compute_flags(session, office_code: str, nik: str | None = None, *, niks: list[str] | None = None) -> list[dict]:
    """Every current mismatch of the office (or of one NIK, or of the NIKs ``niks``)."""
    flags: list[dict] = []
    res_where = [Resident.office_code == office_code, Resident.gone_at.is_(None)]
    st_where = [CaseState.office_code == office_code]
    if nik:
        res_where.append(Resident.nik == nik)
        st_where.append(CaseState.nik == nik)
    if niks is not None:
        res_where.append(Resident.nik.in_(niks))
        st_where.append(CaseState.nik.in_(niks))
    twice = select(Resident.nik).where(*res_where).group_by(Resident.nik).having(func.count() > 1)
    for (dup,) in session.execute(twice):
        rows = session.scalars(select(Resident).where(*res_where, Resident.nik == dup).order_by(Resident.id)).all()
        values = [
            {"field": "kelurahan", "label": N_("Kelurahan/desa"), "registry": r.kelurahan_code, "case": ""}
            for r in rows
        ]
        flags.append(_flag("nik_twice", dup, values, name=rows[0].name, resident_id=rows[0].id))
    on = (Resident.office_code == CaseState.office_code) & (Resident.nik == CaseState.nik) & Resident.gone_at.is_(None)
    joined = select(CaseState, Resident).outerjoin(Resident, on).where(*st_where).order_by(CaseState.nik, Resident.id)
    seen = set()
    for state, resident in session.execute(joined):
        if state.nik in seen:
            continue  # a NIK twice in the registry is its own flag
        seen.add(state.nik)
        if resident is None:
            values = [
                {
                    "field": "kelurahan",
                    "label": N_("Kelurahan/desa"),
                    "registry": "",
                    "case": state.case_kelurahan or "",
                }
            ]
            flags.append(_flag("not_in_registry", state.nik, values, name=state.case_name, receipt=state.receipt))
            continue
        differ = []
        for field, case_field, label in COMPARED:
            ours, theirs = getattr(resident, field), getattr(state, case_field)
            if theirs in (None, ""):
                continue
            same = (
                str(ours or "") == str(theirs)
                if field in ("birth_date", "sex", "kk_number")
                else _plain(ours) == _plain(theirs)
            )
            if not same:
                differ.append({"field": field, "label": label, "registry": str(ours or ""), "case": str(theirs)})
        common = {"name": resident.name, "receipt": state.receipt, "resident_id": resident.id}
        if differ:
            flags.append(_flag("data_differs", state.nik, differ, **common))
        carded_here = state.state == "handed_over"
        if resident.has_ektp and state.state in ("recorded", "none"):
            values = [{"field": "has_ektp", "label": N_("Has an e-KTP"), "registry": "ya", "case": state.state}]
            flags.append(_flag("carded_registry_only", state.nik, values, **common))
        elif carded_here and resident.has_ektp is False:
            values = [{"field": "has_ektp", "label": N_("Has an e-KTP"), "registry": "tidak", "case": "handed_over"}]
            flags.append(_flag("carded_simpul_only", state.nik, values, **common))
    return flags


def flags_with_resolutions(runtime, office_code: str, nik: str | None = None, *, open_only: bool = False) -> list[dict]:
    """Every flag of the office (or of one NIK) with its resolution: for one resident's page
    and for tests; the flags page takes ``flags_page``, one keyset page at a time."""
    with runtime.read() as s:
        flags = _with_resolutions(s, office_code, compute_flags(s, office_code, nik), [nik] if nik else None)
    return [f for f in flags if not (open_only and f["resolution"])]


#: the kinds each source of NIKs can give (a NIK twice comes from the registry alone).
CASE_KINDS = ("not_in_registry", "data_differs", "carded_registry_only", "carded_simpul_only")
BATCH = 400


def _candidate_niks(
    session, office_code: str, cursor: str | None, forward: bool, kind: str | None, batch: int
) -> tuple:
    """The next ``batch`` NIKs past ``cursor`` that may carry a flag, in paging order, and
    whether the end was reached: the case-state rows' NIKs (primary key order) merged with
    the NIKs twice in the registry within the same range (index ``ix_soc_residents_nik``)."""
    found: set[str] = set()
    bound = None
    if kind is None or kind in CASE_KINDS:
        where = [CaseState.office_code == office_code]
        if cursor is not None:
            where.append(CaseState.nik > cursor if forward else CaseState.nik < cursor)
        order = CaseState.nik.asc() if forward else CaseState.nik.desc()
        got = session.scalars(select(CaseState.nik).where(*where).order_by(order).limit(batch)).all()
        found.update(got)
        if len(got) == batch:
            bound = got[-1]
    if kind is None or kind == "nik_twice":
        where = [Resident.office_code == office_code, Resident.gone_at.is_(None)]
        if cursor is not None:
            where.append(Resident.nik > cursor if forward else Resident.nik < cursor)
        if bound is not None:
            where.append(Resident.nik <= bound if forward else Resident.nik >= bound)
        order = Resident.nik.asc() if forward else Resident.nik.desc()
        twice = (
            select(Resident.nik).where(*where).group_by(Resident.nik).having(func.count() > 1).order_by(order)
        ).limit(batch)
        got = session.scalars(twice).all()
        found.update(got)
        if len(got) == batch:
            bound = got[-1] if bound is None else (min(bound, got[-1]) if forward else max(bound, got[-1]))
    ordered = sorted(found, reverse=not forward)
    if bound is not None:
        ordered = [n for n in ordered if (n <= bound if forward else n >= bound)]
    return ordered, bound is None


def flags_page(
    runtime,
    office_code: str,
    *,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    kind: str | None = None,
    open_only: bool = True,
) -> dict:
    """One page of the office's flags in NIK order (a NIK's flags stay on one page), keyset-
    paged by NIK: ``after`` the last NIK of the page before, or ``before`` the first NIK of
    the page after.  Only the NIKs of the page and of a few batches past it are computed, so
    a page costs the same at 100,000 residents as at 100.  Returns ``{"flags", "next",
    "prev"}`` (the cursors of the neighbouring pages, ``None`` at either end)."""
    forward = before is None or after is not None
    cursor = after if forward else before
    groups: list[list[dict]] = []
    total, more = 0, False
    batch = min(BATCH, max(2 * limit, 100))  # doubled while the NIKs give few flags
    with runtime.read() as s:
        while not more:
            niks, at_end = _candidate_niks(s, office_code, cursor, forward, kind, batch)
            batch = min(batch * 2, 8 * BATCH)
            if niks:
                found = _with_resolutions(s, office_code, compute_flags(s, office_code, niks=niks), niks)
                by_nik: dict[str, list[dict]] = {}
                for f in found:
                    if (kind is None or f["kind"] == kind) and not (open_only and f["resolution"]):
                        by_nik.setdefault(f["nik"], []).append(f)
                for nik in niks:
                    if nik not in by_nik:
                        continue
                    if total >= limit:
                        more = True
                        break
                    groups.append(by_nik[nik])
                    total += len(by_nik[nik])
                cursor = niks[-1]
            if at_end:
                break
    if not forward:
        groups.reverse()
    flags = [f for g in groups for f in g]
    first, last = (flags[0]["nik"], flags[-1]["nik"]) if flags else (None, None)
    if forward:
        return {"flags": flags, "next": last if more else None, "prev": first if after is not None else None}
    return {"flags": flags, "next": last if flags else None, "prev": first if more else None}


def _with_resolutions(session, office_code: str, flags: list[dict], niks: list[str] | None = None) -> list[dict]:
    where = [FlagResolution.office_code == office_code]
    if niks is not None:
        where.append(FlagResolution.nik.in_(niks))
    resolved = {(r.nik, r.kind, r.fingerprint): r for r in session.scalars(select(FlagResolution).where(*where))}
    for f in flags:
        r = resolved.get((f["nik"], f["kind"], f["fingerprint"]))
        f["resolution"] = (
            {"note": r.note, "by": r.resolved_by, "at": r.resolved_at.isoformat()} if r is not None else None
        )
    return flags


def resolve_flag(runtime, office_code: str, nik: str, kind: str, fingerprint: str, note: str, username: str) -> None:
    note = (note or "").strip()
    if not note:
        raise InvalidInput(MSG_NOTE, errors={"note": [MSG_NOTE]})
    with runtime.transaction() as uow:
        current = [f for f in compute_flags(uow.session, office_code, nik) if f["kind"] == kind]
        if not any(f["fingerprint"] == fingerprint for f in current):
            raise InvalidInput(MSG_NO_FLAG)
        uow.session.add(
            FlagResolution(
                office_code=office_code,
                nik=nik,
                kind=kind,
                fingerprint=fingerprint,
                note=note[:1000],
                resolved_by=username,
                resolved_at=datetime.now(UTC),
            )
        )


def resolutions_of(runtime, office_code: str, nik: str) -> list[dict]:
    """The resident's timeline of resolved flags, newest first."""
    with runtime.read() as s:
        rows = s.scalars(
            select(FlagResolution)
            .where(FlagResolution.office_code == office_code, FlagResolution.nik == nik)
            .order_by(FlagResolution.resolved_at.desc())
        ).all()
    return [{"kind": r.kind, "note": r.note, "by": r.resolved_by, "at": r.resolved_at} for r in rows]
