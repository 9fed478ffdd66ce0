"""The coordination blueprint: the inbox other offices post to, and the status page.

``/coordination/inbox``  (POST) signed batches from peer offices.  It is authenticated by
    the HMAC signature, not by a session, so it must be exempt from CSRF protection: the
    blueprint exempts it itself when the app has Flask-WTF's ``CSRFProtect``
    (``app.extensions["csrf"]``) at registration time; an app that initialises CSRF later
    must call ``csrf.exempt(plugins.coordination.web.inbox_view)``.
``/coordination/status`` (GET) the status page; ``/coordination/status.json`` the same as JSON.
    In the full web app any signed-in user of the node may look; without a sign-in system
    (``make_inbox_app``, a headless node) only requests from the node itself (loopback).

``make_inbox_app(runtime)`` is a minimal Flask app with just this blueprint, and
``serve(app)`` runs one on a loopback port in a thread (tests, the benchmark, and
``simpul coordination serve`` for a node without the web app).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from functools import update_wrapper
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, current_app, g, jsonify, redirect, render_template, request, url_for

from simpul.engine import N_

from .inbox import handle_request
from .status import coordination_status

LOOPBACK = {"127.0.0.1", "::1", "localhost"}

#: Every text of the status page (English msgids, in the project's one catalogue).
TEXT = {
    "title": N_("Coordination with other offices"),
    "updated": N_("Office {office}; updated {at}. This page refreshes every minute."),
    "alert": N_("Alert"),
    "outbox": N_("Outbox"),
    "waiting": N_("Messages waiting to be sent: {count}"),
    "oldest": N_(
        "Oldest waiting message: case {case}, {message} to office {office}, waiting since {since} "
        "({attempts} attempts)."
    ),
    "last_error": N_("Last delivery error"),
    "nothing_waiting": N_("Nothing is waiting: every message has been delivered."),
    "alert_rule": N_("An alert is shown when a message waits longer than {limit}."),
    "offices": N_("Other offices"),
    "office": N_("Office"),
    "waiting_col": N_("Messages waiting"),
    "last_contact": N_("Last successful contact"),
    "last_failure": N_("Last failure"),
    "refused": N_("Refused requests"),
    "local": N_("on this computer"),
    "no_route": N_("no address configured"),
    "next_try": N_("Next try: {at}"),
    "clock": N_("The office's clock differs from ours by {seconds} seconds."),
    "no_peers": N_("No other office is configured."),
    "failures": N_("Failed attempts"),
    "case": N_("Case"),
    "message": N_("Message"),
    "to_office": N_("To office"),
    "attempts": N_("Attempts"),
    "next_attempt": N_("Next attempt"),
    "no_failures": N_("No failed attempts."),
    "never": N_("never"),
    "scans_title": N_("Scans of case {receipt}"),
    "scans_origin": N_("Fetched just now from office {office} (case {origin}); they are not stored here."),
    "no_scans": N_("No scans were uploaded for this case."),
    "document": N_("Document"),
    "uploaded": N_("Uploaded"),
    "open": N_("Open"),
}

#: What the messages between offices are called on the page.
MESSAGE_LABELS = {
    "ektp_regency_printing": N_("Case sent for printing"),
    "card_printed": N_("Card printed"),
    "enrolment_problem": N_("Enrolment problem"),
    "temporary_certificate_issued": N_("Temporary certificate issued"),
}


def _translate(runtime):
    """gettext of the current request: Flask-Babel's in the web app, the node's locale otherwise."""
    if "babel" in current_app.extensions:
        from flask_babel import gettext

        return lambda msgid: gettext(msgid)
    return runtime.gettext(runtime.config.locale)


def _formatter(runtime, never: str):
    try:
        zone = ZoneInfo(runtime.config.timezone)
    except Exception:  # pragma: no cover - a bad zone name shows UTC
        zone = ZoneInfo("UTC")

    def when(value):
        if not value:
            return never
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return when


def _may_view():
    """``None`` when the viewer may see the status page, else the response to send."""
    if "auth.login" in current_app.view_functions:  # the full web app: its users only
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return None
    if request.remote_addr in LOOPBACK:
        return None
    return Response("The coordination status is shown only on this computer.", status=403, mimetype="text/plain")


def inbox_view():
    runtime = current_app.extensions["simpul_coordination"].runtime
    answer = handle_request(
        runtime,
        request.headers,
        request.get_data(cache=False),
        path=request.script_root + request.path,
        remote=request.remote_addr,
    )
    return Response(answer.body, status=answer.status, headers=answer.headers)


def documents_view():
    from .scans import handle_documents_request

    runtime = current_app.extensions["simpul_coordination"].runtime
    answer = handle_documents_request(
        runtime,
        request.headers,
        request.get_data(cache=False),
        path=request.script_root + request.path,
        remote=request.remote_addr,
    )
    return Response(answer.body, status=answer.status, headers=answer.headers)


def _viewer():
    """(actor, None) for who may look at a case's scans, or (None, the response to send)."""
    from simpul.engine import Actor

    if "auth.login" in current_app.view_functions:
        if g.get("actor") is None:
            return None, redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return g.actor, None
    if request.remote_addr in LOOPBACK:
        return Actor.system("coordination-page"), None
    return None, Response("Shown only on this computer.", status=403, mimetype="text/plain")


def _error_response(exc):
    if "auth.login" in current_app.view_functions:
        raise exc  # the web app's error pages
    return Response(exc.render(), status=exc.status, mimetype="text/plain")


