"""API endpoints of the camat: the dashboard's figures, the monthly recap and the
supervisor's hands (release, reassign, retry, reopen, move back).  Same conventions as
web.api: bearer token, marshmallow schemas, errors as ``{code, message, errors}``."""

from __future__ import annotations

from flask import g
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from simpul import engine
from simpul.engine import recap as engine_recap
from simpul.engine import stats as engine_stats
from simpul.engine import supervision

from .api import CaseSummarySchema, TaskSchema, _blueprint, _errors
from .extensions import runtime

dashboard_blp = _blueprint("dashboard_api", "/dashboard", "The camat's dashboard figures")
reports_blp = _blueprint("reports_api", "/reports", "The monthly recap (laporan bulanan)")
supervise_blp = _blueprint("supervise_api", "/supervise", "The supervisor's hands, each with a reason")


class PeriodQuerySchema(Schema):
    since = fields.Date(metadata={"description": "first day (default: four weeks ago)"})
    until = fields.Date(metadata={"description": "last day (default: today)"})
    office = fields.String(validate=validate.Length(max=16))


class MonthQuerySchema(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$"))
    office = fields.String(validate=validate.Length(max=16))


class DashboardSchema(Schema):
    since = fields.String()
    until = fields.String()
    generated_at = fields.String()
    offices = fields.List(
        fields.Dict(), metadata={"description": "per office: office, name, now, flow, people (see engine.stats)"}
    )


class RecapSchema(Schema):
    month = fields.String()
    office = fields.String()
    office_name = fields.String()
    applications = fields.Integer()
    recorded = fields.Integer()
    sent = fields.Integer()
    printed = fields.Integer()
    handed_over = fields.Integer()
    rejected = fields.Integer()
    suket = fields.Integer()
    open_at_end = fields.Integer()
    applications_by_procedure = fields.Dict(keys=fields.String(), values=fields.Integer())
    rejected_by_reason = fields.List(fields.Dict())
    open_age_days = fields.List(fields.Dict())
    by_kelurahan = fields.List(fields.Dict())


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(max=2000))


class ReassignSchema(ReasonSchema):
    username = fields.String(required=True, validate=validate.Length(max=64))


class ReopenSchema(ReasonSchema):
    step = fields.String(load_default=None, validate=validate.Length(max=100))


class MoveBackSchema(ReasonSchema):
    step = fields.String(required=True, validate=validate.Length(max=100))


@dashboard_blp.route("")
class Dashboard(MethodView):
    @dashboard_blp.arguments(PeriodQuerySchema(), location="query")
    @dashboard_blp.response(200, DashboardSchema)
    @_errors(dashboard_blp, 400, 401, 403, 404, 422)
    def get(self, args):
        """Every figure of the dashboard, per office the caller sees"""
        return engine_stats.dashboard(
            runtime(),
            g.actor,
            since=args["since"].isoformat() if args.get("since") else None,
            until=args["until"].isoformat() if args.get("until") else None,
            office=args.get("office"),
        )


@reports_blp.route("/monthly")
class Monthly(MethodView):
    @reports_blp.arguments(MonthQuerySchema(), location="query")
    @reports_blp.response(200, RecapSchema)
    @_errors(reports_blp, 400, 401, 403, 404, 422)
    def get(self, args):
        """The monthly recap per kelurahan and in total"""
        return engine_recap.monthly_recap(runtime(), g.actor, args["month"], office=args.get("office"))


@supervise_blp.route("/tasks/<task_id>/release")
class Release(MethodView):
    @supervise_blp.arguments(ReasonSchema())
    @supervise_blp.response(200, TaskSchema)
    @_errors(supervise_blp, 401, 403, 404, 409, 422)
    def post(self, body, task_id):
        """Release a step claimed by someone (absent, PC down) back to its role"""
        return supervision.release_task(runtime(), task_id, body["reason"], g.actor)


@supervise_blp.route("/tasks/<task_id>/reassign")
class Reassign(MethodView):
    @supervise_blp.arguments(ReassignSchema())
    @supervise_blp.response(200, TaskSchema)
    @_errors(supervise_blp, 401, 403, 404, 409, 422)
    def post(self, body, task_id):
        """Give a step to a named colleague with the step's role"""
        return supervision.reassign_task(runtime(), task_id, body["username"], body["reason"], g.actor)


@supervise_blp.route("/cases/<case_ref>/retry")
class Retry(MethodView):
    @supervise_blp.response(200, CaseSummarySchema)
    @_errors(supervise_blp, 401, 403, 404, 409)
    def post(self, case_ref):
        """Retry a case in incident"""
        if not (g.actor.has_role("supervisor") or g.actor.has_role("system_admin")):
            raise engine.Forbidden("Only a supervisor may do this.")
        return engine.retry_incident(runtime(), case_ref, g.actor)


@supervise_blp.route("/cases/<case_ref>/reopen")
class Reopen(MethodView):
    @supervise_blp.arguments(ReopenSchema())
    @supervise_blp.response(200, CaseSummarySchema)
    @_errors(supervise_blp, 401, 403, 404, 409, 422)
    def post(self, body, case_ref):
        """Reopen a case closed by a rejection, at the step that rejected it"""
        return supervision.reopen_case(runtime(), case_ref, body["reason"], g.actor, step=body.get("step"))


@supervise_blp.route("/cases/<case_ref>/move-back")
class MoveBack(MethodView):
    @supervise_blp.arguments(MoveBackSchema())
    @supervise_blp.response(200, CaseSummarySchema)
    @_errors(supervise_blp, 401, 403, 404, 409, 422)
    def post(self, body, case_ref):
        """Move an open case back to an earlier step"""
        return supervision.move_back(runtime(), case_ref, body["step"], body["reason"], g.actor)


BLUEPRINTS = (dashboard_blp, reports_blp, supervise_blp)
