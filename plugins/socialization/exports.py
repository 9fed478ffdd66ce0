"""The list of eligible residents without an e-KTP as CSV or XLSX, for the kelurahan.

The file carries the full NIK (the kelurahan looks residents up by it); the pages show it
masked.  Rows are read in keyset pages so a list of a hundred thousand never sits in memory
twice."""

from __future__ import annotations

import csv
import io

from .coverage import STATE_LABELS, without_ektp

COLUMNS = (
    ("kelurahan_code", "Kelurahan"),
    ("nik", "NIK"),
    ("kk_number", "No. KK"),
    ("name", "Nama"),
    ("sex", "L/P"),
    ("birth_date", "Tanggal lahir"),
    ("address", "Alamat"),
    ("rt", "RT"),
    ("rw", "RW"),
    ("state", "Status e-KTP"),
    ("receipt", "No. tanda terima"),
)


def iter_without(runtime, office_code, page=5000, **filters):
    after = 0
    while True:
        rows = without_ektp(runtime, office_code, after_id=after, limit=page, **filters)
        if not rows:
            return
        yield from rows
        after = rows[-1]["id"]


def _cells(row, say):
    out = []
    for key, _label in COLUMNS:
        value = row.get(key)
        if key == "state":
            value = say(STATE_LABELS[value])
        out.append("" if value is None else value)
    return out


def write_without(runtime, office_code, output, fmt, **filters) -> int:
    from simpul.engine.i18n import render

    catalogue = runtime.translations()

    def say(m):
        return render(m, catalogue)

    data = without_bytes(runtime, office_code, fmt, say, **filters)
    count = data.count(b"\n") - 1 if fmt == "csv" else None
    with open(output, "wb") as handle:
        handle.write(data)
    if count is None:
        count = sum(1 for _r in iter_without(runtime, office_code, **filters))
    return count


def without_bytes(runtime, office_code, fmt, say, **filters) -> bytes:
    headers = [label for _k, label in COLUMNS]
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Tanpa e-KTP")
        sheet.append(headers)
        for row in iter_without(runtime, office_code, **filters):
            cells = _cells(row, say)
            cells[1] = str(cells[1])  # a NIK stays text (16 digits lose precision as numbers)
            sheet.append(cells)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(headers)
    for row in iter_without(runtime, office_code, **filters):
        writer.writerow(_cells(row, say))
    return text.getvalue().encode("utf-8-sig")
