"""Reading numbers that users type or send: ids, versions, page numbers.

Python's ``int()`` and ``str.isdigit()`` accept every Unicode digit (``int("٣") == 3``) and
numbers of any size, while a database id is a signed 32-bit integer (the ``INTEGER`` primary
keys of PostgreSQL: cases, tasks, tokens, ...).  Everything a user sends as a number goes
through ``strict_int``: ASCII digits only, within that range, so an Arabic-Indic digit cannot
open case 3 and a 10-digit id is a plain "not found" instead of a database error.
"""

from __future__ import annotations

import re

#: the largest id, page or version both databases store: PostgreSQL's INTEGER (``cases.id``,
#: ``LIMIT``/``OFFSET`` binds); ``id=2147483648`` was a 500 there (found by schemathesis).
MAX_ID = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,19}", re.ASCII)  # at most 19 digits are read, then the range is checked


def strict_int(value) -> int:
    """``value`` as a non-negative integer of at most ``MAX_ID``, or ValueError.

    Usable as ``type=`` of Werkzeug's ``request.args.get`` (a ValueError gives the default)."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise ValueError(f"not a number: {value!r}"[:80])
    if not 0 <= number <= MAX_ID:
        raise ValueError("out of range")
    return number


def as_id(value) -> int | None:
    """``value`` as an id, or None when it is not one (the caller answers "not found")."""
    try:
        return strict_int(value)
    except ValueError:
        return None
