"""The receipt slip (tanda terima) a resident takes home, as a one-page PDF (ReportLab).

Layouts: ``a5`` and ``a4`` for an office printer, ``58mm`` and ``80mm`` for thermal receipt
printers (a page as long as its content).  The QR code (segno) carries the case's status URL
with its lookup code, so a phone opens the status page without typing; it is drawn as vector
squares, sharp on a 203 dpi thermal head.  Only the built-in PDF fonts are used (nothing to
fetch, nothing to embed); text outside Latin-1 is replaced, not dropped silently.
"""

from __future__ import annotations

from io import BytesIO

import segno
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

from simpul.engine import N_

LAYOUTS = {
    # name: (page width, page height or None for "as long as the content", margin, base font size)
    "a5": (A5[0], A5[1], 12 * mm, 10),
    "a4": (A4[0], A4[1], 18 * mm, 11),
    "80mm": (80 * mm, None, 4 * mm, 8.5),
    "58mm": (58 * mm, None, 3 * mm, 7),
}

TITLE = N_("RECEIPT (TANDA TERIMA)")


def _latin1(text: str) -> str:
    text = str(text).replace("\u2022", "*")  # the masked NIK's bullets: not in the built-in fonts
    return text.encode("latin-1", "replace").decode("latin-1")


class _Flow:
    """Lines laid out top-down; measured first, then drawn (thermal pages fit their content)."""

    def __init__(self, width: float, margin: float, size: float):
        self.width, self.margin, self.size = width, margin, size
        self.items: list[tuple] = []

    def text(self, value: str, *, scale: float = 1.0, bold: bool = False, center: bool = False, gap: float = 0.0):
        font = "Helvetica-Bold" if bold else "Helvetica"
        size = self.size * scale
        for line in simpleSplit(_latin1(value), font, size, self.width - 2 * self.margin) or [""]:
            self.items.append(("text", line, font, size, center))
        if gap:
            self.items.append(("space", gap))

    def pair(self, label: str, value: str):
        self.text(label, scale=0.85)
        self.text(value, bold=True, gap=self.size * 0.3)

    def space(self, height: float):
        self.items.append(("space", height))

    def qr(self, data: str, side: float):
        self.items.append(("qr", segno.make(data, error="m"), side))

    def rule(self):
        self.items.append(("rule", self.size * 0.8))

    def height(self) -> float:
        return sum(self._item_height(item) for item in self.items) + 2 * self.margin

    def _item_height(self, item) -> float:
        kind = item[0]
        if kind == "text":
            return item[3] * 1.25
        if kind == "qr":
            return item[2] + self.size
        return item[1]

    def draw(self, pdf: canvas.Canvas, page_height: float) -> None:
        y = page_height - self.margin
        for item in self.items:
            kind = item[0]
            if kind == "text":
                _k, line, font, size, center = item
                y -= size * 1.25
                pdf.setFont(font, size)
                if center:
                    pdf.drawCentredString(self.width / 2, y + size * 0.25, line)
                else:
                    pdf.drawString(self.margin, y + size * 0.25, line)
            elif kind == "qr":
                _k, code, side = item
                y -= side + self.size * 0.5
                rows = list(code.matrix_iter(scale=1, border=4))
                cell = side / len(rows)
                left = (self.width - side) / 2
                pdf.setFillColorRGB(0, 0, 0)
                for r, row in enumerate(rows):
                    for c, dark in enumerate(row):
                        if dark:
                            pdf.rect(left + c * cell, y + side - (r + 1) * cell, cell, cell, stroke=0, fill=1)
                y -= self.size * 0.5
            elif kind == "rule":
                y -= item[1] / 2
                pdf.setLineWidth(0.5)
                pdf.line(self.margin, y, self.width - self.margin, y)
                y -= item[1] / 2
            else:
                y -= item[1]


def render_slip(slip: dict, words, layout: str = "a5") -> bytes:
    """The PDF of a slip (``public.slip_data``) in ``layout``; ``words`` translates."""
    if layout not in LAYOUTS:
        raise ValueError(layout)
    width, fixed_height, margin, size = LAYOUTS[layout]
    flow = _layout(slip, words, width, fixed_height, margin, size)
    while fixed_height and flow.height() > fixed_height and size > 5:
        size *= 0.9  # a long list of documents: smaller type rather than a second page
        flow = _layout(slip, words, width, fixed_height, margin, size)
    height = fixed_height or flow.height()
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
    pdf.setTitle(f"{words(TITLE)} {slip['receipt']}")
    pdf.setAuthor(_latin1(slip["office"]["name"]))
    flow.draw(pdf, height)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _layout(slip: dict, words, width: float, fixed_height, margin: float, size: float) -> _Flow:
    flow = _Flow(width, margin, size)
    office = slip["office"]
    flow.text(office["name"], scale=1.2, bold=True, center=True)
    if office["address"]:
        flow.text(office["address"], scale=0.9, center=True)
    flow.text(words(TITLE), scale=1.1, bold=True, center=True, gap=size * 0.4)
    flow.rule()
    flow.pair(words(N_("Receipt number")), slip["receipt"])
    flow.pair(words(N_("Lookup code")), slip["lookup_code"])
    flow.pair(words(N_("Name")), slip["resident_name"])
    flow.pair(words(N_("NIK")), slip["nik"])
    flow.pair(words(N_("Procedure")), slip["procedure_title"])
    flow.pair(words(N_("Received on")), slip["started_text"])
    flow.rule()
    flow.text(words(N_("Documents received")), bold=True)
    for label in slip["documents_received"] or [words(N_("none"))]:
        flow.text(f"- {label}", scale=0.95)
    flow.space(size * 0.4)
    flow.text(words(N_("Documents still missing")), bold=True)
    for label in slip["documents_missing"] or [words(N_("none"))]:
        flow.text(f"- {label}", scale=0.95)
    flow.rule()
    flow.pair(
        words(N_("Expected date")),
        slip["expected_date_text"] or words(N_("not yet known")),
    )
    flow.text(slip["basis"]["text"], scale=0.8, gap=size * 0.3)
    qr_side = min(width - 2 * margin, 42 * mm if fixed_height else width * 0.7)
    flow.qr(slip["status_url"], qr_side)
    flow.text(
        words(N_("Scan the code, or open {url} and type the receipt number and lookup code.")).format(
            url=slip["status_url"].split("?", 1)[0]
        ),
        scale=0.8,
        center=True,
        gap=size * 0.3,
    )
    flow.rule()
    flow.text(words(N_("Opening hours: {hours}")).format(hours=office["hours"]), scale=0.85)
    if office["contact"]:
        flow.text(words(N_("Questions and complaints: {contact}")).format(contact=office["contact"]), scale=0.85)
    flow.text(words(N_("Keep this receipt: you need it to pick up your card.")), scale=0.85, bold=True)
    return flow
