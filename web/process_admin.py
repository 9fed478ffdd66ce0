"""Process administration pages and their JSON endpoints: the list of processes and versions,
the BPMN modeler with its form editor, import and download, deploy, and bulk migration of
running cases.  Thin: every rule is in engine.drafts and engine.case_migration.

The modeler and form editor are bpmn-js and form-js bundled from npm by ``npm run build``
into web/static/vendor/process-admin/ (no CDN: the office's internet is weak)."""
from __future__ import annotations

from pathlib import Path

from flask import (Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _

from engine import SimpulError
from engine import case_migration, drafts

from .auth import role_required
from .extensions import runtime

bp = Blueprint("process_admin", __name__, url_prefix="/admin/processes")

ROLE = "process_admin"
VENDOR = Path(__file__).resolve().parent / "static" / "vendor" / "process-admin"
MAX_UPLOAD = 2 * 1024 * 1024


def modeler_available() -> bool:
    return (Path(current_app.config.get("PROCESS_ADMIN_VENDOR", VENDOR)) / "modeler.js").is_file()


def _is_json() -> bool:
    return "/api/" in request.path or request.is_json


@bp.errorhandler(SimpulError)
def _error(err: SimpulError):
    from .i18n import render_error

    if _is_json():
        response = jsonify({"code": err.code, "message": render_error(err), "errors": err.errors})
        response.status_code = err.status
        return response
    from .pages import simpul_error_page

    return simpul_error_page(err)


def _payload() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        from engine import InvalidInput

        raise InvalidInput("Send a JSON object.")
    return data


# -- pages ---------------------------------------------------------------------------------

@bp.route("")
@role_required(ROLE)
def index():
    rt = runtime()
    return render_template("process_admin/index.html", processes=drafts.process_overview(rt, g.actor),
                           runs=case_migration.migration_runs(rt, g.actor, limit=10))


@bp.route("/<key>/edit")
@role_required(ROLE)
def edit(key):
    opened = drafts.open_process(runtime(), g.actor, key)
    return _modeler(opened["bpmn_xml"], opened["forms"], opened["draft"], key,
                    base_version=opened["version"])


@bp.route("/drafts/<int:draft_id>/edit")
@role_required(ROLE)
def edit_draft(draft_id):
    draft = drafts.get_draft(runtime(), draft_id, g.actor)
    return _modeler(draft["bpmn_xml"], draft["forms"], draft, draft["process_key"], base_version=None)


def _modeler(xml, forms, draft, key, base_version):
    rt = runtime()
    data = {
        "xml": xml, "forms": forms, "process_key": key,
        "draft": {k: v for k, v in (draft or {}).items() if k not in ("bpmn_xml", "forms")} or None,
        "base_version": base_version,
        "catalogue": drafts.editor_catalogue(rt),
        "urls": {
            "save": url_for("process_admin.api_save"),
            "deploy": url_for("process_admin.api_deploy", draft_id=0).replace("/0/", "/{id}/"),
            "form": url_for("process_admin.api_form", form_key="__key__"),
            "draft_page": url_for("process_admin.edit_draft", draft_id=0).replace("/0/", "/{id}/"),
            "migrate": url_for("process_admin.migrate", key=key or "__key__"),
            "index": url_for("process_admin.index"),
        },
    }
    return render_template("process_admin/modeler.html", data=data, process_key=key, draft=draft,
                           available=modeler_available())


@bp.route("/import", methods=["POST"])
@role_required(ROLE)
def import_bpmn():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a BPMN file to import."), "error")
        return redirect(url_for("process_admin.index"))
    raw = upload.read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        flash(_("The BPMN file is larger than %(limit)s MB.", limit=MAX_UPLOAD // (1024 * 1024)), "error")
        return redirect(url_for("process_admin.index"))
    draft = drafts.save_draft(runtime(), g.actor, raw.decode("utf-8", errors="replace"))
    if draft["valid"]:
        flash(_("Imported %(name)s as a draft. It can be deployed.", name=draft["name"] or upload.filename), "success")
    else:
        flash(_("Imported %(name)s as a draft with %(n)s problem(s) to fix before it can be deployed.",
                name=draft["name"] or upload.filename, n=len(draft["errors"])), "error")
    return redirect(url_for("process_admin.edit_draft", draft_id=draft["id"]))


@bp.route("/<key>/versions/<int:version>.bpmn")
@role_required(ROLE)
def download_version(key, version):
    xml, number = drafts.version_xml(runtime(), key, version)
    return _download(xml, f"{key}-v{number}.bpmn")


@bp.route("/drafts/<int:draft_id>.bpmn")
@role_required(ROLE)
def download_draft(draft_id):
    draft = drafts.get_draft(runtime(), draft_id, g.actor)
    return _download(draft["bpmn_xml"], f"{draft['process_key'] or 'draft'}-draft{draft_id}.bpmn")


def _download(xml: str, filename: str) -> Response:
    return Response(xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/<key>/migrate", methods=["GET"])
@role_required(ROLE)
def migrate(key):
    """Pick a target version; ``?target=N`` shows the dry run, from which cases are migrated."""
    rt = runtime()
    overview = {p["key"]: p for p in drafts.process_overview(rt, g.actor)}
    process = overview.get(key)
    if process is None or not process["versions"]:
        from engine import NotFound

        raise NotFound("No process {key} is deployed.", key=key)
    target = request.args.get("target", type=int)
    plan = case_migration.plan_migration(rt, key, target, g.actor) if target else None
    return render_template("process_admin/migrate.html", process=process, target=target, plan=plan, result=None)


@bp.route("/<key>/migrate", methods=["POST"])
@role_required(ROLE)
def migrate_post(key):
    rt = runtime()
    target = request.form.get("target", type=int)
    if request.form.get("scope") == "all":
        case_ids = None
    else:
        case_ids = request.form.getlist("case_id", type=int)
        if not case_ids:
            flash(_("Select the cases to migrate, or migrate all of them."), "error")
            return redirect(url_for("process_admin.migrate", key=key, target=target))
    result = case_migration.migrate_cases(rt, key, target, g.actor, case_ids=case_ids)
    overview = {p["key"]: p for p in drafts.process_overview(rt, g.actor)}
    flash(_("%(n)s case(s) migrated to version %(version)s; %(refused)s refused.", n=result["migrated"],
            version=result["target"]["version"], refused=result["refused"]),
          "success" if not result["refused"] else "error")
    return render_template("process_admin/migrate.html", process=overview[key], target=target, plan=None,
                           result=result)


# -- JSON endpoints (the modeler's; session sign-in and CSRF header as the pages) ----------

@bp.route("/api/catalogue")
@role_required(ROLE)
def api_catalogue():
    return jsonify(drafts.editor_catalogue(runtime()))


@bp.route("/api/forms/<form_key>")
@role_required(ROLE)
def api_form(form_key):
    form = drafts.bundled_form(runtime(), form_key)
    if form is None:
        return jsonify({"code": "not_found", "message": _("Form %(key)s is not found.", key=form_key),
                        "errors": None}), 404
    return jsonify(form)


@bp.route("/api/validate", methods=["POST"])
@role_required(ROLE)
def api_validate():
    body = _payload()
    result = drafts.validate_process(runtime(), body.get("bpmn_xml") or "", body.get("forms"))
    return jsonify({"valid": result.valid, "process_key": result.process_key, "errors": result.errors})


@bp.route("/api/drafts", methods=["POST"])
@role_required(ROLE)
def api_save():
    body = _payload()
    draft = drafts.save_draft(runtime(), g.actor, body.get("bpmn_xml") or "", forms=body.get("forms"),
                              draft_id=body.get("draft_id"), expected_revision=body.get("expected_revision"),
                              base_version_id=body.get("base_version_id"))
    draft.pop("bpmn_xml", None)
    draft.pop("forms", None)
    return jsonify(draft)


@bp.route("/api/drafts/<int:draft_id>", methods=["GET"])
@role_required(ROLE)
def api_draft(draft_id):
    return jsonify(drafts.get_draft(runtime(), draft_id, g.actor))


@bp.route("/api/drafts/<int:draft_id>/deploy", methods=["POST"])
@role_required(ROLE)
def api_deploy(draft_id):
    body = request.get_json(silent=True) or {}
    version = drafts.deploy_draft(runtime(), draft_id, g.actor, expected_revision=body.get("expected_revision"))
    version["migrate_url"] = url_for("process_admin.migrate", key=version["process_key"], target=version["version"])
    return jsonify(version), 201


@bp.route("/api/processes")
@role_required(ROLE)
def api_processes():
    return jsonify(drafts.process_overview(runtime(), g.actor))


@bp.route("/api/<key>/migration", methods=["GET"])
@role_required(ROLE)
def api_plan(key):
    target = request.args.get("target", type=int)
    ids = request.args.get("case_ids")
    case_ids = [int(c) for c in ids.split(",") if c.strip().isdigit()] if ids else None
    return jsonify(case_migration.plan_migration(runtime(), key, target or 0, g.actor, case_ids=case_ids))


@bp.route("/api/<key>/migration", methods=["POST"])
@role_required(ROLE)
def api_migrate(key):
    body = _payload()
    return jsonify(case_migration.migrate_cases(runtime(), key, body.get("target") or 0, g.actor,
                                                case_ids=body.get("case_ids"), dry_run=bool(body.get("dry_run"))))
