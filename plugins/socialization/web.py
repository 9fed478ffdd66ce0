"""The resident's pages (no sign-in, no script, no asset from outside the node) and the
operator's receipt slip.

Routes (registered by the ``web_blueprints`` hook):

* ``GET /layanan``, ``GET /layanan/<procedure>``       procedures, in Indonesian
* ``GET /en/layanan``, ``GET /en/layanan/<procedure>`` the same in English
* ``GET /cek?receipt=&code=`` (``/en/cek``)            status lookup; the QR code opens it
* ``GET /api/v1/public/status?receipt=&code=``          the same as JSON (Accept-Language)
* ``GET /socialization/cases/<receipt>/slip.pdf?layout=a5|a4|58mm|80mm``  the slip (signed-in
  clerk of the case's office)

Lookups (a request that carries a receipt or a code) are rate-limited per client address with
Flask-Limiter, in memory (one limit per node process): ``socialization_lookup_limit``, a node
setting in Flask-Limiter's notation, ``10 per minute;50 per hour`` by default.
"""

from __future__ import annotations

from flask import Blueprint, Response, g, has_request_context, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale, get_locale
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address

from simpul import engine
from simpul.engine import N_

from .lookup import lookup_code
from .public import LookupRefused, Words, find_public_case, office_info, procedures, resident_view, slip_data
from .slip import LAYOUTS, render_slip

DEFAULT_LIMIT = "10 per minute;50 per hour"
MSG_LIMITED = N_(
    "Too many lookups from your connection. Please wait a few minutes and try again; your receipt stays valid."
)
PRINT_LABEL = N_("Print receipt slip")

PUBLIC_PATHS = {
    "id": {"services": "/layanan", "check": "/cek"},
    "en": {"services": "/en/layanan", "check": "/en/cek"},
}


def status_url(runtime, receipt: str) -> str:
    """The address the slip's QR code opens: ``public_url`` (a node setting) when set, else
    this request's host (or ``http://127.0.0.1:5000`` outside a request)."""
    base = runtime.setting("public_url")
    if not base:
        base = request.host_url if has_request_context() else "http://127.0.0.1:5000/"
    from urllib.parse import urlencode

    query = urlencode({"receipt": receipt, "code": lookup_code(runtime.config, receipt)})
    return f"{base.rstrip('/')}/cek?{query}"


def make_blueprint(runtime) -> Blueprint:
    bp = Blueprint("socialization", __name__, template_folder="templates")
    limiter = Limiter(key_func=get_remote_address, storage_uri="memory://", default_limits=[])
    bp.record_once(lambda state: limiter.init_app(state.app))
    limit = str(runtime.setting("socialization_lookup_limit", DEFAULT_LIMIT) or DEFAULT_LIMIT)
    # one budget per client for the page and the API alike
    lookup_limit = limiter.shared_limit(limit, scope="socialization-lookup", exempt_when=lambda: not _is_lookup())
    pages = _Pages(runtime)

    # named functions: Flask-Limiter tells routes apart by the view's name.
    def services_id():
        return pages.services("id")

    def services_en():
        return pages.services("en")

    def service_id(key):
        return pages.service("id", key)

    def service_en(key):
        return pages.service("en", key)

    def check_id():
        return pages.check("id")

    def check_en():
        return pages.check("en")

    bp.add_url_rule("/layanan", "services_id", services_id)
    bp.add_url_rule("/en/layanan", "services_en", services_en)
    bp.add_url_rule("/layanan/<key>", "service_id", service_id)
    bp.add_url_rule("/en/layanan/<key>", "service_en", service_en)
    bp.add_url_rule("/cek", "check_id", lookup_limit(check_id))
    bp.add_url_rule("/en/cek", "check_en", lookup_limit(check_en))
    bp.add_url_rule("/api/v1/public/status", "api_status", lookup_limit(pages.api_status))
    bp.add_url_rule("/socialization/cases/<receipt>/slip.pdf", "slip", pages.slip)
    bp.register_error_handler(RateLimitExceeded, pages.limited)
    return bp


