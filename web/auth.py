"""Signing in and out, the language switch, and who the current user is."""

from __future__ import annotations

import functools
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from simpul import engine
from simpul.engine import SimpulError
from simpul.engine.i18n import LOCALES

from .extensions import runtime
from .i18n import render_error

bp = Blueprint("auth", __name__)


def load_actor() -> None:
    """Before every page: the signed-in user's Actor in ``g.actor`` (or None)."""
    g.actor = None
    token = session.get("sid")
    if not token:
        if session.get("user"):  # a cookie from before server-side sessions: sign in again
            _clear_keeping_locale()
        return
    actor = engine.session_actor(runtime(), token, idle_period())
    if actor is None:  # signed out, idle, deactivated, or the password changed: sign out
        _clear_keeping_locale()
        return
    g.actor = actor
    _load_office(actor.office_code)


def idle_period() -> timedelta | None:
    minutes = runtime().config.session_idle_minutes
    return timedelta(minutes=minutes) if minutes and minutes > 0 else None


def _clear_keeping_locale() -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def _load_office(office_code: str | None) -> None:
    office = engine.get_office(runtime(), office_code)
    g.office = office
    g.office_timezone = office.timezone if office is not None and office.timezone else None


def login_required(view):
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def role_required(*roles):
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not any(g.actor.has_role(r) for r in roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def safe_next(target: str | None, default: str) -> str:
    """Only redirect within this site (no open redirects)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def remote_addr() -> str | None:
    return request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_url = safe_next(request.values.get("next"), url_for("ui.inbox"))
    if g.get("actor") is not None and request.method == "GET":
        return redirect(next_url)
    error, status = None, 200
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        try:
            actor = engine.authenticate(
                runtime(), username, request.form.get("password") or "", remote_addr=remote_addr()
            )
        except SimpulError as err:
            error, status = render_error(err), err.status
        else:
            locale = session.get("locale")
            session.clear()  # a fresh session: nothing from before sign-in survives
            session.permanent = True
            session["user"] = actor.username
            session["sid"] = engine.open_session(runtime(), actor.username, remote_addr())
            saved = engine.get_locale(runtime(), actor.username)
            if saved in LOCALES:
                session["locale"] = saved
            elif locale in LOCALES:
                session["locale"] = locale
            return redirect(next_url)
    if g.get("office") is None:  # the page names the office this server belongs to
        _load_office(runtime().config.office_code)
    return render_template("login.html", error=error, username=username, next=next_url), status


@bp.route("/logout", methods=["POST"])
def logout():
    engine.end_session(runtime(), session.get("sid"))
    _clear_keeping_locale()
    return redirect(url_for("auth.login"))


@bp.route("/language", methods=["POST"])
def language():
    locale = request.form.get("locale")
    if locale not in LOCALES:
        abort(400)
    session["locale"] = locale
    if g.get("actor") is not None:
        engine.set_locale(runtime(), g.actor.username, locale)
    return redirect(safe_next(request.form.get("next"), url_for("ui.inbox")))


def current_user_name() -> str:
    actor = g.get("actor")
    if actor is None:
        return ""
    return actor.display_name or actor.username


def unauthorized_message() -> str:
    return _("Please sign in.")


__all__ = ["bp", "current_app", "load_actor", "login_required", "role_required"]
