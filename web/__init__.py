"""Simpul's web app: the clerks' pages and the JSON API, a thin Flask layer over the engine.

``create_app(config=None, runtime=None)``: ``runtime`` is an ``engine.Runtime`` (``simpul
run`` passes its own); without one, a runtime is built from ``config`` when it is an
``engine.Config``, else from the environment.  A ``dict`` ``config`` overrides Flask settings.
"""

from __future__ import annotations

import logging
import os
import secrets
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from flask import Flask, g, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from simpul.engine import Config, Runtime, SimpulError
from simpul.engine.i18n import LOCALES

from . import i18n
from .extensions import babel, csrf, db

log = logging.getLogger("simpul.web")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies are HttpOnly and SameSite=Lax always, and Secure whenever the page was
    served over HTTPS (or SESSION_COOKIE_SECURE forces it)."""

    def get_cookie_secure(self, app):
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (request.is_secure if request else False)


def _secret_key(runtime: Runtime) -> str:
    if runtime.config.secret_key:
        return runtime.config.secret_key
    path = Path(runtime.config.instance_path) / "secret_key"
    if path.is_file():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def create_app(config=None, runtime: Runtime | None = None) -> Flask:
    if runtime is None:
        runtime = Runtime(config if isinstance(config, Config) else Config.from_env())
    overrides = config if isinstance(config, dict) else {}

    app = Flask(__name__, instance_path=str(Path(runtime.config.instance_path).resolve()))
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
    app.config.update(overrides)
    app.session_interface = _SessionInterface()
    app.extensions["simpul"] = SimpleNamespace(runtime=runtime, api=None)

    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale)

    from . import admin, api, auth, pages, process_admin, views

    app.extensions["simpul"].api = api.init_api(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(process_admin.bp)
    for result in runtime.hook.web_blueprints(runtime=runtime):
        for blueprint in result or []:
            app.register_blueprint(blueprint)  # a plugin's pages: its own rules live in the engine

    app.before_request(_before_request)
    app.after_request(_security_headers)
    _register_errors(app)
    _register_template_helpers(app)
    return app


def _before_request():
    from .api import is_api_request
    from .auth import load_actor

    if request.endpoint in ("static", "pages.bpmn_js"):
        return None
    if not is_api_request():
        load_actor()
    return None


def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
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
        return render_template(
            "error.html", status=400, message=_("The form has expired. Reload the page and try again.")
        ), 400


def _register_template_helpers(app: Flask) -> None:
    from simpul.engine.inbox import mask_nik

    from .pages import bpmn_js_available

    app.jinja_env.filters.update(
        dt=i18n.format_dt,
        date=i18n.format_date_only,
        iso=i18n.iso,
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
        return {"actor": g.get("actor"), "office": g.get("office"), "locale": i18n.current_locale()}
