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
from simpul.engine import NotFound, SimpulError, ValidationFailed
from simpul.engine import documents as store
from simpul.engine.cases import requirements_for
from simpul.engine.i18n import N_, render, translations_for

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


def make_blueprint(runtime) -> Blueprint:
    bp = Blueprint("verification", __name__, url_prefix="/verification", template_folder="templates")

    def catalogue():
        """The request's catalogue: the core's with the plugins' behind it."""
        return translations_for(_locale(runtime), runtime.translation_dirs())

    def gettext():
        return catalogue().gettext

    def actor():
        current = g.get("actor")
        if current is None:
            if _wants_json() or "auth.login" not in current_app.view_functions:
                abort(401)
            abort(redirect(url_for("auth.login", next=request.full_path.rstrip("?"))))
        return current

    @bp.before_request
    def _limit_body():
        if request.method == "POST":
            # Refuse a body larger than the limit before it is parsed (Flask >= 3.1; on older
            # Flask the app's MAX_CONTENT_LENGTH applies and engine.documents still checks).
            try:
                request.max_content_length = store.max_upload_bytes(runtime) + FORM_OVERHEAD
            except AttributeError:
                pass

    def translate_warning(w, t):
        return render(w, catalogue())

    def page(receipt, *, message=None, message_kind="success", errors=None, status=200):
        who = actor()
        t = gettext()
        case = engine.get_case(runtime, receipt, who)
        docs = store.list_documents(runtime, case["id"], who)
        for d in docs:
            d["warning_texts"] = [translate_warning(w, t) for w in d["warnings"]]
        requirements = requirements_for(runtime, case["process"], case["data"])
        by_key = {}
        for d in docs:
            by_key.setdefault(d["requirement"], []).append(d)
        received = set(case["data"].get("documents_received") or [])
        rows = [
            {
                **r,
                "label_text": render(r.get("label") or r["key"], catalogue()),
                "documents": by_key.get(r["key"], []),
                "ticked": r["key"] in received,
            }
            for r in requirements
        ]
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

    def refused(receipt, err: SimpulError, t):
        errors = (
            {k: [render(m, catalogue()) for m in v] for k, v in err.errors.items()}
            if isinstance(err.errors, dict)
            else {}
        )
        if _wants_json():
            return jsonify({"code": err.code, "message": err.render(t), "errors": errors}), err.status
        return page(receipt, message=err.render(t), message_kind="error", errors=errors, status=err.status)

    @bp.get("/cases/<receipt>/documents")
    def documents(receipt):
        return page(receipt)

    @bp.post("/cases/<receipt>/documents")
    def upload(receipt):
        who = actor()
        t = gettext()
        try:
            upload_file = request.files.get("file")
            requirement = request.form.get("requirement", "")
        except RequestEntityTooLarge:
            too_large = ValidationFailed(
                store.MSG_TOO_LARGE,
                errors={"file": [store.MSG_TOO_LARGE_FIELD]},
                limit=store.format_mb(store.max_upload_bytes(runtime)),
            )
            return refused(receipt, _checked_case(receipt, who, too_large), t)
        if upload_file is None or not upload_file.filename:
            err = ValidationFailed(MSG_CHOOSE_FILE, errors={"file": [MSG_CHOOSE_FILE]})
            return refused(receipt, _checked_case(receipt, who, err), t)
        try:
            result = store.store_document(runtime, receipt, requirement, upload_file.filename, upload_file.stream, who)
        except SimpulError as err:
            if isinstance(err, NotFound):
                raise
            return refused(receipt, err, t)
        message = t(MSG_ALREADY if result["duplicate"] else MSG_UPLOADED)
        if _wants_json():
            result["warning_texts"] = [translate_warning(w, t) for w in result["warnings"]]
            return jsonify({**result, "message": message}), 200 if result["duplicate"] else 201
        return page(receipt, message=message, status=200 if result["duplicate"] else 201)

    def _checked_case(receipt, who, err):
        engine.get_case(runtime, receipt, who)  # another office's case stays "not found"
        return err

    @bp.get("/documents/<int:document_id>")
    def download(document_id):
        meta, path = store.open_document(runtime, document_id, actor())
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

    @bp.get("/nik")
    def nik_check():
        actor()
        nik = request.args.get("nik", "")
        errors = check_nik(nik, request.args.get("birth_date"), request.args.get("sex"))
        body = {"nik": nik, "ok": not errors, "errors": [render(m, catalogue()) for m in errors]}
        try:
            parsed = parse_nik(nik)
        except NikError:
            parsed = None
        if parsed is not None:
            body.update(region=parsed.region, sex=parsed.sex, birth=parsed.date_code())
        return jsonify(body)

    @bp.errorhandler(SimpulError)
    def _engine_error(err):
        t = gettext()
        if _wants_json() or request.endpoint == "verification.nik_check":
            return jsonify({"code": err.code, "message": err.render(t)}), err.status
        return render_template("verification/error.html", layout=_layout(), message=err.render(t)), err.status

    return bp