def _texts(runtime):
    gettext = _translate(runtime)

    def t(key, **params):
        text = gettext(TEXT.get(key, key))
        return text.format(**params) if params else text

    return gettext, t


def _layout() -> str:
    return "base.html" if "ui.index" in current_app.view_functions else "coordination/standalone.html"


def scans_page(runtime, receipt):
    from simpul.engine import SimpulError

    from .scans import list_scans

    actor, refusal = _viewer()
    if refusal is not None:
        return refusal
    try:
        scans = list_scans(runtime, receipt, actor)
    except SimpulError as exc:
        return _error_response(exc)
    _gettext, t = _texts(runtime)
    return render_template(
        "coordination/scans.html",
        scans=scans,
        t=t,
        when=_formatter(runtime, ""),
        layout=_layout(),
        page_locale=runtime.config.locale,
    )


def scan_file(runtime, receipt, document_id):
    from simpul.engine import SimpulError

    from .scans import fetch_scan

    actor, refusal = _viewer()
    if refusal is not None:
        return refusal
    try:
        meta, content = fetch_scan(runtime, receipt, document_id, actor)
    except SimpulError as exc:
        return _error_response(exc)
    response = Response(content, mimetype=meta.get("content_type") or "application/octet-stream")
    response.headers["Content-Disposition"] = f'inline; filename="{meta.get("filename") or "scan"}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def status_json(runtime):
    refusal = _may_view()
    if refusal is not None:
        return refusal
    return jsonify(coordination_status(runtime))


def status_page(runtime):
    refusal = _may_view()
    if refusal is not None:
        return refusal
    gettext, t = _texts(runtime)

    def label(name):
        return gettext(MESSAGE_LABELS[name]) if name in MESSAGE_LABELS else (name or "")

    status = coordination_status(runtime)
    alert = status["alert"]
    _spell_durations(alert, _page_locale(runtime), status.get("oldest"))
    alert_text = t(alert["text"], **alert["params"]) if alert["raised"] else None
    return render_template(
        "coordination/status.html",
        status=status,
        t=t,
        label=label,
        when=_formatter(runtime, gettext(TEXT["never"])),
        alert_text=alert_text,
        layout=_layout(),
        page_locale=runtime.config.locale,
    )


def _page_locale(runtime) -> str:
    if "babel" in current_app.extensions:
        from flask_babel import get_locale

        return str(get_locale() or runtime.config.locale)
    return runtime.config.locale


def duration_text(seconds: float, locale: str) -> str:
    """A waiting time in words of the page's language, its two largest units ("2 jam 5
    menit", "2 hours 5 minutes", "6 jam"), each unit spelled by babel."""
    from babel.dates import format_timedelta

    rest = int(max(0, seconds or 0))
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        count, rest = divmod(rest, size)
        if count:
            spelled = format_timedelta(
                timedelta(seconds=count * size), granularity=unit, threshold=10**9, locale=locale
            )
            parts.append(spelled)
        if len(parts) == 2 or (parts and not count):  # the largest unit and the one below it
            break
    return " ".join(parts) or format_timedelta(timedelta(0), granularity="second", locale=locale)


def _spell_durations(alert: dict, locale: str, oldest: dict | None) -> None:
    """The alert's durations (``6 h`` in the status) in the page's words."""
    alert["after"] = duration_text(alert["after_seconds"], locale)
    if alert.get("raised") and oldest:
        alert["params"] = {
            **alert["params"],
            "age": duration_text(oldest["age_seconds"], locale),
            "limit": alert["after"],
        }


def _with_runtime(view, runtime):
    """``view`` with the node's runtime as its first argument, keeping its name for Flask."""

    def bound(**kwargs):
        return view(runtime, **kwargs)

    return update_wrapper(bound, view)


def blueprint(runtime) -> Blueprint:
    bp = Blueprint("coordination", __name__, url_prefix="/coordination", template_folder="templates")

    @bp.record_once
    def _setup(state):
        from types import SimpleNamespace

        state.app.extensions.setdefault("simpul_coordination", SimpleNamespace(runtime=runtime))
        csrf = state.app.extensions.get("csrf")
        if csrf is not None:
            csrf.exempt(inbox_view)
            csrf.exempt(documents_view)

    bp.add_url_rule("/inbox", "inbox", inbox_view, methods=["POST"])
    bp.add_url_rule("/documents", "documents", documents_view, methods=["POST"])
    bp.add_url_rule("/cases/<receipt>/scans", "scans_page", _with_runtime(scans_page, runtime), methods=["GET"])
    bp.add_url_rule(
        "/cases/<receipt>/scans/<int:document_id>", "scan_file", _with_runtime(scan_file, runtime), methods=["GET"]
    )
    bp.add_url_rule("/status.json", "status_json", _with_runtime(status_json, runtime), methods=["GET"])
    bp.add_url_rule("/status", "status_page", _with_runtime(status_page, runtime), methods=["GET"])
    return bp


def make_inbox_app(runtime) -> Flask:
    """A Flask app with only the coordination blueprint (a node without the web app, tests)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=16 * 1024 * 1024, JSON_SORT_KEYS=False)
    app.register_blueprint(blueprint(runtime))
    return app


class Server:
    """A WSGI app served on a loopback port by werkzeug in a daemon thread."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        from werkzeug.serving import make_server

        self._server = make_server(host, port, app, threaded=True)
        self.host, self.port = host, self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"coordination-server-{self.port}",
        )
        self._thread.start()

    def shutdown(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve(app, host: str = "127.0.0.1", port: int = 0) -> Server:
    return Server(app, host, port)
