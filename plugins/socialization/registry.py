"""Importing a kelurahan's resident list (daftar penduduk) from CSV or XLSX.

The columns a kelurahan actually has, named in Indonesian or English and in any order, are
recognised through ``HEADER_ALIASES``; a header nobody knows is left to the operator's
mapping (``mapping={"header": "field"}``: the web page's mapping step, ``--column`` on the CLI).

Every row is checked with the verification plugin's identity rules (its public functions
``check_nik`` and ``check_kk_number``), so the list and the counter agree on what a valid NIK
is.  An import is all-or-nothing per file, in one transaction: every valid row is stored and
every invalid one reported (row number as in the spreadsheet, column, reason), or with
``stop_on_error`` nothing is stored when any row is invalid.  A re-import is a diff against
the kelurahan's stored list: new residents, residents gone (kept with ``gone_at``), changed
fields; ``plan_import`` computes it without writing and ``apply_import`` writes it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, update

from simpul import engine
from simpul.engine import N_, InvalidInput, Message
from simpul.plugins.verification import check_kk_number, check_nik

from .models import Resident

#: the registry's fields, in the order the pages list them.
FIELDS = (
    "nik",
    "kk_number",
    "name",
    "sex",
    "birth_place",
    "birth_date",
    "marital_status",
    "address",
    "rt",
    "rw",
    "kelurahan",
    "has_ektp",
    "ektp_since",
)
REQUIRED = ("nik", "name", "sex", "birth_date")
#: the fields a re-import compares (``kelurahan`` and ``nik`` are the key).
COMPARED = tuple(f for f in FIELDS if f not in ("nik", "kelurahan"))

FIELD_LABELS = {
    "nik": N_("NIK"),
    "kk_number": N_("Family card number (KK)"),
    "name": N_("Name"),
    "sex": N_("Sex"),
    "birth_place": N_("Place of birth"),
    "birth_date": N_("Date of birth"),
    "marital_status": N_("Marital status"),
    "address": N_("Address"),
    "rt": N_("RT"),
    "rw": N_("RW"),
    "kelurahan": N_("Kelurahan/desa"),
    "has_ektp": N_("Has an e-KTP"),
    "ektp_since": N_("e-KTP since"),
}

#: header (normalised: lower case, words split by single spaces) -> field.
HEADER_ALIASES = {
    **dict.fromkeys(["nik", "no nik", "nomor nik", "nomor induk kependudukan", "id number", "nin"], "nik"),
    **dict.fromkeys(
        [
            "kk",
            "no kk",
            "nomor kk",
            "nomor kartu keluarga",
            "no kartu keluarga",
            "kartu keluarga",
            "kk number",
            "family card",
            "family card number",
        ],
        "kk_number",
    ),
    **dict.fromkeys(["nama", "nama lengkap", "name", "full name", "nama penduduk"], "name"),
    **dict.fromkeys(["jenis kelamin", "jk", "kelamin", "l p", "sex", "gender"], "sex"),
    **dict.fromkeys(["tempat lahir", "tmp lahir", "place of birth", "birth place", "birthplace"], "birth_place"),
    **dict.fromkeys(
        ["tanggal lahir", "tgl lahir", "tgl. lahir", "date of birth", "birth date", "birthdate", "dob"], "birth_date"
    ),
    **dict.fromkeys(
        ["status perkawinan", "status kawin", "perkawinan", "marital status", "civil status"], "marital_status"
    ),
    **dict.fromkeys(["alamat", "alamat lengkap", "address", "street"], "address"),
    **dict.fromkeys(["rt", "no rt"], "rt"),
    **dict.fromkeys(["rw", "no rw"], "rw"),
    **dict.fromkeys(
        ["kelurahan", "desa", "kelurahan desa", "kel desa", "kode kelurahan", "village", "kelurahan code"],
        "kelurahan",
    ),
    **dict.fromkeys(
        [
            "e ktp",
            "ektp",
            "punya e ktp",
            "sudah e ktp",
            "memiliki e ktp",
            "status e ktp",
            "has e ktp",
            "has ektp",
        ],
        "has_ektp",
    ),
    **dict.fromkeys(
        ["e ktp sejak", "ektp sejak", "tanggal e ktp", "tgl e ktp", "e ktp since", "ektp since", "e ktp date"],
        "ektp_since",
    ),
}

SEX_VALUES = {
    **dict.fromkeys(["l", "lk", "laki laki", "laki", "pria", "m", "male", "man"], "L"),
    **dict.fromkeys(["p", "pr", "perempuan", "wanita", "f", "female", "woman", "w"], "P"),
}
MARITAL_VALUES = {
    **dict.fromkeys(["belum kawin", "belum menikah", "lajang", "single", "never married", "bk"], "belum_kawin"),
    **dict.fromkeys(["kawin", "menikah", "married", "k"], "kawin"),
    **dict.fromkeys(["cerai hidup", "divorced", "ch"], "cerai_hidup"),
    **dict.fromkeys(["cerai mati", "widowed", "janda", "duda", "cm"], "cerai_mati"),
}
YES_NO = {
    **dict.fromkeys(["ya", "y", "yes", "sudah", "ada", "punya", "true", "1", "v"], True),
    **dict.fromkeys(["tidak", "t", "no", "n", "belum", "tidak ada", "false", "0", "-"], False),
}

MSG_REQUIRED = N_("This value is required.")
MSG_SEX = N_("\u201c{value}\u201d is not a sex: write L or P (laki-laki, perempuan).")
MSG_DATE = N_("\u201c{value}\u201d is not a date: write YYYY-MM-DD or DD-MM-YYYY.")
MSG_FUTURE = N_("The date {value} is in the future.")
MSG_MARITAL = N_("\u201c{value}\u201d is not a marital status: belum kawin, kawin, cerai hidup or cerai mati.")
MSG_YES_NO = N_("\u201c{value}\u201d is not yes or no: write ya or tidak.")
MSG_RT_RW = N_("\u201c{value}\u201d is not an RT/RW number: up to three digits.")
MSG_TOO_LONG = N_("The value is longer than {limit} characters.")
MSG_KELURAHAN = N_("\u201c{value}\u201d is not a kelurahan of this office.")
MSG_NO_KELURAHAN = N_("The row names no kelurahan and none was chosen for the file.")
MSG_DUPLICATE = N_("The NIK {nik} is already in row {row} of this file.")
MSG_NO_COLUMN = N_("The file has no column for {field}.")
MSG_UNKNOWN_FORMAT = N_("The file is neither CSV nor XLSX.")
MSG_UNREADABLE = N_("The file cannot be read: {error}")
MSG_EMPTY = N_("The file holds no header row.")
MSG_MAPPING = N_("The column {header} cannot be mapped to {field}: no such field.")
MSG_MAPPED_TWICE = N_("Two columns are mapped to {field}.")

LIMITS = {"name": 120, "birth_place": 60, "address": 200}


def normalise_header(text) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text or "").lower()).split())


def _key(text) -> str:
    return normalise_header(text)


# -- reading files ----------------------------------------------------------------------


def read_table(data: bytes, filename: str = "") -> tuple[list[str], Iterator[tuple[int, list]]]:
    """The header row and an iterator of (spreadsheet row number, cells) of a CSV or XLSX."""
    header, rows = read_table_from(data, filename)
    return header, ((number, cells) for number, cells, _at in rows)


def read_table_from(
    data: bytes, filename: str = "", after: list | None = None
) -> tuple[list[str], Iterator[tuple[int, list, list]]]:
    """As ``read_table``, each row with the position just after it (``[row number, offset]``),
    and from the row after such a position when ``after`` is given (a background import's
    next slice)."""
    name = filename.lower()
    if data[:2] == b"PK" or name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data, after)
    if name.endswith((".csv", ".txt")) or not name:
        return _read_csv(data, after)
    raise InvalidInput(MSG_UNKNOWN_FORMAT)


def _read_csv(data: bytes, after: list | None):
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")  # older kelurahan exports
    if "\x00" in text:
        raise InvalidInput(MSG_UNREADABLE, error="NUL")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    stream = io.StringIO(text)
    reader = csv.reader(stream, dialect)  # reads a line at a time: the stream's offset is the row's end
    header = next(reader, None)
    if not header:
        raise InvalidInput(MSG_EMPTY)
    start = 1
    if after:
        start = after[0]
        stream.seek(after[1])

    def rows():
        for number, cells in enumerate(reader, start=start + 1):
            if any(c.strip() for c in cells):
                yield number, cells, [number, stream.tell()]

    return [h.strip() for h in header], rows()


def _read_xlsx(data: bytes, after: list | None):
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # a corrupt or foreign file: the operator's 4xx, never a 500
        raise InvalidInput(MSG_UNREADABLE, error=type(exc).__name__) from exc
    sheet = book.worksheets[0]
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
    if not header or not any(h is not None for h in header):
        raise InvalidInput(MSG_EMPTY)
    start = after[0] + 1 if after else 2
    values = sheet.iter_rows(min_row=start, values_only=True)

    def rows():
        for number, cells in enumerate(values, start=start):
            if any(c not in (None, "") for c in cells):
                yield number, list(cells), [number, 0]
        book.close()

    return ["" if h is None else str(h).strip() for h in header], rows()


def guess_mapping(header: list[str]) -> dict[str, str | None]:
    """header -> field (or None: unknown) by the alias table."""
    return {h: HEADER_ALIASES.get(_key(h)) for h in header}


def resolve_mapping(header: list[str], mapping: dict | None, kelurahan_given: bool) -> tuple[dict[int, str], list]:
    """Column index -> field, and the problems (unknown fields, required ones missing)."""
    chosen = guess_mapping(header)
    problems = []
    for head, target in (mapping or {}).items():
        if target in (None, "", "-"):
            chosen[head] = None
        elif target not in FIELDS:
            problems.append(Message(MSG_MAPPING, header=head, field=target))
        else:
            chosen[head] = target
    columns: dict[int, str] = {}
    seen: set[str] = set()
    for index, head in enumerate(header):
        target = chosen.get(head)
        if target is None:
            continue
        if target in seen:
            problems.append(Message(MSG_MAPPED_TWICE, field=target))
            continue
        seen.add(target)
        columns[index] = target
    needed = REQUIRED + (() if kelurahan_given else ("kelurahan",))
    for f in needed:
        if f not in seen:
            problems.append(Message(MSG_NO_COLUMN, field=Message(FIELD_LABELS[f])))
    return columns, problems


# -- checking values --------------------------------------------------------------------


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _digits(value) -> str:
    text = _text(value)
    if text.startswith("'"):  # a spreadsheet's "keep as text" mark
        text = text[1:]
    return text.replace(" ", "")


def parse_date(value) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if not text:
        return None
    for pattern in ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(text[:10], pattern).date()
        except ValueError:
            continue
    raise ValueError(text)


@dataclass
class RowError:
    row: int
    column: str
    message: object  # a msgid or Message

    def as_dict(self, render: Callable) -> dict:
        return {"row": self.row, "column": self.column, "message": render(self.message)}


@dataclass
class Plan:
    """What an import would do: the rows to insert/update, the residents gone, the errors."""

    kelurahan: list[str] = field(default_factory=list)
    new: list[dict] = field(default_factory=list)
    changed: list[tuple[int, dict, dict]] = field(default_factory=list)  # (id, new values, {field: (old, new)})
    unchanged: int = 0
    gone: list[dict] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0
    problems: list = field(default_factory=list)  # file-level: nothing can be imported
    #: the full counts where ``new``, ``changed`` and ``gone`` hold only the first rows (a
    #: background check keeps no more than the confirmation page shows)
    totals: dict | None = None

    @property
    def stopped(self) -> bool:
        return bool(self.problems)


class _Checker:
    def __init__(self, kelurahan: list[dict], fixed_kelurahan: str | None, today: date):
        self.by_code = {k["code"]: k["code"] for k in kelurahan}
        by_name = {}
        for k in kelurahan:
            name = _key(k["name"])
            by_name[name] = k["code"]
            for prefix in ("kelurahan ", "desa "):
                if name.startswith(prefix):
                    by_name[name[len(prefix) :]] = k["code"]
        self.by_name = by_name
        self.fixed = fixed_kelurahan
        self.today = today

    def kelurahan(self, value) -> str | None:
        text = _text(value)
        return self.by_code.get(text) or self.by_name.get(_key(text))

    def row(self, cells: dict) -> tuple[dict, list[tuple[str, object]]]:  # noqa: C901 - one branch per column
        """The stored values of a row and its faults as (field, message), one per field."""
        values: dict = {}
        faults: list[tuple[str, object]] = []

        def fault(name, message):
            if all(f != name for f, _m in faults):
                faults.append((name, message))

        for name in REQUIRED:
            if not _text(cells.get(name)):
                fault(name, MSG_REQUIRED)
        values["name"] = " ".join(_text(cells.get("name")).split())
        for name, limit in LIMITS.items():
            text = " ".join(_text(cells.get(name)).split())
            if len(text) > limit:
                fault(name, Message(MSG_TOO_LONG, limit=limit))
            if name != "name":
                values[name] = text or None
        raw_sex = _text(cells.get("sex"))
        values["sex"] = SEX_VALUES.get(_key(raw_sex)) if raw_sex else None
        if raw_sex and values["sex"] is None:
            fault("sex", Message(MSG_SEX, value=raw_sex))
        for name in ("birth_date", "ektp_since"):
            try:
                values[name] = parse_date(cells.get(name))
            except ValueError:
                values[name] = None
                fault(name, Message(MSG_DATE, value=_text(cells.get(name))))
            else:
                if values[name] and values[name] > self.today:
                    fault(name, Message(MSG_FUTURE, value=values[name].isoformat()))
        raw_marital = _text(cells.get("marital_status"))
        values["marital_status"] = MARITAL_VALUES.get(_key(raw_marital), None) if raw_marital else None
        if raw_marital and values["marital_status"] is None:
            if raw_marital in MARITAL_VALUES.values():
                values["marital_status"] = raw_marital
            else:
                fault("marital_status", Message(MSG_MARITAL, value=raw_marital))
        raw_has = _text(cells.get("has_ektp"))
        values["has_ektp"] = YES_NO.get(_key(raw_has) or raw_has) if raw_has else None
        if raw_has and values["has_ektp"] is None:
            fault("has_ektp", Message(MSG_YES_NO, value=raw_has))
        if values.get("ektp_since") and values["has_ektp"] is None:
            values["has_ektp"] = True
        for name in ("rt", "rw"):
            text = _digits(cells.get(name))
            if text and (not text.isdigit() or len(text) > 3):
                fault(name, Message(MSG_RT_RW, value=text))
                values[name] = None
            else:
                values[name] = text.zfill(3) if text else None
        nik = _digits(cells.get("nik"))
        values["nik"] = nik
        if nik:
            found = check_nik(nik, values.get("birth_date"), values.get("sex"))
            if found:
                fault("nik", found[0])
        kk = _digits(cells.get("kk_number"))
        values["kk_number"] = kk or None
        if kk:
            found = check_kk_number(kk)
            if found:
                fault("kk_number", found[0])
        if self.fixed:
            values["kelurahan_code"] = self.fixed
        else:
            raw = _text(cells.get("kelurahan"))
            values["kelurahan_code"] = self.kelurahan(raw) if raw else None
            if not raw:
                fault("kelurahan", MSG_NO_KELURAHAN)
            elif values["kelurahan_code"] is None:
                fault("kelurahan", Message(MSG_KELURAHAN, value=raw))
        return values, faults


def _comparable(values: dict) -> dict:
    return {f: values.get(f) for f in COMPARED}


@dataclass
class Reading:
    """A file opened for checking: its rows (from a position), the columns and the checker."""

    checker: _Checker
    columns: dict[int, str]
    column_of: dict[str, str]  # field -> the file's header for it
    rows: Iterator[tuple[int, list, list]]
    problems: list


def open_import(
    runtime,
    data: bytes,
    filename: str,
    office_code: str,
    *,
    kelurahan: str | None = None,
    mapping: dict | None = None,
    today: date | None = None,
    after: list | None = None,
) -> Reading:
    """Open a file for checking (``InvalidInput`` for an unknown kelurahan or an unreadable
    file; ``problems`` when the columns cannot be mapped)."""
    choices = engine.kelurahan_list(runtime, office_code)
    checker = _Checker(choices, None, today or runtime.today())
    if kelurahan is not None:
        code = checker.kelurahan(kelurahan)
        if code is None:
            raise InvalidInput(MSG_KELURAHAN, value=kelurahan)
        checker.fixed = code
    header, rows = read_table_from(data, filename, after)
    columns, problems = resolve_mapping(header, mapping, kelurahan is not None)
    column_of = {f: header[i] or f for i, f in columns.items()}
    return Reading(checker, columns, column_of, rows, problems)


def check_row(reading: Reading, number: int, cells: list) -> tuple[dict, list[RowError]]:
    """A row's stored values and its errors (before the file-wide duplicate check)."""
    named = {f: cells[i] if i < len(cells) else None for i, f in reading.columns.items()}
    values, faults = reading.checker.row(named)
    return values, [row_error(reading, number, name, message) for name, message in faults]


