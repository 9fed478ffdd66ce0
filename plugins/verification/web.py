"""Pages to upload a case's documents per requirement and to download them.

The web app registers this blueprint from the plugin's ``web_blueprints`` hook.  It relies on
the app for who is signed in (``flask.g.actor``, an ``engine.Actor``) and for CSRF
protection of its forms; everything else -- office isolation, type sniffing, the size limit,
the photo checks -- is in ``engine.documents``.

Routes (under ``/verification``):

* ``GET  /cases/<receipt>/documents``   the checklist with an upload form per requirement
* ``POST /cases/<receipt>/documents``   upload (multipart: ``requirement``, ``file``)
* ``GET  /documents/<id>``              download (a user of the case's office only)
* ``GET  /documents/<id>/remove``       asks before removing or replacing a wrong upload
* ``POST /documents/<id>/remove``       removes it (``confirm=yes``)
* ``POST /documents/<id>/replace``      uploads a file in its place (multipart: ``file``)
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
from simpul.engine import N_, Message, NotFound, SimpulError, ValidationFailed, render_message, requirements_for
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
    "back_to_step": N_("Back to the step: {step}"),
    "back_to_case": N_("Back to the case"),
    "remove_or_replace": N_("Remove or replace"),
    "remove_title": N_("Remove or replace a document"),
    "remove_question": N_("Remove {file} ({requirement}) from case {receipt}?"),
    "remove_recorded": N_("The removal is recorded in the case's timeline."),
    "remove_yes": N_("Yes, remove the document"),
    "cancel": N_("No, keep it"),
    "replace_legend": N_("Or upload the right file in its place"),
    "replace": N_("Replace with this file"),
}
MSG_UPLOADED = N_("Document uploaded.")
MSG_ALREADY = N_("This file was already uploaded for this requirement.")
MSG_CHOOSE_FILE = N_("Choose a file.")
MSG_REMOVED = N_("Document {file} removed.")
MSG_REPLACED = N_("Document {old} replaced by {file}.")
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
    """One row per requirement with its documents (``size_text`` and ``removable`` set)."""
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

    def texts(self) -> dict:
        t = self.gettext()
        text = {k: t(v) for k, v in TEXT.items()}
        text["limit"] = text["limit"].format(mb=f"{store.max_upload_bytes(self.runtime) / store.MEGABYTE:g}")
        return text

    def limit_body(self):
        if request.method == "POST":
            # Refuse a body larger than the limit before it is parsed (Flask >= 3.1; on older
            # Flask the app's MAX_CONTENT_LENGTH applies and engine.documents still checks).
            try:
                request.max_content_length = store.max_upload_bytes(self.runtime) + FORM_OVERHEAD
            except AttributeError:
                pass

    def page(self, receipt, *, message=None, message_kind="success", errors=None, status=200):
        runtime, who = self.runtime, self.actor()
        case = engine.get_case(runtime, receipt, who)
        docs = store.list_documents(runtime, case["id"], who)
        locale = _locale(runtime)
        for d in docs:
            d["warning_texts"] = [render_message(w, self.catalogue()) for w in d["warnings"]]
            d["size_text"] = store.format_size(d["size"], locale)
            d["removable"] = store.removable(runtime, d["id"], who)
        rows = _checklist_rows(requirements_for(runtime, case["process"], case["data"]), docs, case, self.catalogue())
        if _wants_json():
            body = {"case": case["receipt"], "requirements": rows, "documents": docs}
            if message:
                body["message"] = message
            if errors:
                body["errors"] = errors
            return jsonify(body), status
        text = self.texts()
        back = [
            {"url": url_for("ui.task", task_id=task["id"]), "label": text["back_to_step"].format(step=self._step(task))}
            for task in case.get("open_tasks") or []
            if who.has_role(task.get("role") or "") and "ui.task" in current_app.view_functions
        ]
        if "ui.case" in current_app.view_functions:
            back.append({"url": url_for("ui.case", receipt=case["receipt"]), "label": text["back_to_case"]})
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
            back=back,
        ), status

    def _step(self, task) -> str:
        english = _locale(self.runtime).startswith("en")
        return (task.get("name_en") if english and task.get("name_en") else task.get("name")) or task["step"]

    def refused(self, receipt, err: SimpulError, t):
        errors = (
            {k: [render_message(m, self.catalogue()) for m in v] for k, v in err.errors.items()}
            if isinstance(err.errors, dict)
            else {}
        )
        if _wants_json():
            return jsonify({"code": err.code, "message": err.render(t), "errors": errors}), err.status
        # one sentence, once: the field's own words only when the message has no more to say
        return self.page(receipt, message=err.render(t), message_kind="error", status=err.status)

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

    def remove_page(self, document_id, *, message=None, status=200):
        who = self.actor()
        doc = store.document_info(self.runtime, document_id, who)
        case = engine.get_case(self.runtime, doc["receipt"], who)
        labels = {
            r["key"]: render_message(r.get("label") or r["key"], self.catalogue())
            for r in requirements_for(self.runtime, case["process"], case["data"])
        }
        text = self.texts()
        text["remove_question"] = text["remove_question"].format(
            file=doc["filename"], requirement=labels.get(doc["requirement"], doc["requirement"]), receipt=doc["receipt"]
        )
        return render_template(
            "verification/remove.html",
            layout=_layout(),
            text=text,
            doc={**doc, "size_text": store.format_size(doc["size"], _locale(self.runtime))},
            case=case,
            message=message,
        ), status

    def remove(self, document_id):
        who, t = self.actor(), self.gettext()
        if request.form.get("confirm") != "yes":
            return self.remove_page(document_id)
        try:
            removed = store.remove_document(self.runtime, document_id, who)
        except SimpulError as err:
            if isinstance(err, NotFound):
                raise
            return self._refused_removal(document_id, err, t)
        message = render_message(Message(MSG_REMOVED, file=removed["filename"]), self.catalogue())
        if _wants_json():
            return jsonify({"removed": removed, "message": message})
        case = engine.get_case(self.runtime, removed["case_id"], who)
        return self.page(case["receipt"], message=message)

    def replace(self, document_id):
        who, t = self.actor(), self.gettext()
        doc = store.document_info(self.runtime, document_id, who)
        upload_file, _requirement, refusal = self._posted_file(doc["receipt"], who)
        try:
            if refusal is not None:
                raise refusal
            result = store.replace_document(self.runtime, document_id, upload_file.filename, upload_file.stream, who)
        except SimpulError as err:
            if isinstance(err, NotFound):
                raise
            return self._refused_removal(document_id, err, t)
        old = (result.get("replaced") or {}).get("filename") or doc["filename"]
        message = render_message(Message(MSG_REPLACED, old=old, file=result["filename"]), self.catalogue())
        if _wants_json():
            return jsonify({**result, "message": message}), 201
        return self.page(doc["receipt"], message=message, status=201)

    def _refused_removal(self, document_id, err, t):
        if _wants_json():
            return jsonify({"code": err.code, "message": err.render(t)}), err.status
        try:
            return self.remove_page(document_id, message=err.render(t), status=err.status)
        except NotFound:
            raise err from None

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
    bp.add_url_rule("/documents/<int:document_id>/remove", "remove_page", pages.remove_page, methods=["GET"])
    bp.add_url_rule("/documents/<int:document_id>/remove", "remove", pages.remove, methods=["POST"])
    bp.add_url_rule("/documents/<int:document_id>/replace", "replace", pages.replace, methods=["POST"])
    bp.add_url_rule("/nik", "nik_check", pages.nik_check, methods=["GET"])
    bp.register_error_handler(SimpulError, pages.engine_error)
    return bp
