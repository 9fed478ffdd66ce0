"""Pages to upload a case's documents per requirement and to download them.

The web app registers this blueprint from the plugin's ``web_blueprints`` hook.  It relies on
the app for who is signed in (``flask.g.actor``, an ``engine.Actor``) and for CSRF
protection of its forms; everything else -- office isolation, type sniffing, the size limit,
the photo checks -- is in ``engine.documents``.

Routes (under ``/verification``):

* ``GET  /cases/<receipt>/documents``   the checklist with an upload form per requirement
* ``POST /cases/<receipt>/documents``   upload (multipart: ``requirement``, ``file``)
* ``GET  /documents/<id>``              download (a user of the case's office only)
* ``GET  /nik?nik=&birth_date=&sex=``   check a NIK as the clerk types it (JSON)

Pages answer JSON instead of HTML when the request prefers ``application/json``.
Templates extend ``SIMPUL_PLUGIN_LAYOUT`` (default ``base.html`` when the app has one; it must
have the blocks ``title`` and ``content``), else a small layout of their own.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, g, jsonify, redirect, render_template, request, send_file, url_for
from jinja2 import TemplateNotFound
from werkzeug.exceptions import RequestEntityTooLarge

from simpul import engine
from simpul.engine import N_, NotFound, SimpulError, ValidationFailed, render_message, requirements_for
from simpul.engine import documents as store

from .identity import NikError, check_nik, parse_nik

#: the page's own words (msgids here, so the project's extraction finds them).
TEXT = {
    "documents": N_("Documents"),
    "requirement": N_("Requirement"),
    "uploaded": N_("Uploaded"),
    "warning": N_("Warning"),
    "seen_at_counter": N_("Seen at the counter"),
    "file": N_("File"),
    "upload": N_("Upload"),
    "limit": N_("PDF, JPEG or PNG, at most {mb} MB."),
    "none_required": N_("No documents are required for this case."),
}
MSG_UPLOADED = N_("Document uploaded.")
MSG_ALREADY = N_("This file was already uploaded for this requirement.")
MSG_CHOOSE_FILE = N_("Choose a file.")
#: multipart overhead allowed on top of the file size limit before the body is refused unread.
FORM_OVERHEAD = 64 * 1024


def _locale(runtime) -> str:
    try:
        from flask_babel import get_locale

        locale = get_locale()
    except Exception:  # the app may not use Flask-Babel
        locale = None
    return str(locale) if locale else runtime.config.locale


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _layout() -> str:
    configured = current_app.config.get("SIMPUL_PLUGIN_LAYOUT")
    if configured:
        return configured
    try:
        current_app.jinja_env.get_template("base.html")
        return "base.html"
    except TemplateNotFound:
        return "verification/layout.html"


def _checklist_rows(requirements, docs, case, catalogue) -> list[dict]:
    by_key: dict = {}
    for d in docs:
        by_key.setdefault(d["requirement"], []).append(d)
    received = set(case["data"].get("documents_received") or [])
    return [
        {
            **r,
            "label_text": render_message(r.get("label") or r["key"], catalogue),
            "documents": by_key.get(r["key"], []),
            "ticked": r["key"] in received,
        }
        for r in requirements
    ]


def _download_response(meta, path):
    response = send_file(
        path,
        mimetype=meta["content_type"],
        as_attachment=True,
        download_name=meta["filename"],
        max_age=0,
        etag=meta["sha256"],
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


class Pages:
    """The blueprint's views, bound to one node's runtime."""

    def __init__(self, runtime):
        self.runtime = runtime

    def gettext(self):
        return self.catalogue().gettext

    def catalogue(self):
        """The request's catalogue: the core's with each plugin's behind it."""
        return self.runtime.translations(_locale(self.runtime))

    @staticmethod
    def actor():
        current = g.get("actor")
        if current is None:
            if _wants_json() or "auth.login" not in current_app.view_functions:
                abort(401)
            abort(redirect(url_for("auth.login", next=request.full_path.rstrip("?"))))
        return current

    def limit_body(self):
        if request.method == "POST":
            # Refuse a body larger than the limit before it is parsed (Flask >= 3.1; on older
            # Flask the app's MAX_CONTENT_LENGTH applies and engine.documents still checks).
            try:
                request.max_content_length = store.max_upload_bytes(self.runtime) + FORM_OVERHEAD
            except AttributeError:
                pass

    def page(self, receipt, *, message=None, message_kind="success", errors=None, status=200):
        runtime, who, t = self.runtime, self.actor(), self.gettext()
        case = engine.get_case(runtime, receipt, who)
        docs = store.list_documents(runtime, case["id"], who)
        for d in docs:
            d["warning_texts"] = [render_message(w, self.catalogue()) for w in d["warnings"]]
        rows = _checklist_rows(requirements_for(runtime, case["process"], case["data"]), docs, case, self.catalogue())
        if _wants_json():
            body = {"case": case["receipt"], "requirements": rows, "documents": docs}
            if message:
                body["message"] = message
            if errors:
                body["errors"] = errors
            return jsonify(body), status
        text = {k: t(v) for k, v in TEXT.items()}
        text["limit"] = text["limit"].format(mb=f"{store.max_upload_bytes(runtime) / store.MEGABYTE:g}")
        return render_template(
            "verification/documents.html",
            layout=_layout(),
            text=text,
            case=case,
            rows=rows,
            documents=docs,
            message=message,
            message_kind=message_kind,
            errors=errors or {},
            is_open=case["status"] in ("active", "incident"),
        ), status

    def refused(self, receipt, err: SimpulError, t):
        errors = (
            {k: [render_message(m, self.catalogue()) for m in v] for k, v in err.errors.items()}
            if isinstance(err.errors, dict)
            else {}
        )
        if _wants_json():
            return jsonify({"code": err.code, "message": err.render(t), "errors": errors}), err.status
        return self.page(receipt, message=err.render(t), message_kind="error", errors=errors, status=err.status)

    def documents(self, receipt):
        return self.page(receipt)

    def _checked_case(self, receipt, who, err):
        engine.get_case(self.runtime, receipt, who)  # another office's case stays "not found"
        return err

    def _posted_file(self, receipt, who):
        """(file, requirement, None), or (None, None, the refusal to send)."""
        try:
            upload_file = request.files.get("file")
            requirement = request.form.get("requirement", "")
        except RequestEntityTooLarge:
            too_large = ValidationFailed(
                store.MSG_TOO_LARGE,
                errors={"file": [store.MSG_TOO_LARGE_FIELD]},
                limit=store.format_mb(store.max_upload_bytes(self.runtime)),
            )
            return None, None, self._checked_case(receipt, who, too_large)
        if upload_file is None or not upload_file.filename:
            err = ValidationFailed(MSG_CHOOSE_FILE, errors={"file": [MSG_CHOOSE_FILE]})
            return None, None, self._checked_case(receipt, who, err)
        return upload_file, requirement, None

    def upload(self, receipt):
        who, t = self.actor(), self.gettext()
        upload_file, requirement, refusal = self._posted_file(receipt, who)
        if refusal is not None:
            return self.refused(receipt, refusal, t)
        try:
            result = store.store_document(
                self.runtime, receipt, requirement, upload_file.filename, upload_file.stream, who
            )
        except SimpulError as err:
            if isinstance(err, NotFound):
                raise
            return self.refused(receipt, err, t)
        message = t(MSG_ALREADY if result["duplicate"] else MSG_UPLOADED)
        status = 200 if result["duplicate"] else 201
        if _wants_json():
            result["warning_texts"] = [render_message(w, self.catalogue()) for w in result["warnings"]]
            return jsonify({**result, "message": message}), status
        return self.page(receipt, message=message, status=status)

    def download(self, document_id):
        meta, path = store.open_document(self.runtime, document_id, self.actor())
        return _download_response(meta, path)

    def nik_check(self):
        self.actor()
        nik = request.args.get("nik", "")
        errors = check_nik(nik, request.args.get("birth_date"), request.args.get("sex"))
        body = {"nik": nik, "ok": not errors, "errors": [render_message(m, self.catalogue()) for m in errors]}
        try:
            parsed = parse_nik(nik)
        except NikError:
            parsed = None
        if parsed is not None:
            body.update(region=parsed.region, sex=parsed.sex, birth=parsed.date_code())
        return jsonify(body)

    def engine_error(self, err):
        t = self.gettext()
        if _wants_json() or request.endpoint == "verification.nik_check":
            return jsonify({"code": err.code, "message": err.render(t)}), err.status
        return render_template("verification/error.html", layout=_layout(), message=err.render(t)), err.status


def make_blueprint(runtime) -> Blueprint:
    bp = Blueprint("verification", __name__, url_prefix="/verification", template_folder="templates")
    pages = Pages(runtime)
    bp.before_request(pages.limit_body)
    bp.add_url_rule("/cases/<receipt>/documents", "documents", pages.documents, methods=["GET"])
    bp.add_url_rule("/cases/<receipt>/documents", "upload", pages.upload, methods=["POST"])
    bp.add_url_rule("/documents/<int:document_id>", "download", pages.download, methods=["GET"])
    bp.add_url_rule("/nik", "nik_check", pages.nik_check, methods=["GET"])
    bp.register_error_handler(SimpulError, pages.engine_error)
    return bp
