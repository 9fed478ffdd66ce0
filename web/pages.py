"""Error pages, the locally served bpmn-js viewer, and the API docs page."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, current_app, g, render_template, send_from_directory
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

bp = Blueprint("pages", __name__)

#: bpmn-js is installed with npm (package.json), copied into the package by ``npm run build``
#: (and so into the wheel) and served from here: offices have weak internet, so no CDN.
#: Only the viewer bundle and its stylesheets and fonts are exposed.
BPMN_JS_DIST = Path(__file__).resolve().parent / "static" / "vendor" / "bpmn-js"
BPMN_JS_FILES = ("bpmn-navigated-viewer.production.min.js", "bpmn-navigated-viewer.development.js")
BPMN_JS_ASSET_SUFFIXES = (".css", ".woff", ".woff2", ".ttf", ".eot", ".svg")


def bpmn_js_available() -> bool:
    return (Path(current_app.config.get("BPMN_JS_DIST", BPMN_JS_DIST)) / BPMN_JS_FILES[0]).is_file()


@bp.route("/vendor/bpmn-js/<path:filename>")
def bpmn_js(filename):
    dist = Path(current_app.config.get("BPMN_JS_DIST", BPMN_JS_DIST))
    allowed = filename in BPMN_JS_FILES or (
        filename.startswith("assets/") and filename.endswith(BPMN_JS_ASSET_SUFFIXES)
    )
    if not allowed or not dist.is_dir():
        abort(404)
    return send_from_directory(dist, filename, max_age=86400)


@bp.route("/api/docs")
def api_docs():
    spec = current_app.extensions["simpul"].api.spec.to_dict()
    operations = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            body = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
            operations.append(
                {
                    "path": path,
                    "method": method.upper(),
                    "summary": op.get("summary", ""),
                    "tag": (op.get("tags") or [""])[0],
                    "parameters": op.get("parameters", []),
                    "body": _resolve(spec, body),
                    "responses": op.get("responses", {}),
                }
            )
    return render_template(
        "api_docs.html", spec=spec, operations=operations, schemas=spec.get("components", {}).get("schemas", {})
    )


def _resolve(spec, schema):
    if not schema:
        return None
    ref = schema.get("$ref")
    if ref:
        name = ref.rsplit("/", 1)[-1]
        return {"name": name, **spec.get("components", {}).get("schemas", {}).get(name, {})}
    return schema


def _upload_limit_mb() -> str:
    from simpul.engine.documents import max_upload_bytes

    from .extensions import runtime

    mb = max_upload_bytes(runtime()) / (1024 * 1024)
    return f"{mb:g}"


def http_error_page(error: HTTPException):
    status = error.code or 500
    messages = {
        400: _("The request could not be understood. Go back and try again."),
        403: _("You are not allowed to open this page."),
        404: _("Not found. It may belong to another office, or the address is wrong."),
        405: _("This method is not allowed here."),
        413: _("The upload is too large (at most %(mb)s MB).", mb=_upload_limit_mb()),
        429: _("Too many requests. Wait a moment and try again."),
        500: _("Something went wrong on the server. It was logged; try again."),
    }
    return render_template("error.html", status=status, message=messages.get(status, _("The request failed."))), status


def simpul_error_page(err):
    from .i18n import render_error

    return render_template("error.html", status=err.status, message=render_error(err)), err.status


__all__ = ["bp", "bpmn_js_available", "g", "http_error_page", "simpul_error_page"]
