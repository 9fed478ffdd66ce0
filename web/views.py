"""The clerks' pages: inbox, task forms, starting cases and case pages.

Thin on purpose: each view calls one engine function and turns its result or its error into
a page.  Office isolation, conflicts and validation are the engine's; nothing is decided here.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from simpul import engine
from simpul.engine import Conflict, NotFound, ValidationFailed

from .auth import login_required, safe_next
from .extensions import runtime
from .formjs import build_fields, data_from_post
from .i18n import process_title, render_error, render_field_errors, requirement_label, step_title

bp = Blueprint("ui", __name__)

PER_PAGE_CHOICES = (10, 25, 50, 100)


def _int_arg(name: str, default: int) -> int:
    try:
        return max(1, int(request.args.get(name, default)))
    except (TypeError, ValueError):
        return default


@bp.route("/")
def index():
    if g.get("actor") is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("ui.inbox"))


# -- inbox ---------------------------------------------------------------------------------


@bp.route("/inbox")
@login_required
def inbox():
    rt, actor = runtime(), g.actor
    view = request.args.get("view")
    if not view:
        counts = engine.inbox_counts(rt, actor)
        view = "mine" if counts.get("mine") else "roles"
    filters = {k: (request.args.get(k) or "").strip() for k in ("q", "nik", "name", "receipt", "procedure", "step")}
    overdue = request.args.get("overdue") in ("1", "on", "true")
    sort = request.args.get("sort") or "due"
    per_page = _int_arg("per_page", 25)
    if per_page not in PER_PAGE_CHOICES:
        per_page = 25
    result = engine.inbox_page(
        rt,
        actor,
        view=view,
        overdue=overdue,
        sort=sort,
        page=_int_arg("page", 1),
        per_page=per_page,
        **{k: v or None for k, v in filters.items()},
    )
    options = engine.inbox_options(rt, actor)
    args = {k: v for k, v in request.args.items() if k not in ("page",) and v}
    args["view"] = view
    keep = {k: v for k, v in args.items() if k != "view"}
    return render_template(
        "inbox.html",
        result=result,
        filters=filters,
        overdue=overdue,
        sort=sort,
        options=options,
        view=view,
        args=args,
        keep=keep,
        per_page=per_page,
        per_page_choices=PER_PAGE_CHOICES,
        filtered=any(filters.values()) or overdue,
    )


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id):
    back = safe_next(request.form.get("next"), url_for("ui.task", task_id=task_id))
    try:
        task = engine.claim_task(runtime(), task_id, g.actor)  # free is free: no version needed to take it
    except (Conflict, engine.Forbidden) as err:
        flash(render_error(err), "error")
        return redirect(back)
    flash(
        _(
            "You took the step %(step)s of %(receipt)s.",
            step=step_title(task["name"], task["name_en"]),
            receipt=task["receipt"],
        ),
        "success",
    )
    return redirect(back)


@bp.route("/tasks/<task_id>/unclaim", methods=["POST"])
@login_required
def unclaim(task_id):
    back = safe_next(request.form.get("next"), url_for("ui.inbox"))
    try:
        task = engine.unclaim_task(runtime(), task_id, g.actor)
    except (Conflict, engine.Forbidden) as err:
        flash(render_error(err), "error")
        return redirect(back)
    flash(
        _(
            "You released the step %(step)s of %(receipt)s.",
            step=step_title(task["name"], task["name_en"]),
            receipt=task["receipt"],
        ),
        "success",
    )
    return redirect(back)


# -- task page -----------------------------------------------------------------------------


def _document_status(requirements, case_data, documents) -> list[dict]:
    received = set(case_data.get("documents_received") or [])
    scanned = {d["requirement"] for d in documents if d.get("requirement")}
    return [
        {
            "key": r["key"],
            "label": requirement_label(r),
            "source": r.get("source"),
            "received": r["key"] in received,
            "scanned": r["key"] in scanned,
            "missing": r["key"] not in received and r["key"] not in scanned,
        }
        for r in requirements
    ]


def _render_task(task: dict, *, values=None, errors=None, message=None, message_kind="error", status=200):
    rt = runtime()
    documents = engine.list_documents(rt, task["case_id"], g.actor)
    requirements = task.get("requirements") or engine.requirements_for(rt, task["process"], task["case_data"])
    case = engine.get_case(rt, task["case_id"], g.actor)
    form_values = dict(task["case_data"])
    if values is not None:
        form_values.update(values)
    fields = build_fields(task.get("form"), form_values, errors, task.get("requirements"))
    return render_template(
        "task.html",
        task=task,
        case=case,
        fields=fields,
        errors=errors or {},
        message=message,
        message_kind=message_kind,
        documents=documents,
        checklist=_document_status(requirements, task["case_data"], documents),
        requirement_labels={r["key"]: requirement_label(r) for r in requirements},
        users=engine.display_names(rt, [task.get("assignee")]),
        labels=engine.field_labels(rt, task["process"]),
    ), status


@bp.route("/tasks/<task_id>", methods=["GET"])
@login_required
def task(task_id):
    return _render_task(engine.get_task(runtime(), task_id, g.actor))


@bp.route("/tasks/<task_id>", methods=["POST"])
@login_required
def complete(task_id):
    rt, actor = runtime(), g.actor
    try:
        task = engine.get_task(rt, task_id, actor)
    except NotFound:
        # Gone since the page was opened.  Submitting it anyway lets the engine say who
        # completed it and when (Conflict), or that this clerk may not see it (NotFound).
        try:
            engine.complete_task(rt, task_id, {}, actor, expected_version=request.form.get("version", type=int))
        except Conflict as err:
            receipt = request.form.get("receipt")
            if not receipt:
                raise
            return _render_case(receipt, message=render_error(err), status=409)
        raise
    data = data_from_post(task.get("form"), request.form)
    try:
        result = engine.complete_task(rt, task_id, data, actor, expected_version=request.form.get("version", type=int))
    except ValidationFailed as err:
        return _render_task(task, values=data, errors=render_field_errors(err), message=render_error(err), status=422)
    except Conflict as err:
        try:
            fresh = engine.get_task(rt, task_id, actor)
        except NotFound:
            return _render_case(task["receipt"], message=render_error(err), status=409)
        return _render_task(fresh, values=data, message=render_error(err), status=409)
    flash(_("Step completed: %(step)s.", step=step_title(task["name"], task["name_en"])), "success")
    return redirect(url_for("ui.case", receipt=result["receipt"]))


# -- starting a case -----------------------------------------------------------------------


@bp.route("/cases/new")
@login_required
def case_new():
    processes = engine.startable_processes(runtime())
    for p in processes:
        p["title"] = process_title(p["process"], p["name"])
        p["requirements"] = [requirement_label(r) for r in engine.requirements_for(runtime(), p["process"], {})]
    return render_template("case_new.html", processes=processes)


@bp.route("/cases/new/<process_key>", methods=["GET", "POST"])
@login_required
def case_start(process_key):
    rt = runtime()
    info = engine.start_form(rt, process_key)
    if not info["form"]:
        abort(404)
    values, errors, message, existing, status = {}, {}, None, None, 200
    if request.method == "POST":
        values = data_from_post(info["form"], request.form)
        try:
            result = engine.start_case(rt, process_key, values, g.actor)
        except ValidationFailed as err:
            errors, message, status = render_field_errors(err), render_error(err), 422
        except Conflict as err:
            message, status = render_error(err), 409
            if isinstance(err.errors, dict):
                existing = err.errors.get("case")
        else:
            flash(_("Case %(receipt)s started.", receipt=result["receipt"]), "success")
            return redirect(url_for("ui.case", receipt=result["receipt"]))
    fields = build_fields(info["form"], values, errors)
    return render_template(
        "case_start.html",
        info=info,
        title=process_title(process_key, info["name"]),
        fields=fields,
        errors=errors,
        message=message,
        existing=existing,
    ), status


# -- cases ---------------------------------------------------------------------------------


@bp.route("/cases")
@login_required
def cases():
    per_page = 25
    page = _int_arg("page", 1)
    q = (request.args.get("q") or "").strip()
    status = request.args.get("status") or None
    process = request.args.get("procedure") or None
    rows = engine.list_cases(
        runtime(),
        g.actor,
        status=status,
        query=q or None,
        process=process,
        limit=per_page + 1,
        offset=(page - 1) * per_page,
    )
    options = engine.inbox_options(runtime(), g.actor)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "cases.html",
        rows=rows[:per_page],
        has_more=len(rows) > per_page,
        page=page,
        q=q,
        status=status or "",
        procedure=process or "",
        options=options,
        args=args,
    )


def _render_case(receipt, *, message=None, message_kind="error", status=200, form_errors=None, form_values=None):
    rt, actor = runtime(), g.actor
    case = engine.get_case(rt, receipt, actor)
    diagram = engine.case_diagram(rt, case["id"], actor)
    comments = engine.list_comments(rt, case["id"], actor)
    documents = engine.list_documents(rt, case["id"], actor)
    requirements = engine.requirements_for(rt, case["process"], case["data"])
    names = diagram["names"]
    offices = engine.office_names(rt)
    users = engine.display_names(
        rt,
        [e["actor"] for e in case["events"]]
        + [c["author"] for c in comments]
        + [t["assignee"] for t in case["open_tasks"]]
        + [case["created_by"]],
    )
    for event in case["events"]:
        info = names.get(event["step"] or "")
        event["step_title"] = step_title(info["name"], info["name_en"]) if info else (event["step_name"] or "")
    steps_done = [
        step_title(names[s]["name"], names[s]["name_en"])
        for s in diagram["completed"]
        if s in names
        and names[s]["kind"]
        in ("userTask", "serviceTask", "receiveTask", "manualTask", "scriptTask", "task", "sendTask", "callActivity")
    ]
    steps_now = [step_title(names[s]["name"], names[s]["name_en"]) for s in diagram["current"] if s in names]
    return render_template(
        "case.html",
        case=case,
        diagram=diagram,
        comments=comments,
        documents=documents,
        offices=offices,
        users=users,
        message=message,
        message_kind=message_kind,
        title=process_title(case["process"], case["process_name"]),
        requirement_labels={r["key"]: requirement_label(r) for r in requirements},
        steps_done=steps_done,
        steps_now=steps_now,
        form_errors=form_errors or {},
        form_values=form_values or {},
        labels=engine.field_labels(rt, case["process"]),
    ), status


@bp.route("/cases/<receipt>")
@login_required
def case(receipt):
    return _render_case(receipt)


@bp.route("/cases/<receipt>/diagram.json")
@login_required
def case_diagram(receipt):
    diagram = engine.case_diagram(runtime(), receipt, g.actor)
    return {k: diagram[k] for k in ("receipt", "process", "version", "bpmn_xml", "completed", "current")}


@bp.route("/cases/<receipt>/comments", methods=["POST"])
@login_required
def case_comment(receipt):
    body = request.form.get("body") or ""
    try:
        engine.add_comment(runtime(), receipt, body, g.actor)
    except ValidationFailed as err:
        return _render_case(
            receipt,
            message=render_error(err),
            status=422,
            form_errors={"comment": render_field_errors(err).get("body", [])},
            form_values={"comment": body},
        )
    flash(_("Comment added."), "success")
    return redirect(url_for("ui.case", receipt=receipt, _anchor="comments"))


@bp.route("/cases/<receipt>/cancel", methods=["POST"])
@login_required
def case_cancel(receipt):
    reason = request.form.get("reason") or ""
    try:
        engine.cancel_case(runtime(), receipt, reason, g.actor)
    except ValidationFailed as err:
        return _render_case(
            receipt,
            message=render_error(err),
            status=422,
            form_errors={"reason": render_field_errors(err).get("reason", [])},
        )
    except Conflict as err:
        return _render_case(receipt, message=render_error(err), status=409)
    flash(_("Case %(receipt)s cancelled.", receipt=receipt), "success")
    return redirect(url_for("ui.case", receipt=receipt))
