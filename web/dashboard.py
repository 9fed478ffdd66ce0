"""The camat's pages: the dashboard, the monthly recap and the supervisor's hands.

Thin like the other views: a marshmallow schema loads the query or the form, one engine
call (engine.stats, engine.recap, engine.supervision) does the work, the template shows
it.  Engine errors (Forbidden, NotFound, Conflict, ValidationFailed) become pages or flash
messages; nothing is decided here."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from simpul import engine
from simpul.engine import OUTCOMES, Conflict, InvalidInput, NotFound, ValidationFailed, supervision, utcnow
from simpul.engine import recap as engine_recap
from simpul.engine import stats as engine_stats
from simpul.engine.i18n import N_

from . import i18n
from .auth import role_required, safe_next
from .extensions import runtime

bp = Blueprint("dashboard", __name__)

VIEWERS = ("supervisor", "regency_officer")

i18n.EVENT_LABELS.update(
    {
        "task_released": N_("Step released by the supervisor"),
        "task_reassigned": N_("Step reassigned"),
        "case_reopened": N_("Case reopened"),
        "case_moved_back": N_("Case moved back to an earlier step"),
    }
)
MILESTONE_LABELS = {
    "started": N_("Started"),
    "recorded": N_("Recorded"),
    "sent": N_("Sent to the regency"),
    "printed": N_("Card printed"),
    "handed_over": N_("Handed over"),
    "rejected": N_("Rejected"),
    "suket": N_("Suket issued"),
    "breaches": N_("SLA breaches (done late or escalated)"),
    "applications": N_("Applications"),
    "open_at_end": N_("Open at month end"),
}


def outcome_label(outcome: str | None) -> str:
    return _(OUTCOMES[outcome]) if outcome in OUTCOMES else ""


def milestone_label(key: str) -> str:
    return _(MILESTONE_LABELS[key]) if key in MILESTONE_LABELS else key


def duration(seconds) -> str:
    """A duration in days or hours, in words with plurals."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds >= 2 * 86400:
        return ngettext("%(num)s day", "%(num)s days", round(seconds / 86400))
    if seconds >= 3600:
        return ngettext("%(num)s hour", "%(num)s hours", round(seconds / 3600))
    return ngettext("%(num)s minute", "%(num)s minutes", round(seconds / 60))


@bp.app_template_global()
def outcome_badge_label(outcome):
    return outcome_label(outcome)


@bp.app_template_global()
def outcome_choices():
    return [(k, outcome_label(k)) for k in OUTCOMES if k != "branch"]


@bp.app_template_global()
def earlier_steps_of(receipt):
    return supervision.earlier_steps(runtime(), receipt, g.actor)


@bp.app_template_global()
def reopen_days_setting():
    return runtime().setting("reopen_days", supervision.REOPEN_DAYS)


# -- schemas ---------------------------------------------------------------------------------


class PeriodSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    office = fields.String(load_default=None, validate=validate.Length(max=16))


class MonthSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    month = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    office = fields.String(load_default=None, validate=validate.Length(max=16))
    format = fields.String(load_default="html", validate=validate.OneOf(("html", "xlsx", "pdf")))


class ReasonSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    username = fields.String(load_default=None, validate=validate.Length(max=64))
    step = fields.String(load_default=None, validate=validate.Length(max=100))
    next = fields.String(load_default=None)


def _load(schema: Schema, data) -> dict:
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise InvalidInput("Some values are not valid: {fields}.", fields=", ".join(sorted(exc.messages))) from exc


# -- the dashboard ---------------------------------------------------------------------------


def _chart_flow(office: dict) -> dict:
    weeks = office["flow"]["weeks"]
    return {
        "type": "bar",
        "categories": [w["week"] for w in weeks],
        "series": [
            {
                "name": milestone_label(k),
                "data": [w[k] for w in weeks],
                "links": [
                    url_for("ui.cases", milestone=k, since=w["week"], until=w["last_day"], office=office["office"])
                    for w in weeks
                ],
            }
            for k in engine_stats.FLOW
        ],
    }


def _chart_steps(office: dict, since: str, until: str) -> dict:
    steps = office["flow"]["step_times"]
    return {
        "type": "hbar",
        "categories": [s["name"] for s in steps],
        "unit": _("days"),
        "series": [
            {
                "name": label,
                "data": [round((s[key] or 0) / 86400, 2) for s in steps],
                "links": [
                    url_for("ui.cases", done_step=s["step"], since=since, until=until, office=office["office"])
                    for s in steps
                ],
            }
            for key, label in (("median_s", _("Median")), ("p90_s", _("90th percentile")))
        ],
    }


@bp.route("/dashboard")
@role_required(*VIEWERS)
def dashboard():
    args = _load(PeriodSchema(), request.args)
    result = engine_stats.dashboard(
        runtime(),
        g.actor,
        since=args["since"].isoformat() if args["since"] else None,
        until=args["until"].isoformat() if args["until"] else None,
        office=args["office"] or None,
    )
    for office in result["offices"]:
        office["charts"] = {
            "flow": _chart_flow(office),
            "steps": _chart_steps(office, result["since"], result["until"]),
        }
    remote = [] if args["office"] else _remote_offices(runtime(), g.actor)
    return render_template(
        "dashboard/dashboard.html",
        board=result,
        remote=remote,
        flow_keys=engine_stats.FLOW,
        duration=duration,
        milestone_label=milestone_label,
        outcome_label=outcome_label,
        side_by_side=len(result["offices"]) + len(remote) > 1,
    )


