"""``simpul cases receipt RECEIPT -o FILE.pdf``: the resident's receipt slip from the shell
(for an office printing slips in a batch, or re-printing a lost one)."""

from __future__ import annotations

import click


@click.command("receipt")
@click.argument("receipt")
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True), help="PDF file to write."
)
@click.option("--layout", type=click.Choice(["a5", "a4", "58mm", "80mm"]), default="a5", show_default=True)
@click.option("--lang", type=click.Choice(["id", "en"]), default=None, help="Language (default: the node's).")
@click.option("--as", "username")
@click.pass_context
def receipt_command(ctx, receipt, output, layout, lang, username):
    """Write the receipt slip (tanda terima) of a case as a PDF."""
    from simpul import engine

    from .public import Words, slip_data
    from .slip import render_slip
    from .web import status_url

    state = ctx.obj  # the CLI's state: its runtime and how it names the acting user
    rt = state.runtime
    case = engine.get_case(rt, receipt, state.actor(username))
    words = Words(lang or rt.config.locale, rt)
    pdf = render_slip(slip_data(rt, case, words, status_url(rt, case["receipt"])), words, layout)
    with open(output, "wb") as handle:
        handle.write(pdf)
    click.echo(f"{output}: {case['receipt']} ({layout}, {len(pdf)} bytes)")
