"""Process administration pages and their JSON endpoints: the list of processes and versions,
the BPMN modeler with its form editor, import and download, deploy, and bulk migration of
running cases.  Thin: every rule is in engine.drafts and engine.case_migration.

The modeler and form editor are bpmn-js and form-js bundled from npm by ``npm run build``
into web/static/vendor/process-admin/ (no CDN: the office's internet is weak)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from simpul import engine
from simpul.engine import SimpulError, as_id, strict_int

from .auth import role_required
from .extensions import runtime
from .i18n import render_error, render_problems, render_reason
from .modeler_text import library_translations

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
    errors = err.errors
    if isinstance(errors, list) and errors and isinstance(errors[0], dict) and "element" in errors[0]:
        # a refused deploy: each problem, and the first one in the message, in the user's language
        errors = render_problems(errors)
        if "first" in err.params:
            err = type(err)(err.template, errors=errors, **{**err.params, "first": errors[0]["message"]})
    if _is_json():
        response = jsonify({"code": err.code, "message": render_error(err), "errors": errors})
        response.status_code = err.status
        return response
    from .pages import simpul_error_page

    return simpul_error_page(err)


def _payload() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        from simpul.engine import InvalidInput

        raise InvalidInput("Send a JSON object.")
    return data


# -- pages ---------------------------------------------------------------------------------


@bp.route("")
@role_required(ROLE)
def index():
    rt = runtime()
    return render_template(
        "process_admin/index.html",
        processes=engine.process_overview(rt, g.actor),
        runs=engine.migration_runs(rt, g.actor, limit=10),
    )


@bp.route("/<key>/edit")
@role_required(ROLE)
def edit(key):
    opened = engine.open_process(runtime(), g.actor, key)
    return _modeler(opened["bpmn_xml"], opened["forms"], opened["draft"], key, base_version=opened["version"])


@bp.route("/drafts/<int:draft_id>/edit")
@role_required(ROLE)
def edit_draft(draft_id):
    draft = engine.get_draft(runtime(), draft_id, g.actor)
    return _modeler(draft["bpmn_xml"], draft["forms"], draft, draft["process_key"], base_version=None)


def _modeler(xml, forms, draft, key, base_version):
    rt = runtime()
    data = {
        "xml": xml,
        "forms": forms,
        "process_key": key,
        "draft": _shown_draft({k: v for k, v in (draft or {}).items() if k not in ("bpmn_xml", "forms")}) or None,
        "base_version": base_version,
        "catalogue": engine.editor_catalogue(rt),
        "urls": {
            "save": url_for("process_admin.api_save"),
            "deploy": url_for("process_admin.api_deploy", draft_id=0).replace("/0/", "/{id}/"),
            "preview": url_for("process_admin.api_preview", draft_id=0).replace("/0/", "/{id}/"),
            "form": url_for("process_admin.api_form", form_key="__key__"),
            "draft_page": url_for("process_admin.edit_draft", draft_id=0).replace("/0/", "/{id}/"),
            "migrate": url_for("process_admin.migrate", key=key or "__key__"),
            "index": url_for("process_admin.index"),
        },
    }
    return render_template(
        "process_admin/modeler.html",
        data=data,
        process_key=key,
        draft=draft,
        available=modeler_available(),
        labels=_panel_labels(),
        translations=library_translations(),
    )


def _panel_labels() -> dict:
    """The properties panel's Simpul group in the user's language (read by simpul-properties.js;
    ``{key}`` is filled in by the browser)."""
    return {
        "group": "Simpul",
        "form": _("Form"),
        "form_description": _('The form the clerk fills in; edit it with "Edit form of selected task".'),
        "new_form": _("New form key"),
        "create_form": _("Create form"),
        "new_form_description": _(
            "Makes an empty form for this task and opens the form editor; it is saved with the draft."
        ),
        "new_form_invalid": _(
            "A form key is snake_case: lowercase letters, digits and underscores, starting with a letter."
        ),
        "new_form_exists": _("A form %(key)s already exists; choose another key.", key="{key}"),
        "due": _("Due in (ISO 8601, e.g. P3D)"),
        "due_days": _("Due in days"),
        "due_days_description": _("Days after the step opens; empty: no due date."),
        "name_en": _("Name in English"),
        "lane_role": _("Role (lane)"),
        "lane_role_description": _("The lane's name maps to the role whose inbox gets its tasks."),
        "operator": _("Service operator"),
        "operator_description": _("Provided by the installed plugins."),
        "result_variable": _("Result variable"),
        "message": _("Message"),
        "message_description": _(
            "Messages the installed plugins deliver, matched to the case by their correlation key."
        ),
        "no_key": _("no key"),
        "choose_message": _("Choose a message."),
        "correlation": _("Correlation key: %(key)s (the case's receipt)", key="{key}"),
        "unknown_message": _("Unknown message: it cannot be deployed."),
        "condition": _("Condition (Python expression)"),
        "condition_description": _("e.g. documents_complete == True; checked in the sandbox when saved."),
        "script": _("Script (Python, sandboxed)"),
    }


def _shown_draft(draft: dict) -> dict:
    """A draft as the browser shows it: its problems in the user's language."""
    if draft and draft.get("errors"):
        draft = {**draft, "errors": render_problems(draft["errors"])}
    if draft and draft.get("warnings"):
        draft = {**draft, "warnings": render_problems(draft["warnings"])}
    return draft