def _remote_offices(rt, actor) -> list[dict]:
    """Kecamatan on nodes of their own, as their nodes last sent their figures
    (``office_summaries`` hook: the coordination plugin keeps them)."""
    return [r for result in rt.hook.office_summaries(runtime=rt, actor=actor) for r in (result or [])]


# -- the monthly recap -----------------------------------------------------------------------


def _recap_labels() -> dict:
    labels = {c: milestone_label(c) for c in engine_recap.COLUMNS}
    labels.update(
        title=_("Monthly recap"),
        sheet=_("Recap"),
        details=_("Details"),
        kelurahan=_("Kelurahan/desa"),
        total=_("Total"),
        by_procedure=_("Applications by procedure"),
        by_reason=_("Rejected by reason"),
        ages=_("Open at month end, by age (days)"),
    )
    return labels


@bp.route("/reports/monthly")
@role_required(*VIEWERS)
def monthly():
    args = _load(MonthSchema(), request.args)
    month = args["month"] or runtime().today().strftime("%Y-%m")
    result = engine_recap.monthly_recap(runtime(), g.actor, month, office=args["office"] or None)
    name = f"laporan-bulanan-{result['office']}-{month}"
    if args["format"] == "xlsx":
        return Response(
            engine_recap.recap_xlsx(result, _recap_labels()),
            mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if args["format"] == "pdf":
        return Response(
            engine_recap.recap_pdf(result, _recap_labels()),
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
        )
    return render_template(
        "dashboard/monthly.html",
        recap=result,
        columns=engine_recap.COLUMNS,
        milestone_label=milestone_label,
        offices=engine_stats.viewer_offices(runtime(), g.actor),
    )


# -- the supervisor's hands ------------------------------------------------------------------


@bp.route("/supervision")
@role_required("supervisor")
def supervision_page():
    rt = runtime()
    now = engine_stats.now_figures(rt, g.actor, g.actor.office_code)
    claimed = engine.list_tasks(rt, g.actor, claimed=True, limit=500)
    incidents = engine.list_cases(rt, g.actor, status="incident", limit=100)
    details = {c["receipt"]: supervision.incident_details(rt, c["receipt"], g.actor) for c in incidents}
    days = rt.setting("reopen_days", supervision.REOPEN_DAYS)
    cutoff = (utcnow() - timedelta(days=days if isinstance(days, int) else supervision.REOPEN_DAYS)).isoformat()
    # newest first: the ones still within the reopening period
    rejected = [
        c for c in engine.list_cases(rt, g.actor, outcome="rejected", limit=50) if (c["ended_at"] or "") >= cutoff
    ]
    colleagues = engine.office_colleagues(rt, g.actor.office_code)
    idle = {i["task_id"]: i for i in now["idle_claimed"]}
    return render_template(
        "dashboard/supervision.html",
        claimed=claimed,
        idle=idle,
        incidents=incidents,
        details=details,
        rejected=rejected,
        colleagues=colleagues,
        reopen_days=days,
    )


def _back(default: str) -> str:
    return safe_next(request.form.get("next"), default)


def _act(call, success: str, default_back: str):
    back = _back(default_back)
    try:
        call()
    except (ValidationFailed, Conflict, engine.Forbidden, NotFound) as err:
        flash(i18n.render_error(err) + _field_text(err), "error")
        return redirect(back)
    flash(success, "success")
    return redirect(back)


def _field_text(err) -> str:
    fields_ = i18n.render_field_errors(err) if isinstance(err, ValidationFailed) else {}
    messages = [m for ms in fields_.values() for m in ms]
    return (" " + " ".join(messages)) if messages else ""


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@role_required("supervisor")
def release(task_id):
    form = _load(ReasonSchema(), request.form)
    return _act(
        lambda: supervision.release_task(runtime(), task_id, form["reason"], g.actor),
        _("The step is free again for its role."),
        url_for("dashboard.supervision_page"),
    )


@bp.route("/tasks/<task_id>/reassign", methods=["POST"])
@role_required("supervisor")
def reassign(task_id):
    form = _load(ReasonSchema(), request.form)
    return _act(
        lambda: supervision.reassign_task(runtime(), task_id, form["username"], form["reason"], g.actor),
        _("The step was given to %(user)s.", user=form["username"] or ""),
        url_for("dashboard.supervision_page"),
    )


@bp.route("/cases/<receipt>/retry", methods=["POST"])
@role_required("supervisor", "system_admin")
def retry(receipt):
    return _act(
        lambda: engine.retry_incident(runtime(), receipt, g.actor),
        _("Case %(receipt)s is retried.", receipt=receipt),
        url_for("ui.case", receipt=receipt),
    )


@bp.route("/cases/<receipt>/reopen", methods=["POST"])
@role_required("supervisor")
def reopen(receipt):
    form = _load(ReasonSchema(), request.form)
    return _act(
        lambda: supervision.reopen_case(runtime(), receipt, form["reason"], g.actor, step=form["step"] or None),
        _("Case %(receipt)s is reopened.", receipt=receipt),
        url_for("ui.case", receipt=receipt),
    )


@bp.route("/cases/<receipt>/move-back", methods=["POST"])
@role_required("supervisor")
def move_back(receipt):
    form = _load(ReasonSchema(), request.form)
    return _act(
        lambda: supervision.move_back(runtime(), receipt, form["step"] or "", form["reason"], g.actor),
        _("Case %(receipt)s went back to an earlier step.", receipt=receipt),
        url_for("ui.case", receipt=receipt),
    )
