"""``simpul residents ...``: the kelurahan resident registry from the shell.

* ``import FILE [--kelurahan CODE] [--stop-on-error] [--dry-run] [--column HEADER=FIELD] [--json]``
  prints ``{"imported", "updated", "unchanged", "errors": [{"row", "column", "message"}]}``
  and exits 1 when errors stopped the import (``--stop-on-error``, or a file whose columns
  cannot be read).  ``--dry-run`` prints the difference against the stored list instead
  (new, gone, changed fields) and writes nothing.
* ``coverage [--kelurahan CODE] [--json]``: per kelurahan ``{"kelurahan", "eligible",
  "recorded", "carded", "without_ektp"}``.
* ``without-ektp [--kelurahan CODE] [--rt] [--rw] [--format csv|xlsx] -o FILE``.

Messages are in the node's language (``SIMPUL_LOCALE``, Indonesian by default).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from simpul.engine.i18n import render


def _office(state, username):
    actor = state.actor(username)
    return actor, actor.office_code or state.runtime.config.office_code


def _renderer(runtime):
    catalogue = runtime.translations()
    return lambda message: render(message, catalogue)


@click.group("residents")
def residents():
    """The kelurahan resident registry (daftar penduduk): import, coverage, who has no e-KTP."""


@residents.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kelurahan", help="Kelurahan code (or name) of every row; else the file's kelurahan column.")
@click.option("--stop-on-error", is_flag=True, help="Store nothing when any row is invalid.")
@click.option("--dry-run", is_flag=True, help="Show the difference with the stored list; write nothing.")
@click.option("--column", "columns", multiple=True, metavar="HEADER=FIELD", help="Map an unknown column header.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def import_command(ctx, file, kelurahan, stop_on_error, dry_run, columns, as_json, username):
    """Import a kelurahan's resident list from CSV or XLSX."""
    from .registry import apply_import, diff_view, plan_import, summary

    state = ctx.obj
    rt = state.runtime
    actor, office = _office(state, username)
    say = _renderer(rt)
    mapping = {}
    for item in columns:
        head, sep, target = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: write HEADER=FIELD", param_hint="--column")
        mapping[head.strip()] = target.strip()
    data = Path(file).read_bytes()
    bar = _progress(not as_json)
    try:
        plan = plan_import(rt, data, file, office, kelurahan=kelurahan, mapping=mapping, progress=bar.update)
    finally:
        bar.close()
    if dry_run:
        out = {**diff_view(plan, say), "errors": summary(plan, say, False)["errors"]}
        _emit(out, as_json, _print_diff)
        sys.exit(1 if plan.stopped else 0)
    applied = apply_import(rt, plan, office, actor.username, stop_on_error=stop_on_error)
    out = summary(plan, say, applied)
    _emit(out, as_json, lambda o: _print_summary(o, applied, len(plan.gone), say))
    if not applied:
        sys.exit(1)


class _NoBar:
    def update(self, _n=1):
        pass

    def close(self):
        pass


def _progress(shown: bool):
    if not shown or not sys.stderr.isatty():
        return _NoBar()
    from tqdm import tqdm

    return tqdm(unit=" rows", file=sys.stderr, desc="rows")


def _emit(out, as_json, printer):
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, default=str))
    else:
        printer(out)


def _print_summary(out, applied, gone, say):
    from simpul.engine import N_, Message

    if applied:
        click.echo(
            say(
                Message(
                    N_("Imported {imported}, updated {updated}, unchanged {unchanged}, no longer listed {gone}."),
                    imported=out["imported"],
                    updated=out["updated"],
                    unchanged=out["unchanged"],
                    gone=gone,
                )
            )
        )
    else:
        click.echo(say(N_("Nothing was imported.")))
    for e in out["errors"]:
        click.echo(f"  {e['row']}\t{e['column'] or ''}\t{e['message']}")


def _print_diff(out):
    click.echo(f"new {out['new']}  gone {out['gone']}  changed {out['changed']}  unchanged {out['unchanged']}")
    for r in out["new_residents"]:
        click.echo(f"+ {r['nik']} {r['name']} ({r['kelurahan']})")
    for r in out["gone_residents"]:
        click.echo(f"- {r['nik']} {r['name']} ({r['kelurahan']})")
    for r in out["changed_residents"]:
        fields = "; ".join(f"{f['label']}: {f['old']} -> {f['new']}" for f in r["fields"])
        click.echo(f"~ {r['nik']} {r['name']}: {fields}")
    for e in out["errors"]:
        click.echo(f"  {e['row']}\t{e['column'] or ''}\t{e['message']}")


@residents.command("coverage")
@click.option("--kelurahan")
@click.option("--json", "as_json", is_flag=True)
@click.option("--as", "username")
@click.pass_context
def coverage_command(ctx, kelurahan, as_json, username):
    """e-KTP coverage per kelurahan: eligible, recorded, carded, without e-KTP."""
    from .coverage import coverage

    state = ctx.obj
    _actor, office = _office(state, username)
    figures = coverage(state.runtime, office, kelurahan=kelurahan)
    rows = [
        {k: r[k] for k in ("kelurahan", "eligible", "recorded", "carded", "without_ektp")}
        for r in figures["by_kelurahan"]
    ]
    if as_json:
        click.echo(json.dumps(rows))
        return
    click.echo(f"{'kelurahan':<12} {'eligible':>9} {'recorded':>9} {'carded':>9} {'without':>9}")
    for r in rows:
        click.echo(
            f"{r['kelurahan']:<12} {r['eligible']:>9} {r['recorded']:>9} {r['carded']:>9} {r['without_ektp']:>9}"
        )


@residents.command("without-ektp")
@click.option("--kelurahan")
@click.option("--rt")
@click.option("--rw")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@click.option("--as", "username")
@click.pass_context
def without_command(ctx, kelurahan, rt, rw, fmt, output, username):
    """Write the eligible residents without an e-KTP (CSV or XLSX) for the kelurahan."""
    from .exports import write_without

    state = ctx.obj
    _actor, office = _office(state, username)
    count = write_without(state.runtime, office, output, fmt, kelurahan=kelurahan, rt=rt, rw=rw)
    click.echo(f"{output}: {count}")
