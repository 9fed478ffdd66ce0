"""Printing tables and JSON, reading ``--data`` and failing with one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from simpul.engine import InvalidInput


def parse_data(value: str | None) -> dict:
    """``--data`` is a JSON object, inline or ``@file``; anything else is a clear error."""
    if value is None:
        return {}
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInput("Cannot read {path}: {error}", path=value[1:], error=exc.strerror) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput("--data is not valid JSON: {error}", error=str(exc)) from exc
    if not isinstance(data, dict):
        raise InvalidInput('--data must be a JSON object, like {{"nik": "..."}}.')
    return data


def emit(rows, columns=None, as_json=False):
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    if isinstance(rows, dict):
        for key, value in rows.items():
            if isinstance(value, (dict, list)):
                value = json.dumps(value, ensure_ascii=False, default=str)
            click.echo(f"{key}: {value}")
        return
    if not rows:
        click.echo("(none)")
        return
    columns = columns or list(rows[0].keys())
    table = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in table)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=False)))
    for row in table:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)))


def fail(message: str, code: int = 1, errors=None):
    line = f"Error: {message}"
    if errors:
        if isinstance(errors, dict):
            details = "; ".join(
                f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items()
            )
        elif all(isinstance(e, str) for e in errors):  # one problem a line (deploy refusals)
            details = ""
            line += "".join(f"\n  - {e}" for e in errors if e not in message)
        else:
            details = "; ".join(e.get("message", str(e)) if isinstance(e, dict) else str(e) for e in errors)
        if details and details not in message:
            line += f" ({details})"
    click.echo(line, err=True)
    sys.exit(code)
