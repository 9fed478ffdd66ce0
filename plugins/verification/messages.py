"""Translating the plugin's messages where they are shown.

Hooks hand over English messages already formatted ("Required document missing: Family card
(Kartu Keluarga)"), as the hook specifications ask.  ``translate`` finds the msgid template a
message was formatted from, translates the template and each value, and formats again -- the
same thing the web app's ``translate_message`` does with the whole catalogue.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

from simpul.engine import documents

from . import identity, requirements


def _templates() -> tuple[str, ...]:
    found = []
    for module in (identity, requirements, documents):
        for name, value in vars(module).items():
            if name.startswith("MSG_") and isinstance(value, str) and "{" in value:
                found.append(value)
    return tuple(found)


@lru_cache(maxsize=1)
def _patterns() -> list[tuple[re.Pattern, str]]:
    patterns = []
    for template in _templates():
        parts = []
        for literal, field, _spec, _conv in string.Formatter().parse(template):
            parts.append(re.escape(literal))
            if field:
                parts.append(f"(?P<{field}>.+?)")
        patterns.append((re.compile("^" + "".join(parts) + "$", re.S), template))
    return patterns


def translate(message: str, gettext) -> str:
    """``message`` in the language of ``gettext`` (a msgid, or a msgid template formatted)."""
    translated = gettext(message)
    if translated != message:
        return translated
    for pattern, template in _patterns():
        match = pattern.match(message)
        if match:
            values = {k: gettext(v) for k, v in match.groupdict().items()}
            try:
                return gettext(template).format(**values)
            except (KeyError, IndexError, ValueError):
                return message
    return message
