"""``simpul requirements``: the document checklist of a case as the installed plugins compute it.

Registered by the verification plugin through the ``register_commands`` hook (blocking the
plugin with ``SIMPUL_PLUGINS=-verification`` removes the command with it).  Written only
against the plugin contract: the node's runtime is ``ctx.obj.runtime`` (see docs/plugins.md).
"""

from __future__ import annotations

import json

import click

from simpul.engine import InvalidInput, render_message, requirements_for

COLUMNS = ("key", "label", "source")


@click.command("requirements")
@click.argument("procedure")
@click.option(
    "--data",
    default="{}",
    show_default=True,
    help='The case data the rules look at, as JSON or @file.json, e.g. \'{"reason": "lost"}\'.',
)
@click.option("--json", "as_json", is_flag=True, help="Print the checklist as JSON (labels as English msgids).")
@click.pass_context
def requirements_command(ctx, procedure, data, as_json):
    """The documents PROCEDURE requires for a case with --data, by the installed plugins' rules."""
    runtime = ctx.find_root().obj.runtime
    items = requirements_for(runtime, procedure, _parse_data(data))
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    catalogue = runtime.translations()
    rows = [
        {"key": r["key"], "label": render_message(r.get("label") or r["key"], catalogue), "source": r.get("source", "")}
        for r in items
    ]
    if not rows:
        click.echo("(none)")
        return
    widths = {c: max([len(c)] + [len(str(r[c])) for r in rows]) for c in COLUMNS}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in COLUMNS).rstrip())
    for r in rows:
        click.echo("  ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS).rstrip())


def _parse_data(raw: str) -> dict:
    """``--data``: a JSON object, inline or ``@file``; anything else is the engine's clear
    InvalidInput, which ``simpul`` prints as one line with a non-zero exit."""
    text = raw
    if raw.startswith("@"):
        try:
            with open(raw[1:], encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise InvalidInput("Cannot read {path}: {error}", path=raw[1:], error=exc.strerror) from exc
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("--data is not valid JSON: {error}", error=str(exc)) from exc
    if not isinstance(value, dict):
        raise InvalidInput('--data must be a JSON object, like {{"nik": "..."}}.')
    return value
