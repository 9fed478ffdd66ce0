"""``simpul users create|list|token``: accounts for the web app and tokens for the API."""

from __future__ import annotations

import sys

import click

from simpul import engine
from simpul.engine import InvalidInput, NotFound

from . import main, pass_state
from .output import emit

USER_COLUMNS = ["username", "display_name", "office", "roles", "active", "has_password"]


@main.group()
def users():
    """Users of the web app and the API."""


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="Full name shown in the app.")
@click.option("--office", help="Office code (default: this node's office).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    help="operator, verifier, supervisor, process_admin, regency_officer or system_admin (repeatable).",
)
@click.option("--password", help="The password (visible in the shell history; prefer --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@click.option("--inactive", is_flag=True, help="Create the user unable to sign in.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def users_create(state, username, display_name, office, roles, password, password_stdin, inactive, as_json):
    """Create a user, or update an existing one (name, office, roles, and password if given)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    rt = state.runtime
    actor = state.actor(None)
    exists = True
    try:
        engine.get_user(rt, username, actor)
    except NotFound:
        exists = False
    if not exists and not password:
        raise InvalidInput("A new user needs a password: give --password or --password-stdin.")
    roles = [r.strip() for value in roles for r in value.split(",") if r.strip()]
    user = engine.save_user(
        rt,
        actor,
        username,
        display_name=display_name,
        office_code=office or state.config.office_code,
        roles=roles,
        active=not inactive,
        password=password or None,
        create=not exists,
    )
    emit(
        user
        if as_json
        else {k: (", ".join(v) if isinstance(v, list) else v) for k, v in user.items() if k in USER_COLUMNS},
        as_json=as_json,
    )


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def users_list(state, as_json):
    rows = engine.list_users(state.runtime, state.actor(None))
    if as_json:
        emit(rows, as_json=True)
    else:
        emit([{**r, "roles": ",".join(r["roles"])} for r in rows], USER_COLUMNS)


@users.command("token")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--json", "as_json", is_flag=True)
@pass_state
def users_token(state, username, name, as_json):
    """Create an API bearer token for USERNAME; it is printed once and stored only as a hash."""
    token, row = engine.create_token(state.runtime, username, name, state.actor(None))
    if as_json:
        emit({**row, "token": token}, as_json=True)
    else:
        click.echo(token)
