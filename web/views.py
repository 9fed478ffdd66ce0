"""The clerks' pages: inbox, task forms, starting cases and case pages.

Thin on purpose: each view calls one engine function and turns its result or its error into
a page.  Office isolation, conflicts and validation are the engine's; nothing is decided here.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from simpul import engine
from simpul.engine import (
    Conflict,
    InvalidInput,
    NotFound,
    ValidationFailed,
    requirements_for,
    strict_int,
    validate_form_data,
)
from simpul.engine import documents as engine_documents

from .auth import login_required, safe_next
from .extensions import runtime
from .formjs import build_fields, data_from_post
from .i18n import (
    enrolment_status,
    event_detail,
    message_label,
    process_title,
    readable_diagram,
    render_error,
    render_field_errors,
    requirement_label,
    step_title,
)
from .plugin_ui import case_actions, live_checks, task_input_fields, task_input_values

bp = Blueprint("ui", __name__)

PER_PAGE_CHOICES = (10, 25, 50, 100)


def _cursor_arg(name: str) -> int | None:
    """A keyset cursor (a case id) from the query string; anything else means none."""
    value = request.args.get(name) or ""
    return int(value) if value.isascii() and value.isdigit() and len(value) < 12 else None


def _int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return max(1, strict_int(raw))
    except ValueError:  # "abc", "²", a 30-digit number: a clear 400, not a guess or a 500
        raise InvalidInput("Page {page} does not exist.", page=raw[:30]) from None


@bp.route("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says: the icon, not a 404."""
    from flask import current_app, send_from_directory

    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)


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
        after=request.args.get("after") or None,
        before=request.args.get("before") or None,
        last=request.args.get("last") == "1",
        **{k: v or None for k, v in filters.items()},
    )
    options = engine.inbox_options(rt, actor)
    args = {k: v for k, v in request.args.items() if k not in ("page", "after", "before", "last") and v}
    args["view"] = view
    keep = {k: v for k, v in args.items() if k != "view"}
    page, prev, after = result["page"], result["prev_before"], result["next_after"]
    pager = {
        "page": page,
        "pages": result["pages"],
        "total": result["total"],
        "first": url_for("ui.inbox", **args) if prev else None,
        "prev": url_for("ui.inbox", before=prev, page=max(1, page - 1), **args) if prev else None,
        "next": url_for("ui.inbox", after=after, page=page + 1, **args) if after else None,
        "last": url_for("ui.inbox", last=1, **args) if after else None,
    }
    return render_template(
        "inbox.html",
        result=result,
        pager=pager,
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


# -- cards arriving from the regency ---------------------------------------------------------

ARRIVAL_STEP = "Task_receive_card"
#: cards shown on one printing or arrival page, the most urgent first: a print run or a
#: delivery, not the regency's thousands (the page says how many there are in all).
CARD_BATCH = 100


def _arrivals(ids=None) -> list[dict]:
    """The office's cards printed by the regency and not yet received at the counter (of
    them, the ticked ``ids``)."""
    rt, actor = runtime(), g.actor
    limit = len(ids) if ids is not None else CARD_BATCH
    return engine.list_tasks(rt, actor, role="operator", step=ARRIVAL_STEP, ids=ids, limit=limit)


@bp.route("/cards/arrivals", methods=["GET", "POST"])
@login_required
def card_arrivals():
    """A card batch arrives at the kecamatan with several cards: receive them in one action,
    each case in its own transaction (a card someone else holds is said, the others go on)."""
    rt, actor = runtime(), g.actor
    errors: dict = {}
    batch = (request.form.get("batch_reference") or "").strip()
    if request.method == "POST":
        chosen = request.form.getlist("task_id")
        if not chosen:
            errors["task_id"] = [_("Choose the cards that arrived.")]
        if request.form.get("card_arrived") != "on":
            errors["card_arrived"] = [_("Tick this box once the cards are at the office and checked.")]
        if not errors:
            received, refused = [], []
            by_id = {t["id"]: t for t in _arrivals(ids=chosen)}
            for task_id in chosen:
                task = by_id.get(task_id)
                if task is None:
                    refused.append(_("%(id)s is no longer waiting for its card.", id=task_id[:8]))
                    continue
                try:
                    engine.complete_task(rt, task_id, {"card_arrived": True, "batch_reference": batch or None}, actor)
                except (Conflict, ValidationFailed, engine.Forbidden) as err:
                    refused.append(f"{task['receipt']}: {render_error(err)}")
                else:
                    received.append(task["receipt"])
            if received:
                flash(
                    ngettext(
                        "%(num)d card received; it can now be handed over.",
                        "%(num)d cards received; they can now be handed over.",
                        len(received),
                    ),
                    "success",
                )
            for line in refused:
                flash(line, "error")
            return redirect(url_for("ui.card_arrivals"))
    return render_template(
        "card_arrivals.html",
        tasks=_arrivals(),
        total=engine.count_tasks(rt, actor, role="operator", step=ARRIVAL_STEP),
        errors=errors,
        batch=batch,
        chosen=request.form.getlist("task_id"),
    ), (422 if errors else 200)


PRINT_STEP = "Task_print_card"


def _ready_to_print(ids=None) -> list[dict]:
    """The regency's cards ready to print (their "Cetak KTP-el" step is open; of them, the
    ticked ``ids``)."""
    rt, actor = runtime(), g.actor
    limit = len(ids) if ids is not None else CARD_BATCH
    return engine.list_tasks(rt, actor, role="regency_officer", step=PRINT_STEP, ids=ids, limit=limit)


def _print_batch(rt, actor, chosen, serials) -> tuple[list, list]:
    printed, refused = [], []
    by_id = {t["id"]: t for t in _ready_to_print(ids=chosen)}
    for task_id in chosen:
        task = by_id.get(task_id)
        if task is None:
            refused.append(_("%(id)s is no longer ready to print.", id=task_id[:8]))
            continue
        try:
            engine.complete_task(rt, task_id, {"card_serial": serials[task_id]}, actor)
        except (Conflict, ValidationFailed, engine.Forbidden) as err:
            refused.append(f"{task['receipt']}: {render_error(err)}")
        else:
            printed.append(task["receipt"])
    return printed, refused


@bp.route("/cards/printing", methods=["GET", "POST"])
@login_required
def card_printing():
    """The regency prints several ready cards in one action: tick them, type each card's
    serial; each case completes in its own transaction (one refused, the others go on)."""
    rt, actor = runtime(), g.actor
    if not actor.has_role("regency_officer"):
        abort(403)
    errors: dict = {}
    chosen = request.form.getlist("task_id")
    serials = {t: (request.form.get(f"serial-{t}") or "").strip() for t in chosen}
    if request.method == "POST":
        if not chosen:
            errors["task_id"] = [_("Choose the cards that were printed.")]
        for task_id, serial in serials.items():
            if not serial:
                errors[f"serial-{task_id}"] = [_("Type the serial number of this card.")]
        if not errors:
            printed, refused = _print_batch(rt, actor, chosen, serials)
            if printed:
                flash(
                    ngettext(
                        "%(num)d card printed; it is on its way to the kecamatan.",
                        "%(num)d cards printed; they are on their way to the kecamatan.",
                        len(printed),
                    ),
                    "success",
                )
            for line in refused:
                flash(line, "error")
            return redirect(url_for("ui.card_printing"))
    return render_template(
        "card_printing.html",
        tasks=_ready_to_print(),
        total=engine.count_tasks(rt, actor, role="regency_officer", step=PRINT_STEP),
        errors=errors,
        chosen=chosen,
        serials=serials,
    ), (422 if errors else 200)


# -- task page -----------------------------------------------------------------------------


def _document_status(requirements, case_data, documents) -> list[dict]:
    """The checklist beside the form: what was ticked and what was scanned, per requirement
    (whether the step may complete is the verification plugin's rule, not this page's)."""
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


def _requirement_labels(requirements, data) -> dict:
    """Requirement key -> label: this procedure's, then those of the procedures a case can come
    from (the regency sees the kecamatan's checklist by name, not by key)."""
    labels = {r["key"]: requirement_label(r) for r in requirements}
    received = [k for k in (data or {}).get("documents_received") or [] if isinstance(k, str)]
    if any(k not in labels for k in received):
        for p in engine.startable_processes(runtime()):
            for r in requirements_for(runtime(), p["process"], data):
                labels.setdefault(r["key"], requirement_label(r))
    return labels


def _render_task(
    task: dict, *, values=None, errors=None, message=None, message_kind="error", status=200, confirm_end=None
):
    rt = runtime()
    documents = engine_documents.list_documents(rt, task["case_id"], g.actor)
    requirements = task.get("requirements") or requirements_for(rt, task["process"], task["case_data"])
    case = engine.get_case(rt, task["case_id"], g.actor)
    form_values = dict(task["case_data"])
    if values is not None:
        form_values.update(values)
    fields = build_fields(
        task.get("form"),
        form_values,
        errors,
        task.get("requirements"),
        signed_in_name=g.actor.display_name or g.actor.username,
    )
    fields += task_input_fields(rt, task, g.actor, values or {}, errors or {})
    return render_template(
        "task.html",
        task=task,
        case=case,
        case_actions=case_actions(rt, case, g.actor),
        fields=fields,
        errors=errors or {},
        message=message,
        message_kind=message_kind,
        documents=documents,
        checklist=_document_status(requirements, task["case_data"], documents),
        requirement_labels=_requirement_labels(requirements, task["case_data"]),
        users=_display_names([task.get("assignee")]),
        labels=engine.field_labels(rt, task["process"]),
        confirm_end=confirm_end,
        values_posted=values is not None,
        held_by_other=bool(task.get("assignee")) and task.get("assignee") != g.actor.username,
    ), status


def _render_done(task_id: str):
    """A step that is no longer open (Back after completing it, an old link): who completed
    it and when, with the case, instead of a bare 404."""
    done = engine.task_completion(runtime(), task_id, g.actor)
    if done is None:
        return None
    session["clear_draft"] = f"task-{task_id}"
    return render_template("task_done.html", done=done), 410


@bp.route("/tasks/<task_id>", methods=["GET"])
@login_required
def task(task_id):
    try:
        found = engine.get_task(runtime(), task_id, g.actor)
    except NotFound:
        page = _render_done(task_id)
        if page is None:
            raise
        return page
    return _render_task(found)


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
            engine.complete_task(rt, task_id, {}, actor, expected_version=request.form.get("version", type=strict_int))
        except Conflict as err:
            receipt = request.form.get("receipt")
            if not receipt:
                raise
            return _render_case(receipt, message=render_error(err), status=409)
        raise
    data = data_from_post(task.get("form"), request.form)
    extras = task_input_values(rt, task, actor, request.form)
    if request.form.get("confirm_end") != "1":
        # A choice that closes the case is asked once more, naming the end, before it is sent.
        try:
            validate_form_data(task.get("form"), data)
        except ValidationFailed:
            pass  # the completion below answers with the fields to fix
        else:
            end = engine.task_outcome(rt, task_id, data, actor)
            if end is not None:
                return _render_task(task, values=data, confirm_end=end)
    try:
        result = engine.complete_task(
            rt,
            task_id,
            data,
            actor,
            expected_version=request.form.get("version", type=strict_int),
            extras=extras or None,
        )
    except ValidationFailed as err:
        return _render_task(
            task, values={**data, **extras}, errors=render_field_errors(err), message=render_error(err), status=422
        )
    except Conflict as err:
        try:
            fresh = engine.get_task(rt, task_id, actor)
        except NotFound:
            return _render_case(task["receipt"], message=render_error(err), status=409)
        return _render_task(fresh, values=data, message=render_error(err), status=409)
    flash(_("Step completed: %(step)s.", step=step_title(task["name"], task["name_en"])), "success")
    session["clear_draft"] = f"task-{task_id}"  # the browser forgets the draft of this form
    return redirect(url_for("ui.case", receipt=result["receipt"]))


# -- starting a case -----------------------------------------------------------------------


@bp.route("/cases/new")
@login_required
def case_new():
    processes = engine.startable_processes(runtime())
    for p in processes:
        p["title"] = process_title(p["process"], p["name"])
        p["requirements"] = [requirement_label(r) for r in requirements_for(runtime(), p["process"], {})]
    return render_template("case_new.html", processes=processes)


def _form_choices(rt, actor) -> dict:
    """Options a form takes from the node (``valuesKey``): the office's kelurahan."""
    kelurahan = engine.kelurahan_list(rt, actor.office_code) if actor.office_code else []
    return {"kelurahan": [{"value": k["name"], "label": k["name"]} for k in kelurahan]}


def _startable(rt, key: str) -> bool:
    try:
        return bool(engine.start_form(rt, key).get("form"))
    except NotFound:
        return False


@bp.route("/cases/new/<process_key>", methods=["GET", "POST"])
@login_required
def case_start(process_key):
    rt = runtime()
    info = engine.start_form(rt, process_key)
    if not info["form"]:
        abort(404)
    values, errors, message, existing, status, card_issued = {}, {}, None, None, 200, False
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
            card_issued = err.template.startswith("Resident {nik} already received an e-KTP")
        else:
            flash(_("Case %(receipt)s started.", receipt=result["receipt"]), "success")
            session["clear_draft"] = f"start-{process_key}"
            return redirect(url_for("ui.case", receipt=result["receipt"]))
    fields = build_fields(info["form"], values, errors, choices=_form_choices(rt, g.actor))
    return render_template(
        "case_start.html",
        live_checks=live_checks(rt, process_key),
        info=info,
        title=process_title(process_key, info["name"]),
        fields=fields,
        errors=errors,
        message=message,
        existing=existing,
        card_issued=card_issued,
        has_process=lambda key: _startable(rt, key),
    ), status


# -- cases ---------------------------------------------------------------------------------


@bp.route("/cases")
@login_required
def cases():
    q = (request.args.get("q") or "").strip()
    status = request.args.get("status") or None
    process = request.args.get("procedure") or None
    outcome = request.args.get("outcome") or None
    # the cases behind a dashboard figure (engine.stats.figure_filter)
    figure = {k: request.args[k][:100] for k in engine.stats.FIGURE_KEYS if request.args.get(k)}
    if _int_arg("page", 1) > 1 and _cursor_arg("before") is None and _cursor_arg("after") is None:
        # a page number alone names no page (an old bookmark): pages are reached by key
        raise InvalidInput("Page {page} does not exist.", page=request.args.get("page", "")[:30])
    result = engine.case_page(
        runtime(),
        g.actor,
        status=status,
        query=q or None,
        process=process,
        limit=25,
        before=_cursor_arg("before"),
        after=_cursor_arg("after"),
        outcome=outcome,
        figure=figure or None,
        office=request.args.get("office") or None,
    )
    options = engine.inbox_options(runtime(), g.actor)
    args = {k: v for k, v in request.args.items() if k not in ("page", "before", "after") and v}
    page = _int_arg("page", 1) if result["prev_after"] else 1  # a display number: paging is by key
    return render_template(
        "cases.html",
        rows=result["items"],
        next_url=url_for("ui.cases", before=result["next_before"], page=page + 1, **args)
        if result["next_before"]
        else None,
        prev_url=url_for("ui.cases", after=result["prev_after"], page=max(1, page - 1), **args)
        if result["prev_after"]
        else None,
        first_url=url_for("ui.cases", **args) if result["prev_after"] else None,
        page=page,
        q=q,
        status=status or "",
        procedure=process or "",
        outcome=outcome or "",
        figure=figure,
        options=options,
        args=args,
    )


def _display_names(usernames) -> dict:
    return engine.display_names(runtime(), usernames)


def _with_system_actors(users: dict, logins, offices: dict) -> dict:
    """Names for the actors that are not people: another office's node (``office:6402``) by
    the office's name, the worker, the CLI and the like as "System"."""
    named = dict(users)
    for login in {u for u in logins if u and u not in users}:
        if login.startswith("office:"):
            code = login.split(":", 1)[1]
            named[login] = offices.get(code) or _("Office %(code)s", code=code)
        else:
            named[login] = _("System")
    return named


def _render_case(receipt, *, message=None, message_kind="error", status=200, form_errors=None, form_values=None):
    rt, actor = runtime(), g.actor
    case = engine.get_case(rt, receipt, actor)
    diagram = engine.case_diagram(rt, case["id"], actor)
    diagram["bpmn_xml"] = readable_diagram(diagram["bpmn_xml"], diagram["names"], rt.config.lane_roles)
    comments = engine.list_comments(rt, case["id"], actor)
    documents = engine_documents.list_documents(rt, case["id"], actor)
    requirements = requirements_for(rt, case["process"], case["data"])
    names = diagram["names"]
    offices = engine.office_names(rt)
    users = _display_names(
        [e["actor"] for e in case["events"]]
        + [c["author"] for c in comments]
        + [t["assignee"] for t in case["open_tasks"]]
        + [case["created_by"]]
    )
    users = _with_system_actors(users, [e["actor"] for e in case["events"]] + [case["created_by"]], offices)
    for event in case["events"]:
        info = names.get(event["step"] or "")
        if event["kind"] == "message_received":
            event["step_title"] = message_label(event["step"] or "")
        else:
            event["step_title"] = step_title(info["name"], info["name_en"]) if info else (event["step_name"] or "")
        event["detail"] = event_detail(event)
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
        case_actions=case_actions(rt, case, actor),
        requirement_labels=_requirement_labels(requirements, case["data"]),
        steps_done=steps_done,
        steps_now=steps_now,
        enrolment=enrolment_status(case["events"]),
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
    rt = runtime()
    diagram = engine.case_diagram(rt, receipt, g.actor)
    diagram["bpmn_xml"] = readable_diagram(diagram["bpmn_xml"], diagram["names"], rt.config.lane_roles)
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


@bp.route("/documents/<int:document_id>")
@login_required
def document(document_id):
    """Download a case's document (the engine's store; users of the case's office only)."""
    meta, path = engine.open_document(runtime(), document_id, g.actor)
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
