"""``simpul coordination ...``: the outbox and the links to other offices, from a terminal."""

from __future__ import annotations

import json
import threading

import click

from .status import coordination_status, discard_message, human_duration, prune_sent, send_now


def _runtime(ctx):
    state = ctx.find_root().obj
    return state.runtime


def _print_status(status: dict) -> None:
    echo = click.echo
    echo(f"office {status['office']} ({status['office_kind']})")
    alert = status["alert"]
    if alert["raised"]:
        echo("ALERT: " + alert["text"].format(**alert["params"]))
    echo(f"waiting: {status['waiting']}")
    oldest = status["oldest"]
    if oldest:
        echo(
            f"oldest: {oldest['case'] or '-'} {oldest['name'] or oldest['kind']} to {oldest['destination']}, "
            f"waiting {human_duration(oldest['age_seconds'])}, {oldest['attempts']} attempt(s)"
            + (f", last error: {oldest['last_error']}" if oldest["last_error"] else "")
        )
    echo(f"alert after: {alert['after']}")
    echo("")
    columns = ["office", "route", "waiting", "last_contact_at", "last_failure_at", "last_error", "refused_requests"]
    rows = [[("" if p.get(c) is None else str(p.get(c))) for c in columns] for p in status["peers"]]
    _table(columns, rows)
    if status["failures"]:
        echo("\nfailed attempts:")
        columns = ["case", "name", "destination", "attempts", "last_error", "next_attempt_at"]
        _table(columns, [[("" if m.get(c) is None else str(m.get(c))) for c in columns] for m in status["failures"]])


def _table(columns, rows):
    if not rows:
        click.echo("(no peers)")
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=False)))
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)))


def register(cli) -> None:
    @cli.group()
    def coordination():
        """Messages to and from other offices (outbox, inbox, links)."""

    @coordination.command("status")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def status_cmd(ctx, as_json):
        """Messages waiting, the oldest, the last contact with each office, failures."""
        status = coordination_status(_runtime(ctx))
        if as_json:
            click.echo(json.dumps(status, indent=2, ensure_ascii=False, default=str))
        else:
            _print_status(status)

    @coordination.command("retry")
    @click.option("--office", help="Only messages to this office.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def retry_cmd(ctx, office, as_json):
        """Send every waiting message at the worker's next pass (after the link came back)."""
        count = send_now(_runtime(ctx), office)
        click.echo(json.dumps({"woken": count}) if as_json else f"{count} message(s) will be sent now")

    @coordination.command("discard")
    @click.argument("message_id")
    @click.option("--reason", required=True)
    @click.option("--as", "username", default="cli")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def discard_cmd(ctx, message_id, reason, username, as_json):
        """Take a message out of the outbox for good (it is never sent); written in the case's timeline."""
        result = discard_message(_runtime(ctx), message_id, reason, username)
        click.echo(json.dumps(result) if as_json else f"{result['message_id']}: {result['status']}")

    @coordination.command("prune")
    @click.option("--limit", type=click.IntRange(1, 1_000_000), default=100_000, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def prune_cmd(ctx, limit, as_json):
        """Delete sent messages older than the sent_retention setting (their ids are kept)."""
        count = prune_sent(_runtime(ctx), limit=limit)
        click.echo(json.dumps({"pruned": count}) if as_json else f"{count} sent message(s) pruned")

    @coordination.command("scans")
    @click.argument("case")
    @click.option("--as", "username", help="Who asks (office isolation applies); default: the node itself.")
    @click.option("--save", "directory", type=click.Path(file_okay=False), help="Fetch every scan into DIR.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_context
    def scans_cmd(ctx, case, username, directory, as_json):
        """The scans the origin office holds for CASE, fetched on request (never sent with the case)."""
        from pathlib import Path

        from simpul.engine import Actor, actor_for

        from .scans import fetch_scan, list_scans

        runtime = _runtime(ctx)
        actor = actor_for(runtime, username) if username else Actor.system("cli")
        listing = list_scans(runtime, case, actor)
        if directory:
            target = Path(directory)
            target.mkdir(parents=True, exist_ok=True)
            for doc in listing["documents"]:
                meta, content = fetch_scan(runtime, case, doc["id"], actor)
                path = target / f"{doc['id']}-{meta['filename']}"
                path.write_bytes(content)
                doc["saved_as"] = str(path)
        if as_json:
            click.echo(json.dumps(listing, indent=2, ensure_ascii=False, default=str))
            return
        click.echo(
            f"case {listing['case']}: scans held by office {listing['origin_office']} (case {listing['origin_case']})"
        )
        for doc in listing["documents"]:
            click.echo(
                f"  {doc['id']}  {doc['requirement']}  {doc['filename']}  {doc['size']} bytes"
                + (f"  -> {doc['saved_as']}" if doc.get("saved_as") else "")
            )
        if not listing["documents"]:
            click.echo("  (none)")

    @coordination.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5001, show_default=True, type=int)
    @click.option("--no-worker", is_flag=True, help="Do not run the worker in this process.")
    @click.pass_context
    def serve_cmd(ctx, host, port, no_worker):
        """Serve only the inbox and status page (a node without the web app), with the worker."""
        from werkzeug.serving import run_simple

        from simpul.engine import run_forever

        from .web import make_inbox_app

        runtime = _runtime(ctx)
        stop = threading.Event()
        if not no_worker:
            threading.Thread(target=run_forever, args=(runtime, stop), daemon=True, name="worker").start()
        click.echo(
            f"coordination inbox on http://{host}:{port}/coordination/inbox (office {runtime.config.office_code})"
        )
        try:
            run_simple(host, port, make_inbox_app(runtime), threaded=True, use_reloader=False)
        finally:
            stop.set()