def row_error(reading: Reading, number: int, name: str, message) -> RowError:
    return RowError(number, reading.column_of.get(name, str(FIELD_LABELS[name])), message)


def duplicate_error(reading: Reading, number: int, nik: str, first: int) -> RowError:
    return row_error(reading, number, "nik", Message(MSG_DUPLICATE, nik=engine.mask_nik(nik), row=first))


def plan_import(
    runtime,
    data: bytes,
    filename: str,
    office_code: str,
    *,
    kelurahan: str | None = None,
    mapping: dict | None = None,
    today: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Read and check a file and compare it with the stored lists: nothing is written."""
    plan = Plan()
    reading = open_import(runtime, data, filename, office_code, kelurahan=kelurahan, mapping=mapping, today=today)
    if reading.problems:
        plan.problems = reading.problems
        return plan
    incoming: dict[tuple[str, str], dict] = {}
    first_row: dict[str, int] = {}
    bad_niks: set[tuple[str | None, str]] = set()
    for number, cells, _at in reading.rows:
        plan.rows += 1
        if progress is not None:
            progress(1)
        values, errors = check_row(reading, number, cells)
        nik = values["nik"]
        if not errors and nik in first_row:
            errors = [duplicate_error(reading, number, nik, first_row[nik])]
        if errors:
            plan.errors.extend(errors)
            if nik:
                bad_niks.add((values.get("kelurahan_code"), nik))
            continue
        first_row[nik] = number
        incoming[(values["kelurahan_code"], nik)] = values
    fixed = reading.checker.fixed
    plan.kelurahan = sorted({k for k, _n in incoming} | ({fixed} if fixed else set()))
    _compare(runtime, plan, office_code, incoming, bad_niks)
    return plan


def _compare(runtime, plan: Plan, office_code: str, incoming: dict, bad_niks: set) -> None:
    cols = [Resident.id, Resident.kelurahan_code, Resident.nik, Resident.gone_at] + [
        getattr(Resident, f) for f in COMPARED
    ]
    with runtime.read() as s:
        stored = s.execute(
            select(*cols).where(Resident.office_code == office_code, Resident.kelurahan_code.in_(plan.kelurahan))
        ).all()
    seen = set()
    for row in stored:
        key = (row.kelurahan_code, row.nik)
        seen.add(key)
        values = incoming.get(key)
        if values is None:
            if row.gone_at is None and key not in bad_niks and (None, row.nik) not in bad_niks:
                plan.gone.append({"id": row.id, "kelurahan": row.kelurahan_code, "nik": row.nik, "name": row.name})
            continue
        old = {f: getattr(row, f) for f in COMPARED}
        new = _comparable(values)
        diff = {f: (old[f], new[f]) for f in COMPARED if old[f] != new[f]}
        if diff or row.gone_at is not None:
            plan.changed.append((row.id, values, diff))
        else:
            plan.unchanged += 1
    plan.new = [v for k, v in incoming.items() if k not in seen]


def apply_import(runtime, plan: Plan, office_code: str, username: str, *, stop_on_error: bool = False) -> bool:
    """Write a plan in one transaction; ``False`` (nothing written) when it must stop."""
    if plan.stopped or (stop_on_error and plan.errors):
        return False
    now = datetime.now(UTC)
    table = Resident.__table__
    with runtime.transaction() as uow:
        conn = uow.session.connection()
        for chunk in _chunks(plan.new, 2000):
            conn.execute(
                insert(table),
                [
                    {
                        **{f: v.get(f) for f in COMPARED},
                        "nik": v["nik"],
                        "kelurahan_code": v["kelurahan_code"],
                        "office_code": office_code,
                        "imported_at": now,
                        "imported_by": username,
                        "gone_at": None,
                    }
                    for v in chunk
                ],
            )
        for row_id, values, _diff in plan.changed:
            conn.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(**_comparable(values), imported_at=now, imported_by=username, gone_at=None)
            )
        gone_ids = [g["id"] for g in plan.gone]
        for chunk in _chunks(gone_ids, 500):
            conn.execute(update(table).where(table.c.id.in_(chunk)).values(gone_at=now))
        from .coverage import rebuild_cells
        from .settings import record_from_age

        rebuild_cells(uow.session, office_code, runtime.today(), record_from_age(runtime))
    return True


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def summary(plan: Plan, render: Callable, applied: bool) -> dict:
    """The CLI's JSON: ``{"imported", "updated", "unchanged", "errors"}`` (file-level
    problems are errors of row 1, the header)."""
    errors = [e.as_dict(render) for e in plan.errors]
    errors = [{"row": 1, "column": None, "message": render(p)} for p in plan.problems] + errors
    return {
        "imported": len(plan.new) if applied else 0,
        "updated": len(plan.changed) if applied else 0,
        "unchanged": plan.unchanged if applied else 0,
        "errors": errors,
    }


def diff_view(plan: Plan, render: Callable, limit: int = 200) -> dict:
    """The difference a re-import makes, for the confirmation page and ``--dry-run``."""
    totals = plan.totals or {}
    return {
        "new": totals.get("new", len(plan.new)),
        "gone": totals.get("gone", len(plan.gone)),
        "changed": totals.get("changed", len(plan.changed)),
        "unchanged": plan.unchanged,
        "new_residents": [
            {"nik": engine.mask_nik(v["nik"]), "name": v["name"], "kelurahan": v["kelurahan_code"]}
            for v in plan.new[:limit]
        ],
        "gone_residents": [
            {"nik": engine.mask_nik(g["nik"]), "name": g["name"], "kelurahan": g["kelurahan"]}
            for g in plan.gone[:limit]
        ],
        "changed_residents": [
            {
                "nik": engine.mask_nik(values["nik"]),
                "name": values["name"],
                "fields": [
                    {"field": f, "label": render(FIELD_LABELS[f]), "old": _show(old), "new": _show(new)}
                    for f, (old, new) in diff.items()
                ],
            }
            for _id, values, diff in plan.changed[:limit]
        ],
    }


def _show(value) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    return str(value)
