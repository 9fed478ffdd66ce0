"""``simpul requirements``: the document checklist of a case as the installed plugins compute it.

Registered by the verification plugin through the ``register_commands`` hook (blocking the
plugin with ``SIMPUL_PLUGINS=-verification`` removes the command with it).
"""

from __future__ import annotations

import click

from simpul.engine.cases import requirements_for

from .output import emit, parse_data


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
    from . import State

    state = ctx.find_object(State) or ctx.ensure_object(State)
    runtime = state.runtime
    items = requirements_for(runtime, procedure, parse_data(data))
    if as_json:
        emit(items, as_json=True)
        return
    from simpul.engine.i18n import render, translations_for

    catalogue = translations_for(runtime.config.locale, runtime.translation_dirs())
    emit(
        [
            {"key": r["key"], "label": render(r.get("label") or r["key"], catalogue), "source": r.get("source", "")}
            for r in items
        ],
        ["key", "label", "source"],
    )
