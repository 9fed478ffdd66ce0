"""One line per deploy refusal: the element (id and name) and the reason, at most 300 characters.

Diagrams exported from other modelling tools are mostly refused, rightly; the administrator
must be able to act on each refusal without reading a parser dump, in their own language.
"""

from __future__ import annotations

import re

MAX_LINE = 300


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _label(problem: dict) -> str:
    """The element as the administrator knows it: its label first (what the diagram shows), then
    its id in brackets (what the XML and the modeler's properties panel show); the id alone when
    the element has no label."""
    element, name = problem.get("element"), _one_line(problem.get("element_name") or "")
    if not element:
        return ""
    element = _cut(str(element), 60)
    return f'"{_cut(name, 60)}" ({element})' if name and name != element else element


def refusal_message(problem: dict):
    """``problem`` as a :class:`~simpul.engine.i18n.Message` (element label and reason), so an
    error raised by the engine is translated where it is shown, in the reader's language."""
    from .i18n import Message

    if problem.get("template"):
        params = {
            k: _cut(_one_line(v), 160) if isinstance(v, str) else v for k, v in (problem.get("params") or {}).items()
        }
        reason = Message(problem["template"], **params)
    else:
        reason = Message(_one_line(problem.get("message") or ""))
    label = _label(problem)
    return Message("{element}: {reason}", element=label, reason=reason) if label else reason


def refusal_line(problem: dict, translate=None) -> str:
    """``problem`` (``{element, element_name, template, params, message}``) as one line.

    ``translate(template, params)`` gives the reason in the user's language (default: the
    English ``message``).  Long parameters (a parser's text) are cut so the line stays short."""
    if translate is not None and problem.get("template"):
        params = {
            k: _cut(_one_line(v), 160) if isinstance(v, str) else v for k, v in (problem.get("params") or {}).items()
        }
        reason = translate(problem["template"], params)
    else:
        reason = problem.get("message") or ""
    reason = _one_line(reason)
    label = _label(problem)
    line = f"{label}: {reason}" if label else reason
    return _cut(line, MAX_LINE)
