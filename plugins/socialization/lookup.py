"""The resident's lookup code, and reading what a resident types (or the QR code carries).

A receipt number (``640205-2026-00042``) is a serial anyone can guess, so it alone shows
nothing.  The lookup code printed beside it is an HMAC-SHA256 of the receipt under a key
derived from the node's secret for this purpose only (``engine.derived_key``): without the
secret it cannot be computed from the receipt, and it never changes for a case, so the slip
stays valid.  Eight base32 characters (40 bits) shown as ``ABCD-EFGH``; with lookups
rate-limited per client, guessing one is hopeless.

Everything a resident sends is normalised (Unicode NFKC, so full-width digits become ASCII;
spaces, dashes and case do not matter; the digits 0, 1 and 8 read as the letters O, I and B
they are often mistaken for) and checked against a strict pattern before it reaches the
database; anything else is simply "not a receipt" -- never an error page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata

from simpul.engine import derived_key

PURPOSE = "socialization.lookup"
CODE_LENGTH = 8
#: longest input looked at at all (a receipt is at most 40 characters in the database).
MAX_INPUT = 64

RECEIPT_RE = re.compile(r"^[0-9]{2,16}-[0-9]{4}-[0-9]{1,10}$")
CODE_RE = re.compile(rf"^[A-Z2-7]{{{CODE_LENGTH}}}$")
_CODE_FIXES = str.maketrans({"0": "O", "1": "I", "8": "B"})


def lookup_code(config, receipt: str) -> str:
    """The case's lookup code, ``ABCD-EFGH``."""
    digest = hmac.new(derived_key(config, PURPOSE), receipt.encode(), hashlib.sha256).digest()
    raw = base64.b32encode(digest).decode()[:CODE_LENGTH]
    return f"{raw[:4]}-{raw[4:]}"


def normalise_receipt(value) -> str | None:
    """The receipt as stored, or ``None`` when the input cannot be a receipt."""
    if not isinstance(value, str) or len(value) > MAX_INPUT:
        return None
    text = unicodedata.normalize("NFKC", value).strip().replace(" ", "")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)  # dashes a phone keyboard may produce
    return text if RECEIPT_RE.match(text) and text.isascii() else None


def normalise_code(value) -> str | None:
    """The code's eight characters, upper case, or ``None`` when it cannot be a code."""
    if not isinstance(value, str) or len(value) > MAX_INPUT:
        return None
    text = unicodedata.normalize("NFKC", value).upper()
    text = re.sub(r"[\s\-\u2010-\u2015\u2212.]", "", text).translate(_CODE_FIXES)
    return text if text.isascii() and CODE_RE.match(text) else None


def code_matches(config, receipt: str, code: str) -> bool:
    """Constant-time comparison of a normalised code with the receipt's."""
    expected = lookup_code(config, receipt).replace("-", "")
    return hmac.compare_digest(expected.encode(), code.encode())
