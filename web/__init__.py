"""Simpul's web app: the clerks' pages and the JSON API, a thin Flask layer over the engine.

``create_app(config=None, runtime=None)``: ``runtime`` is an ``engine.Runtime`` (``simpul
run`` passes its own); without one, a runtime is built from ``config`` when it is an
``engine.Config``, else from the environment.  A ``dict`` ``config`` overrides Flask settings.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import Flask, current_app, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

from simpul.engine import MAX_ID, Config, InvalidInput, Runtime, SimpulError, node_secret
from simpul.engine.i18n import LOCALES, N_

from . import i18n
from .extensions import babel, csrf, db

log = logging.getLogger("simpul.web")

MSG_NUL = N_("The request contains a NUL character, which cannot be stored. Remove it and try again.")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class _StrictInt(IntegerConverter):
    """``<int:...>`` in a route: ASCII digits within 64 bits (Werkzeug's matches any Unicode
    digit and any size); anything else is a 404."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies are HttpOnly and SameSite=Lax always, and Secure whenever the page was
    served over HTTPS (or SESSION_COOKIE_SECURE forces it)."""

    def get_cookie_secure(self, app):
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (request.is_secure if request else False)


def _secret_key(runtime: Runtime) -> str:
    return node_secret(runtime.config)


def create_app(config=None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = Runtime(config if isinstance(config, Config) else Config.from_env())
    from simpul.engine.backup import check_database

    check_database(runtime)  # a damaged database is refused, with what to do, before anything is served
    overrides = config if isinstance(config, dict) else {}

    app = Flask(__name__, instance_path=str(Path(runtime.config.instance_path).resolve()))
    app.url_map.converters["int"] = _StrictInt
    app.config.update(
        SECRET_KEY=_secret_key(runtime),
        SQLALCHEMY_DATABASE_URI=runtime.config.database_url,
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        SESSION_COOKIE_NAME="simpul_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=False,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,  # valid for the session: a form left open over lunch still posts
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=11 * 1024 * 1024,
        BABEL_DEFAULT_LOCALE=runtime.config.locale if runtime.config.locale in LOCALES else "id",
        BABEL_DEFAULT_TIMEZONE=runtime.config.timezone,
        JSON_SORT_KEYS=False,
    )
    if runtime.config.behind_tls_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["HSTS"] = True
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)
    app.config.update(overrides)
    app.session_interface = _SessionInterface()
    app.extensions["simpul"] = SimpleNamespace(runtime=runtime, api=None)

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)

    from . import admin, api, auth, dashboard, pages, process_admin, views

    app.extensions["simpul"].api = api.init_api(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(process_admin.bp)
    app.register_blueprint(dashboard.bp)
    for result in runtime.hook.web_blueprints(runtime=runtime):
        for blueprint in result or []:
            app.register_blueprint(blueprint)  # a plugin's pages: its own rules live in the engine

    app.before_request(_before_request)
    app.after_request(_security_headers)
    _register_errors(app)
    _register_template_helpers(app)
    return app


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refuse_nul() -> None:
    """A NUL character cannot be stored in PostgreSQL text (nor is it ever meant): a request
    carrying one in its address, query, form fields or JSON is refused whole, before any
    view runs, on both databases alike."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype == "application/x-www-form-urlencoded":
        # (A multipart upload is left to its blueprint, which sets the size limit before
        # anything reads the body; its few text fields are checked against lists there.)
        values += [*request.form.keys(), *request.form.values()]
    found = any(_has_nul(v) for v in values)
    if not found and request.is_json:
        found = _has_nul(request.get_json(silent=True))
    if found:
        raise InvalidInput(MSG_NUL)


def _before_request():
    from .api import is_api_request
    from .auth import load_actor

    if request.endpoint in ("static", "pages.bpmn_js"):
        return None
    _refuse_nul()
    if not is_api_request():
        load_actor()
    return None


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if current_app.config.get("HSTS"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint not in ("static", "pages.bpmn_js") and response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_errors(app: Flask) -> None:
    from .api import is_api_request, simpul_error_response
    from .pages import simpul_error_page

    @app.errorhandler(SimpulError)
    def _simpul_error(err):
        if err.status >= 500:
            log.error("engine error: %s", err)
        if is_api_request():
            return simpul_error_response(err)
        return simpul_error_page(err)

    @app.errorhandler(CSRFError)
    def _csrf_error(err):
        if is_api_request():
            from .api import error_response

            return error_response(400, "csrf", _("The form has expired. Reload the page and try again."))
        # A page form (a step, a new case) sent after the session or its token expired: back
        # to the form -- through the sign-in when the session is gone -- where the browser
        # restores the typing it kept (simpul.js drafts), instead of a dead end.
        from flask import flash, g, redirect, request, url_for

        from .auth import load_actor, safe_next

        if request.method == "POST" and request.endpoint in ("ui.complete", "ui.case_start"):
            if g.get("actor", None) is None:
                load_actor()
            if g.get("actor") is None:
                flash(_("Your session ended. Sign in again to go back to the form; your typing is kept."), "error")
                return redirect(url_for("auth.login", next=request.path))
            flash(_("The form had expired. Your typing is kept: check it and send it again."), "error")
            return redirect(safe_next(request.path, url_for("ui.inbox")))
        return render_template(
            "error.html", status=400, message=_("The form has expired. Reload the page and try again.")
        ), 400


def _register_template_helpers(app: Flask) -> None:
    from simpul.engine import mask_nik

    from .pages import bpmn_js_available

    app.jinja_env.filters.update(
        dt=i18n.format_dt,
        date=i18n.format_date_only,
        iso=i18n.iso,
        filesize=i18n.filesize,
        mask_nik=mask_nik,
    )
    app.jinja_env.globals.update(
        role_label=i18n.role_label,
        status_label=i18n.status_label,
        event_label=i18n.event_label,
        step_title=i18n.step_title,
        process_title=i18n.process_title,
        office_kind_label=i18n.office_kind_label,
        translate_message=i18n.translate_message,
        LANGUAGE_NAMES=i18n.LANGUAGE_NAMES,
        LOCALES=LOCALES,
        bpmn_js_available=bpmn_js_available,
        has_endpoint=lambda name: name in app.view_functions,
        field_label=i18n.field_label,
        show_value=i18n.show_value,
        show_field=i18n.show_field,
    )

    @app.context_processor
    def _context():
        from .plugin_ui import menu_links

        return {
            "actor": g.get("actor"),
            "office": g.get("office"),
            "locale": i18n.current_locale(),
            "plugin_menu": lambda: menu_links(app.extensions["simpul"].runtime, g.get("actor")),
        }
