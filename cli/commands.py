"""Subcommands of ``simpul``."""

from __future__ import annotations

import threading

import click

from simpul import engine
from simpul.engine import backup, plugin_info

from . import main, pass_state
from .output import emit, parse_data

TASK_COLUMNS = ["id", "receipt", "resident_name", "name", "role", "assignee", "due_at", "version"]
CASE_COLUMNS = ["receipt", "process", "resident_name", "nik", "status", "outcome", "updated_at"]


def _setup(state, demo: bool):
    from simpul.engine import upgrade_database as upgrade

    rt = state.runtime
    upgrade(rt)
    cfg = rt.config
    with rt.transaction() as uow:
        if cfg.office_kind != "regency":
            engine.ensure_office(
                uow.session, cfg.regency_code, f"Disdukcapil {cfg.regency_code}", "regency", timezone=cfg.timezone
            )
        engine.ensure_office(
            uow.session,
            cfg.office_code,
            cfg.office_name,
            cfg.office_kind,
            parent_code=cfg.regency_code if cfg.office_kind != "regency" else None,
            timezone=cfg.timezone,
        )
    results = engine.deploy_bundled(rt, deployed_by="simpul init")
    if demo:
        from .demo import load_demo

        load_demo(rt)
    return results


@main.command()
@click.option("--demo", is_flag=True, help="Add demo users and a few cases.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def init(state, demo, as_json):
    """Create or upgrade the database and deploy the bundled processes."""
    results = _setup(state, demo)
    emit(
        [{"file": f, "outcome": o, "version": v.version if v else ""} for f, v, o in results],
        ["outcome", "version", "file"],
        as_json,
    )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--no-worker", is_flag=True, help="Do not run the worker inside the web process.")
@pass_state
def run(state, host, port, no_worker):
    """Serve the web app, with the worker in the same process (embedded mode)."""
    from waitress import serve

    from simpul.web import create_app

    with backup.node_lock(state.config):
        app = create_app(runtime=state.runtime)  # refuses a damaged database (PRAGMA quick_check)
        stop = threading.Event()
        if not no_worker:
            threading.Thread(target=engine.run_forever, args=(state.runtime, stop), daemon=True, name="worker").start()
        click.echo(f"Simpul on http://{host}:{port}/ (office {state.config.office_code})")
        try:
            serve(app, host=host, port=port, threads=8, ident="Simpul")
        finally:
            stop.set()


@main.command("worker")
@click.option("--once", is_flag=True, help="Run what is due now, then exit.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def worker_cmd(state, once, as_json):
    """Run service tasks, due timers and the outbox (and the scheduled backups)."""
    backup.check_database(state.runtime)
    if once:
        emit(engine.run_due(state.runtime), as_json=as_json)
        return
    with backup.node_lock(state.config):
        click.echo("worker running; Ctrl-C stops it")
        engine.run_forever(state.runtime)


@main.command("backup")
@click.option("--to", "folder", type=click.Path(file_okay=False), help="Folder (default SIMPUL_BACKUP_DIR).")
@click.option("--keep", type=click.IntRange(min=1), help="Backups kept there (default SIMPUL_BACKUP_KEEP).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def backup_cmd(state, folder, keep, as_json):
    """Write a consistent copy of the database while the node runs, keeping the newest N."""
    path = backup.backup(state.runtime, folder, keep)
    kept = backup.list_backups(path.parent)
    emit({"backup": str(path), "size": path.stat().st_size, "kept": len(kept)}, as_json=as_json)


@main.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@pass_state
def restore_cmd(state, file, as_json):
    """Check a backup and put it in place of the database (every Simpul program stopped)."""
    emit(backup.restore(state.runtime, file), as_json=as_json)


# -- processes -----------------------------------------------------------------------------


@main.group()
def processes():
    """Deployed process definitions."""


@processes.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def processes_list(state, as_json):
    rows = engine.list_processes(state.runtime)
    if as_json:
        emit(rows, as_json=True)
    else:
        emit(
            [
                {
                    "key": r["key"],
                    "name": r["name"],
                    "latest": r["latest"],
                    "open_cases": sum(v["open_cases"] for v in r["versions"]),
                }
                for r in rows
            ]
        )


@processes.command("deploy")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "username", help="Who deploys (recorded with the version).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def processes_deploy(state, path, username, as_json):
    """Deploy a BPMN file as a new version (refused if invalid or unchanged)."""
    from pathlib import Path

    p = Path(path)
    version = engine.deploy_process(state.runtime, p.read_bytes(), deployed_by=username or "cli", source=p.name)
    emit({"key": version.process_key, "version": version.version, "hash": version.content_hash[:12]}, as_json=as_json)


# -- cases ---------------------------------------------------------------------------------


@main.group()
def cases():
    """Residents' cases."""


@cases.command("start")
@click.argument("process")
@click.option("--data", required=True, help="JSON object, or @file.json")
@click.option("--as", "username")
@click.option("--office", help="Office code (default: the user's, or this node's).")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def cases_start(state, process, data, username, office, as_json):
    payload = parse_data(data)
    result = engine.start_case(
        state.runtime,
        process,
        payload,
        state.actor(username),
        office_code=office or (None if username else state.config.office_code),
    )
    emit(
        result
        if as_json
        else {
            "receipt": result["receipt"],
            "status": result["status"],
            "open_tasks": ", ".join(f"{t['name']} [{t['id']}]" for t in result["open_tasks"]),
        },
        as_json=as_json,
    )


@cases.command("show")
@click.argument("case")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def cases_show(state, case, username, as_json):
    result = engine.get_case(state.runtime, case, state.actor(username))
    if as_json:
        emit(result, as_json=True)
        return
    summary = {
        k: result[k]
        for k in (
            "receipt",
            "process_name",
            "process_version",
            "office",
            "nik",
            "resident_name",
            "status",
            "incident",
            "outcome",
            "end_reason",
        )
    }
    emit(summary)
    click.echo("\nOpen tasks:")
    emit(result["open_tasks"], ["id", "name", "role", "assignee", "due_at", "version"])
    click.echo("\nTimeline:")
    emit(result["events"], ["at", "actor", "office", "kind", "step_name", "detail"])


@cases.command("list")
@click.option("--status", help="open, active, incident, completed or cancelled")
@click.option("--nik")
@click.option("--outcome", help="handed_over, rejected, abandoned, cancelled, ...")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def cases_list(state, status, nik, outcome, username, as_json):
    rows = engine.list_cases(state.runtime, state.actor(username), status=status, nik=nik, outcome=outcome)
    emit(rows, CASE_COLUMNS, as_json)


@cases.command("cancel")
@click.argument("case")
@click.option("--reason", required=True)
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def cases_cancel(state, case, reason, username, as_json):
    emit(engine.cancel_case(state.runtime, case, reason, state.actor(username)), as_json=as_json)


@cases.command("retry")
@click.argument("case")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def cases_retry(state, case, username, as_json):
    """Retry a case in incident (after the cause was fixed)."""
    emit(engine.retry_incident(state.runtime, case, state.actor(username)), as_json=as_json)


# -- tasks ---------------------------------------------------------------------------------


@main.group()
def tasks():
    """Open user tasks."""


@tasks.command("list")
@click.option("--role")
@click.option("--case", "case_receipt")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tasks_list(state, role, case_receipt, username, as_json):
    rows = engine.list_tasks(state.runtime, state.actor(username), role=role, case_receipt=case_receipt)
    emit(rows, TASK_COLUMNS, as_json)


@tasks.command("claim")
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--version", "expected_version", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tasks_claim(state, task_id, username, expected_version, as_json):
    result = engine.claim_task(state.runtime, task_id, state.actor(username), expected_version=expected_version)
    emit(result if as_json else {k: result[k] for k in ("id", "name", "assignee", "version")}, as_json=as_json)


@tasks.command("unclaim")
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tasks_unclaim(state, task_id, username, as_json):
    result = engine.unclaim_task(state.runtime, task_id, state.actor(username))
    emit(result if as_json else {k: result[k] for k in ("id", "name", "assignee", "version")}, as_json=as_json)


@tasks.command("complete")
@click.argument("task_id")
@click.option("--as", "username", required=True)
@click.option("--data", default="{}", help="JSON object, or @file.json")
@click.option("--version", "expected_version", type=int, help="The task version you saw.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def tasks_complete(state, task_id, username, data, expected_version, as_json, **extras):
    """Complete TASK_ID with --data; plugins' task inputs (``task_inputs`` hook) are options too."""
    result = engine.complete_task(
        state.runtime,
        task_id,
        parse_data(data),
        state.actor(username),
        expected_version=expected_version,
        extras={k: v for k, v in extras.items() if v is not None} or None,
    )
    emit(
        result
        if as_json
        else {
            "receipt": result["receipt"],
            "status": result["status"],
            "incident": result["incident"],
            "open_tasks": ", ".join(f"{t['name']} [{t['id']}]" for t in result["open_tasks"]),
        },
        as_json=as_json,
    )


def add_task_input_options(hook) -> None:
    """``--<name>`` on ``simpul tasks complete`` for each input a plugin declares."""
    from simpul.engine import collect_task_inputs

    present = {p.name for p in tasks_complete.params}
    for name, decl in collect_task_inputs(hook).items():
        if name in present:
            continue
        help_text = decl.get("help") or decl.get("label") or ""
        tasks_complete.params.append(
            click.Option([f"--{name.replace('_', '-')}", name], default=None, help=f"({decl['plugin']}) {help_text}")
        )


# -- messages, plugins ---------------------------------------------------------------------


@main.group()
def messages():
    """BPMN messages between offices."""


@messages.command("send")
@click.argument("name")
@click.option("--key", "correlation_key", required=True, help="Correlation key (the case's receipt).")
@click.option("--data", default="{}", help="JSON object, or @file.json")
@click.option("--office", help="Deliver only to a case of this office.")
@click.option("--as", "username")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def messages_send(state, name, correlation_key, data, office, username, as_json):
    """Deliver a message to the case waiting for it (e.g. card_printed)."""
    result = engine.deliver_message(
        state.runtime, name, correlation_key, parse_data(data), state.actor(username), office_code=office
    )
    emit(result if as_json else {k: result[k] for k in ("receipt", "status")}, as_json=as_json)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@pass_state
def plugins(state, as_json):
    """Installed plugins, their versions and the hooks they implement."""
    rows = plugin_info(state.runtime.pm)
    if as_json:
        emit(rows, as_json=True)
    else:
        emit([{**r, "hooks": ", ".join(r["hooks"])} for r in rows], ["name", "version", "builtin", "hooks"])
