"""A generated kelurahan resident list with deliberate faults, and the figures computed from
it independently of the plugin (plain Python over the generated rows)."""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..conftest import OFFICE, OTHER_OFFICE

KELURAHAN = (("6402051001", "Kelurahan Sangasanga Dalam"), ("6402051002", "Kelurahan Sangasanga Muara"))
OTHER_KELURAHAN = (("6402061001", "Kelurahan Muara Jawa Ulu"),)
#: the office's today (the test nodes run on WITA, the default ``timezone``), not the machine's
TODAY = datetime.now(ZoneInfo("Asia/Makassar")).date()

#: Indonesian headers in a kelurahan's own order (the plugin must not rely on the order).
HEADERS_ID = [
    "Nama Lengkap",
    "NIK",
    "No. KK",
    "Jenis Kelamin",
    "Tempat Lahir",
    "Tanggal Lahir",
    "Status Perkawinan",
    "Alamat",
    "RT",
    "RW",
    "Kelurahan",
    "Punya e-KTP",
]
FIELD_OF = {
    "Nama Lengkap": "name",
    "NIK": "nik",
    "No. KK": "kk_number",
    "Jenis Kelamin": "sex",
    "Tempat Lahir": "birth_place",
    "Tanggal Lahir": "birth_date",
    "Status Perkawinan": "marital_status",
    "Alamat": "address",
    "RT": "rt",
    "RW": "rw",
    "Kelurahan": "kelurahan",
    "Punya e-KTP": "has_ektp",
}


def seed_kelurahan(rt):
    from simpul.engine import directory

    with rt.transaction() as uow:
        for code, name in KELURAHAN:
            directory.ensure_office(uow.session, code, name, "kelurahan", parent_code=OFFICE)
        for code, name in OTHER_KELURAHAN:
            directory.ensure_office(uow.session, code, name, "kelurahan", parent_code=OTHER_OFFICE)


def nik_for(birth: date, sex: str, serial: int, district="640205") -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{district}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def age(birth: date, day: date = TODAY) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _district(base: str, block: int) -> str:
    """Past 9,999 residents the serial runs out: later ones get the next district code."""
    if not block:
        return base
    return base[:4] + f"{(int(base[4:6]) + block - 1) % 99 + 1:02d}"


def generate(count: int, seed: int = 11, district="640205", kelurahan=KELURAHAN):
    """``count`` valid residents (dicts of the registry's values) in a random but fixed mix."""
    rnd = random.Random(seed)
    people = []
    for i in range(count):
        sex = rnd.choice("LP")
        years = rnd.choice([5, 12, 15, 16, 16, 17, 17, 18, 25, 33, 41, 58, 70])
        birth = date(TODAY.year - years, rnd.randint(1, 12), rnd.randint(1, 28))
        if birth > TODAY:
            birth = birth.replace(year=birth.year - 1)
        married = "kawin" if years >= 18 and rnd.random() < 0.6 else "belum_kawin"
        if years == 16 and rnd.random() < 0.1:
            married = "kawin"  # married under 17: eligible all the same
        people.append(
            {
                "nik": nik_for(birth, sex, 1 + (1000 + i) % 9999, _district(district, (1000 + i) // 9999)),
                "kk_number": f"{district}1203{150000 + i // 4:06d}",
                "name": f"Warga {i}",
                "sex": sex,
                "birth_place": "Sangasanga",
                "birth_date": birth,
                "marital_status": married,
                "address": f"Jl. Merdeka {i % 90}",
                "rt": f"{rnd.randint(1, 8):03d}",
                "rw": f"{rnd.randint(1, 3):03d}",
                "kelurahan": kelurahan[i % len(kelurahan)][0],
                "has_ektp": years >= 25 and rnd.random() < 0.5,
            }
        )
    return people


SEX_WORD = {"L": "Laki-laki", "P": "Perempuan"}
MARITAL_WORD = {"kawin": "Kawin", "belum_kawin": "Belum Kawin"}


def row_cells(p: dict) -> dict:
    return {
        "Nama Lengkap": p["name"],
        "NIK": p["nik"],
        "No. KK": p["kk_number"],
        "Jenis Kelamin": SEX_WORD[p["sex"]],
        "Tempat Lahir": p["birth_place"],
        "Tanggal Lahir": p["birth_date"].strftime("%d-%m-%Y"),
        "Status Perkawinan": MARITAL_WORD[p["marital_status"]],
        "Alamat": p["address"],
        "RT": str(int(p["rt"])),
        "RW": p["rw"],
        "Kelurahan": p["kelurahan"],
        "Punya e-KTP": "Ya" if p["has_ektp"] else "Tidak",
    }


#: deliberate faults: (column, how the cell is spoilt); each spoils one row in exactly one way.
FAULTS = [
    ("NIK", lambda c: c["NIK"][:15]),  # 15 digits
    ("NIK", lambda c: c["NIK"][:5] + "x" + c["NIK"][6:]),  # a letter
    ("Jenis Kelamin", lambda c: "X"),
    ("Tanggal Lahir", lambda c: "31-02-1990"),
    ("Kelurahan", lambda c: "Kelurahan Entah"),
    ("No. KK", lambda c: "123"),
    ("Status Perkawinan", lambda c: "rahasia"),
    ("Nama Lengkap", lambda c: ""),
]


def build_csv(people, bad_every=97, duplicates=(), delimiter=";"):
    """The CSV text, with a fault in every ``bad_every``-th row and the rows of ``duplicates``
    (indexes) repeated at the end; returns (text, {row number: column}, rows stored)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow(HEADERS_ID)
    bad = {}
    stored = []
    row = 1
    for i, p in enumerate(people):
        row += 1
        cells = row_cells(p)
        if bad_every and i % bad_every == bad_every - 1:
            column, spoil = FAULTS[(i // bad_every) % len(FAULTS)]
            cells[column] = spoil(cells)
            bad[row] = column
        else:
            stored.append(p)
        writer.writerow([cells[h] for h in HEADERS_ID])
    for i in duplicates:
        row += 1
        writer.writerow([row_cells(people[i])[h] for h in HEADERS_ID])
        bad[row] = "NIK"
    return out.getvalue(), bad, stored


def expected_state(p: dict, case_state: str | None, from_age=17) -> str:
    if case_state == "handed_over" or p["has_ektp"]:
        return "carded"
    if case_state in ("printed", "recorded"):
        return case_state
    if age(p["birth_date"]) >= from_age or p["marital_status"] in ("kawin", "cerai_hidup", "cerai_mati"):
        return "without_record"
    return "not_eligible"


def expected_coverage(people, case_states: dict, from_age=17) -> dict:
    """Per kelurahan: eligible, recorded, carded, without_ektp (the CLI's JSON rows)."""
    out: dict = {}
    for p in people:
        state = expected_state(p, case_states.get(p["nik"]), from_age)
        row = out.setdefault(
            p["kelurahan"],
            {"kelurahan": p["kelurahan"], "eligible": 0, "recorded": 0, "carded": 0, "without_ektp": 0},
        )
        if state == "not_eligible":
            continue
        row["eligible"] += 1
        if state in ("recorded", "printed", "carded"):
            row["recorded"] += 1
        if state == "carded":
            row["carded"] += 1
        else:
            row["without_ektp"] += 1
    return out