def _is_lookup() -> bool:
    return bool(request.args.get("receipt") or request.args.get("code"))


def _api_locale() -> str:
    return request.accept_languages.best_match(("id", "en")) or "id"


class _Pages:
    def __init__(self, runtime):
        self.runtime = runtime

    def render(self, locale: str, template: str, status: int = 200, **context):
        words = Words(locale, self.runtime)
        with force_locale(words.locale):
            html = render_template(
                f"socialization/{template}",
                locale=words.locale,
                paths=PUBLIC_PATHS[words.locale],
                other_paths=PUBLIC_PATHS["en" if words.locale == "id" else "id"],
                office=office_info(self.runtime, words),
                **context,
            )
        return Response(html, status=status, mimetype="text/html")

    # -- procedures ---------------------------------------------------------------------

    def services(self, locale):
        return self.render(locale, "services.html", procedures=procedures(self.runtime, Words(locale, self.runtime)))

    def service(self, locale, key):
        found = [p for p in procedures(self.runtime, Words(locale, self.runtime)) if p["key"] == key]
        if not found:
            return self.render(locale, "services.html", status=404, procedures=[], not_found=True)
        return self.render(locale, "service.html", procedure=found[0])

    # -- status lookup ------------------------------------------------------------------

    def check(self, locale):
        words = Words(locale, self.runtime)
        receipt, code = request.args.get("receipt", ""), request.args.get("code", "")
        if not _is_lookup():
            return self.render(locale, "check.html", receipt="", code="")
        try:
            case = find_public_case(self.runtime, receipt, code)
        except LookupRefused as refused:
            return self.render(
                locale,
                "check.html",
                status=422 if refused.field else 404,
                receipt=receipt[:64],
                code=code[:64],
                error=words(refused.message),
                error_field=refused.field,
            )
        view = resident_view(self.runtime, case, words)
        return self.render(locale, "check.html", receipt=case["receipt"], code="", view=view)

    def api_status(self):
        words = Words(_api_locale(), self.runtime)
        try:
            case = find_public_case(self.runtime, request.args.get("receipt", ""), request.args.get("code", ""))
        except LookupRefused as refused:
            body = {"code": "invalid" if refused.field else "not_found", "message": words(refused.message)}
            body["errors"] = {refused.field: [words(refused.message)]} if refused.field else None
            return jsonify(body), 400 if refused.field else 404
        return jsonify(resident_view(self.runtime, case, words))

    def limited(self, _err):
        headers = {"Retry-After": "60"}
        if request.path.startswith("/api/"):
            message = Words(_api_locale(), self.runtime)(MSG_LIMITED)
            return jsonify({"code": "rate_limited", "message": message, "errors": None}), 429, headers
        locale = "en" if request.path.startswith("/en/") else "id"
        message = Words(locale, self.runtime)(MSG_LIMITED)
        response = self.render(locale, "check.html", status=429, receipt="", code="", error=message)
        response.headers.update(headers)
        return response

    # -- the operator's slip ------------------------------------------------------------

    def slip(self, receipt):
        if g.get("actor") is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        layout = request.args.get("layout", "a5")
        if layout not in LAYOUTS:
            layout = "a5"
        case = engine.get_case(self.runtime, receipt, g.actor)  # NotFound for another office's case
        words = Words(str(get_locale() or "id"), self.runtime)
        data = slip_data(self.runtime, case, words, status_url(self.runtime, case["receipt"]))
        return Response(
            render_slip(data, words, layout),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="tanda-terima-{case["receipt"]}.pdf"'},
        )


def case_actions(runtime, case, actor) -> list[dict]:
    """The print buttons on a clerk's case page (an open case: the slip is for the resident)."""
    if actor is None or case.get("status") not in ("active", "incident"):
        return []
    layouts = ((PRINT_LABEL, "a5"), (N_("Thermal slip (58 mm)"), "58mm"), (N_("Thermal slip (80 mm)"), "80mm"))
    return [
        {"label": label, "endpoint": "socialization.slip", "values": {"receipt": case["receipt"], "layout": layout}}
        for label, layout in layouts
    ]
