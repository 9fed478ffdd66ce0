"""Files and residents for the verification tests."""

from __future__ import annotations

import io
from datetime import date

from PIL import Image

from simpul.engine import hookimpl

MB = 1024 * 1024


def nik_for(birth: date, sex: str, region: str = "640205", serial: int = 1) -> str:
    day = birth.day + (40 if sex == "P" else 0)
    return f"{region}{day:02d}{birth.month:02d}{birth.year % 100:02d}{serial:04d}"


def pdf(pad: int = 0) -> bytes:
    """A small, complete PDF (``pad`` bytes of comment inside to make it bigger)."""
    body = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    )
    padding = (b"%" + b"x" * 78 + b"\n") * (pad // 80 + 1) if pad else b""
    return body + padding + b"trailer << /Root 1 0 R >>\n%%EOF\n"


def image(fmt: str = "JPEG", size=(300, 400), background=(250, 250, 250), face=(120, 80, 60)) -> bytes:
    """A passport-style picture: a dark face in the middle of the background."""
    img = Image.new("RGB", size, background)
    w, h = size
    img.paste(face, (w // 3, h // 4, 2 * w // 3, h))
    out = io.BytesIO()
    img.save(out, fmt, quality=90) if fmt == "JPEG" else img.save(out, fmt)
    return out.getvalue()


def exe() -> bytes:
    return (
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
        + b"\x00" * 2000
        + b"This program cannot be run in DOS mode"
    )


class PhotoRequirement:
    """A local rule asking for a photo on every new card (to exercise the photo checks)."""

    @hookimpl
    def document_requirements(self, procedure, data):
        if procedure == "ektp_new_card":
            return [
                {"key": "photos", "label": "Three 3x4 cm photos, white background", "source": "test", "kind": "photo"}
            ]
        return []
