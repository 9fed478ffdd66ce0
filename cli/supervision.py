"""``simpul report monthly`` and the supervisor's commands (``simpul supervise ...``)."""

from __future__ import annotations

import sys

import click

from simpul.engine import recap, supervision

from . import main, pass_state
from .output import emit

#: the recap's column titles in files written from the command line (the office's language)
LABELS = {
    "title": "Laporan bulanan",
    "sheet": "Rekap",
    "details": "Rincian",
    "kelurahan": "Kelurahan/desa",
    "total": "Jumlah",
    "by_procedure": "Permohonan menurut layanan",
    "by_reason": "Ditolak menurut alasan",
    "ages": "Terbuka di akhir bulan, menurut umur (hari)",
    "applications": "Permohonan",
    "recorded": "Direkam",
    "sent": "Dikirim ke kabupaten",
    "printed": "Kartu dicetak",
    "handed_over": "Diserahkan",
    "rejected": "Ditolak",
    "suket": "Suket terbit",
    "open_at_end": "Terbuka di akhir bulan",
}


@main.group()
def report():
    """Reports a camat sends up."""


@report.command("monthly")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--office", help="a kecamatan of the regency (default: your office)")
@click.option("--format", "fmt", type=click.Choice(["json", "xlsx", "pdf"]), default="json")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), help="file to write")
@click.option("--as", "username")
@pass_state
def report_monthly(state, month, office, fmt, output, username):
    """The monthly recap (laporan bulanan) per kelurahan and in total."""
    result = recap.monthly_recap(state.runtime, state.actor(username), month, office=office)
    if fmt == "json":
        keys = ("month", "office", "applications", *recap.COUNTED, "open_at_end", "by_kelurahan")
        data = {k: result[k] for k in keys}
        data.update({k: result[k] for k in ("applications_by_procedure", "rejected_by_reason", "open_age_days")})
        if output:
            import json

            with open(output, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, ensure_ascii=False)
        else:
            emit(data, as_json=True)
        return
    content = recap.recap_xlsx(result, LABELS) if fmt == "xlsx" else recap.recap_pdf(result, LABELS)
    if output:
        with open(output, "wb") as f:
            f.write(content)
        click.echo(output)
    else:
        sys.stdout.buffer.write(content)


@main.group()
def supervise():
    """The supervisor's hands: each action needs a reason and goes on the case's timeline."""


@supervise.command("release")
@click.argument("task_id")
@click.option("--reason", required=True)
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def supervise_release(state, task_id, reason, username, as_json):
    """Release a step claimed by an absent colleague."""
    emit(supervision.release_task(state.runtime, task_id, reason, state.actor(username)), as_json=as_json)


@supervise.command("reassign")
@click.argument("task_id")
@click.argument("to_user")
@click.option("--reason", required=True)
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def supervise_reassign(state, task_id, to_user, reason, username, as_json):
    """Give a step to a named colleague with the step's role."""
    emit(supervision.reassign_task(state.runtime, task_id, to_user, reason, state.actor(username)), as_json=as_json)


@supervise.command("reopen")
@click.argument("case")
@click.option("--reason", required=True)
@click.option("--step", help="the step to reopen at (default: the one that rejected it)")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def supervise_reopen(state, case, reason, step, username, as_json):
    """Reopen a case closed by a mistaken rejection."""
    emit(supervision.reopen_case(state.runtime, case, reason, state.actor(username), step=step), as_json=as_json)


@supervise.command("move-back")
@click.argument("case")
@click.argument("step")
@click.option("--reason", required=True)
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def supervise_move_back(state, case, step, reason, username, as_json):
    """Move an open case back to an earlier step."""
    emit(supervision.move_back(state.runtime, case, step, reason, state.actor(username)), as_json=as_json)