def _shown_plan(plan: dict) -> dict:
    return {**plan, "cases": [render_reason(c) for c in plan.get("cases", [])]}


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
    draft = engine.save_draft(runtime(), g.actor, raw.decode("utf-8", errors="replace"))
    if draft["valid"]:
        flash(_("Imported %(name)s as a draft. It can be deployed.", name=draft["name"] or upload.filename), "success")
    else:
        flash(
            _(
                "Imported %(name)s as a draft with %(n)s problem(s) to fix before it can be deployed.",
                name=draft["name"] or upload.filename,
                n=len(draft["errors"]),
            ),
            "error",
        )
    return redirect(url_for("process_admin.edit_draft", draft_id=draft["id"]))


@bp.route("/<key>/versions/<int:version>.bpmn")
@role_required(ROLE)
def download_version(key, version):
    xml, number = engine.version_xml(runtime(), key, version)
    return _download(xml, f"{key}-v{number}.bpmn")


@bp.route("/drafts/<int:draft_id>.bpmn")
@role_required(ROLE)
def download_draft(draft_id):
    draft = engine.get_draft(runtime(), draft_id, g.actor)
    return _download(draft["bpmn_xml"], f"{draft['process_key'] or 'draft'}-draft{draft_id}.bpmn")


def _download(xml: str, filename: str) -> Response:
    return Response(
        xml, mimetype="application/xml", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


@bp.route("/<key>/migrate", methods=["GET"])
@role_required(ROLE)
def migrate(key):
    """Pick a target version; ``?target=N`` shows the dry run, from which cases are migrated."""
    rt = runtime()
    overview = {p["key"]: p for p in engine.process_overview(rt, g.actor)}
    process = overview.get(key)
    if process is None or not process["versions"]:
        from simpul.engine import NotFound

        raise NotFound("No process {key} is deployed.", key=key)
    target = request.args.get("target", type=strict_int)
    plan = engine.plan_migration(rt, key, target, g.actor) if target else None
    return render_template(
        "process_admin/migrate.html",
        process=process,
        target=target,
        plan=_shown_plan(plan) if plan else None,
        result=None,
    )


@bp.route("/<key>/migrate", methods=["POST"])
@role_required(ROLE)
def migrate_post(key):
    rt = runtime()
    target = request.form.get("target", type=strict_int)
    if request.form.get("scope") == "all":
        case_ids = None
    else:
        case_ids = request.form.getlist("case_id", type=strict_int)
        if not case_ids:
            flash(_("Select the cases to migrate, or migrate all of them."), "error")
            return redirect(url_for("process_admin.migrate", key=key, target=target))
    result = engine.migrate_cases(rt, key, target, g.actor, case_ids=case_ids)
    overview = {p["key"]: p for p in engine.process_overview(rt, g.actor)}
    flash(
        _(
            "%(n)s case(s) migrated to version %(version)s; %(refused)s refused.",
            n=result["migrated"],
            version=result["target"]["version"],
            refused=result["refused"],
        ),
        "success" if not result["refused"] else "error",
    )
    return render_template(
        "process_admin/migrate.html", process=overview[key], target=target, plan=None, result=_shown_plan(result)
    )


# -- JSON endpoints (the modeler's; session sign-in and CSRF header as the pages) ----------


@bp.route("/api/catalogue")
@role_required(ROLE)
def api_catalogue():
    return jsonify(engine.editor_catalogue(runtime()))


@bp.route("/api/forms/<form_key>")
@role_required(ROLE)
def api_form(form_key):
    form = engine.bundled_form(runtime(), form_key)
    if form is None:
        return jsonify(
            {"code": "not_found", "message": _("Form %(key)s is not found.", key=form_key), "errors": None}
        ), 404
    return jsonify(form)


@bp.route("/api/validate", methods=["POST"])
@role_required(ROLE)
def api_validate():
    body = _payload()
    result = engine.validate_process(runtime(), body.get("bpmn_xml") or "", body.get("forms"))
    return jsonify(
        {
            "valid": result.valid,
            "process_key": result.process_key,
            "errors": render_problems(result.errors),
            "warnings": render_problems(result.warnings),
        }
    )


@bp.route("/api/drafts", methods=["POST"])
@role_required(ROLE)
def api_save():
    body = _payload()
    draft = engine.save_draft(
        runtime(),
        g.actor,
        body.get("bpmn_xml") or "",
        forms=body.get("forms"),
        draft_id=body.get("draft_id"),
        expected_revision=body.get("expected_revision"),
        base_version_id=body.get("base_version_id"),
    )
    draft.pop("bpmn_xml", None)
    draft.pop("forms", None)
    return jsonify(_shown_draft(draft))


@bp.route("/api/drafts/<int:draft_id>", methods=["GET"])
@role_required(ROLE)
def api_draft(draft_id):
    return jsonify(_shown_draft(engine.get_draft(runtime(), draft_id, g.actor)))


@bp.route("/api/drafts/<int:draft_id>/preview", methods=["GET"])
@role_required(ROLE)
def api_preview(draft_id):
    """What a deploy would change (shown before the modeler asks for the confirmation)."""
    preview = engine.deploy_preview(runtime(), draft_id, g.actor)
    preview["errors"] = render_problems(preview["errors"])
    preview["warnings"] = render_problems(preview["warnings"])
    return jsonify(preview)


@bp.route("/api/drafts/<int:draft_id>/deploy", methods=["POST"])
@role_required(ROLE)
def api_deploy(draft_id):
    body = request.get_json(silent=True) or {}
    version = engine.deploy_draft(
        runtime(),
        draft_id,
        g.actor,
        expected_revision=body.get("expected_revision"),
        accept_losses=body.get("confirmed") is True,
    )
    version["migrate_url"] = url_for("process_admin.migrate", key=version["process_key"], target=version["version"])
    return jsonify(version), 201


@bp.route("/api/processes")
@role_required(ROLE)
def api_processes():
    return jsonify(engine.process_overview(runtime(), g.actor))


@bp.route("/api/<key>/migration", methods=["GET"])
@role_required(ROLE)
def api_plan(key):
    target = request.args.get("target", type=strict_int)
    ids = request.args.get("case_ids")
    case_ids = [as_id(c) for c in ids.split(",") if as_id(c) is not None] if ids else None
    return jsonify(_shown_plan(engine.plan_migration(runtime(), key, target or 0, g.actor, case_ids=case_ids)))


@bp.route("/api/<key>/migration", methods=["POST"])
@role_required(ROLE)
def api_migrate(key):
    body = _payload()
    return jsonify(
        _shown_plan(
            engine.migrate_cases(
                runtime(),
                key,
                body.get("target") or 0,
                g.actor,
                case_ids=body.get("case_ids"),
                dry_run=bool(body.get("dry_run")),
            )
        )
    )
