"""The JSON API under /api/v1 (flask-smorest + marshmallow), for integrations with a bearer token.

Every error is ``{"code", "message", "errors"}`` with its HTTP status: 400 malformed request,
401 no or bad token, 403 not allowed, 404 not found (also another office's case), 409
conflict (stale or second completion, duplicate case), 422 invalid values.
"""

from __future__ import annotations

from flask import g, jsonify, request, url_for
from flask.views import MethodView
from flask_babel import gettext as _
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from simpul import engine
from simpul.engine import MAX_ID, InvalidInput, SimpulError, strict_int
from simpul.engine import validators as validate

from .extensions import csrf, runtime
from .i18n import process_title, render_error, render_field_errors

API_PREFIX = "/api/v1"


class StrictInteger(fields.Integer):
    """An integer of ASCII digits within 64 bits: marshmallow's Integer takes ``"٣"`` as 3
    and numbers a database cannot hold."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            text = value.strip()
            negative = text.startswith("-")
            try:
                number = strict_int(text[1:] if negative else text)
            except ValueError:
                raise self.make_error("invalid") from None
            return -number if negative else number
        number = super()._deserialize(value, attr, data, **kwargs)
        if abs(number) > MAX_ID:
            raise self.make_error("invalid")
        return number


ERROR_CODES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_attempts",
    500: "internal_error",
}


def is_api_request() -> bool:
    """JSON endpoints (the docs page under /api/docs is an ordinary page)."""
    return request.path.startswith(API_PREFIX + "/") or request.path == "/api/openapi.json"


def error_response(status: int, code: str, message: str, errors=None, headers=None):
    response = jsonify({"code": code, "message": message, "errors": errors})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="simpul"'
    return response


def simpul_error_response(err: SimpulError):
    errors = render_field_errors(err) if err.errors and isinstance(err.errors, dict) else err.errors
    if isinstance(err, engine.Conflict) and isinstance(err.errors, dict):
        errors = err.errors  # e.g. {"case": receipt}: data, not messages
    return error_response(err.status, err.code, render_error(err), errors)


def http_error_response(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    if isinstance(errors, dict) and len(errors) == 1 and next(iter(errors)) in ("json", "query", "form", "files"):
        errors = next(iter(errors.values()))  # webargs nests by location
    status = error.code or 500
    if status == 422:
        message = _("Some fields need attention.")
        errors = _translate_webargs(errors)
    else:
        message = data.get("message") or _http_message(status)
    return error_response(status, ERROR_CODES.get(status, "error"), message, errors, data.get("headers"))


def _translate_webargs(errors):
    from .i18n import show_message

    if isinstance(errors, dict):
        return {k: _translate_webargs(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [_translate_webargs(v) for v in errors]
    return show_message(errors) if errors is not None else None


def _http_message(status: int) -> str:
    return {
        400: _("The request is not valid JSON or lacks required parts."),
        401: _("A valid API token is required."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This method is not allowed here."),
        413: _("The upload is too large."),
        500: _("Something went wrong on the server. It was logged."),
    }.get(status, _("The request failed."))


class SimpulApi(Api):
    """flask-smorest's Api, with Simpul's error format for the API and HTML pages elsewhere."""

    ERROR_SCHEMA = None  # set below, once ErrorSchema exists

    def handle_http_exception(self, error):
        if is_api_request():
            return http_error_response(error)
        from .pages import http_error_page

        return http_error_page(error)


# -- schemas -------------------------------------------------------------------------------


class ErrorSchema(Schema):
    """Every error of the API."""

    code = fields.String(metadata={"description": "stable machine-readable code, e.g. conflict"})
    message = fields.String(metadata={"description": "message in the request's language (Accept-Language)"})
    errors = fields.Raw(allow_none=True, metadata={"description": "field -> messages, when there are any"})


class OfficeSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    timezone = fields.String()


class MeSchema(Schema):
    username = fields.String()
    display_name = fields.String()
    office = fields.Nested(OfficeSchema)
    roles = fields.List(fields.String())
    locale = fields.String(allow_none=True, metadata={"description": "the language the user chose (id or en)"})
    inbox = fields.Dict(
        keys=fields.String(), values=fields.Integer(), metadata={"description": "open tasks per inbox view"}
    )


class ProcessVersionSchema(Schema):
    version = fields.Integer()
    deployed_by = fields.String()
    deployed_at = fields.String()
    hash = fields.String()
    source = fields.String()
    open_cases = fields.Integer()


class ProcessSchema(Schema):
    key = fields.String()
    name = fields.String(metadata={"description": "name in the BPMN diagram (Indonesian)"})
    title = fields.String(metadata={"description": "name in the request's language"})
    latest = fields.Integer()
    startable = fields.Boolean(metadata={"description": "has a start form: a clerk can start it"})
    versions = fields.List(fields.Nested(ProcessVersionSchema))


class TaskSchema(Schema):
    id = fields.String()
    case_id = fields.Integer()
    receipt = fields.String()
    resident_name = fields.String()
    nik = fields.String()
    process = fields.String()
    step = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    lane = fields.String(allow_none=True)
    role = fields.String()
    assignee = fields.String(allow_none=True)
    form_key = fields.String(allow_none=True)
    instructions = fields.String(allow_none=True)
    office = fields.String()
    version = fields.Integer(metadata={"description": "send it back as `version` to detect stale changes"})
    created_at = fields.String()
    due_at = fields.String(allow_none=True)


class TaskInputSchema(Schema):
    name = fields.String(metadata={"description": "the key to send under extras when completing"})
    label = fields.String()
    help = fields.String(allow_none=True)


class TaskDetailSchema(TaskSchema):
    form = fields.Dict(allow_none=True, metadata={"description": "the step's form-js definition"})
    case_data = fields.Dict()
    requirements = fields.List(fields.Dict())
    inputs = fields.List(
        fields.Nested(TaskInputSchema),
        metadata={"description": "inputs beside the form that plugins offer you on this step (task_inputs hook)"},
    )


class InboxItemSchema(Schema):
    id = fields.String()
    case_id = fields.Integer()
    receipt = fields.String()
    resident_name = fields.String()
    nik_masked = fields.String(metadata={"description": "the NIK with all but its last four digits hidden"})
    process = fields.String()
    step = fields.String()
    name = fields.String()
    name_en = fields.String(allow_none=True)
    role = fields.String()
    assignee = fields.String(allow_none=True)
    assignee_name = fields.String(allow_none=True)
    created_at = fields.DateTime()
    due_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    version = fields.Integer()


class InboxSchema(Schema):
    view = fields.String()
    sort = fields.String()
    items = fields.List(fields.Nested(InboxItemSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    pages = fields.Integer()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    next_after = fields.String(allow_none=True, metadata={"description": "pass as `after` for the next page"})
    prev_before = fields.String(allow_none=True, metadata={"description": "pass as `before` for the previous page"})
    next = fields.String(allow_none=True, metadata={"description": "the next page's URL"})


class InboxQuerySchema(Schema):
    view = fields.String(
        load_default="roles",
        validate=validate.OneOf(engine.INBOX_VIEWS),
        metadata={"description": "mine | roles (unassigned tasks of my roles) | office (supervisor)"},
    )
    q = fields.String(metadata={"description": "search NIK, name and receipt"})
    nik = fields.String()
    name = fields.String()
    receipt = fields.String()
    procedure = fields.String()
    step = fields.String(metadata={"description": "BPMN element id of the step"})
    overdue = fields.Boolean(load_default=False)
    sort = fields.String(load_default="due", validate=validate.OneOf(engine.INBOX_SORTS))
    page = StrictInteger(
        load_default=1, validate=validate.Range(min=1), metadata={"description": "the page number to show"}
    )
    per_page = StrictInteger(load_default=25, validate=validate.Range(min=1, max=engine.INBOX_MAX_PER_PAGE))
    after = fields.String(validate=validate.Length(max=600), metadata={"description": "a page's `next_after`"})
    before = fields.String(validate=validate.Length(max=600), metadata={"description": "a page's `prev_before`"})
    last = fields.Boolean(load_default=False, metadata={"description": "the last page"})


class VersionSchema(Schema):
    version = StrictInteger(allow_none=True, metadata={"description": "the task version you saw"})


class CompleteSchema(Schema):
    data = fields.Dict(load_default=dict, metadata={"description": "the form's values"})
    version = StrictInteger(allow_none=True, metadata={"description": "the task version you saw"})
    extras = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        load_default=None,
        metadata={"description": "inputs beside the form that plugins declare, e.g. override_reason"},
    )


class CaseSummarySchema(Schema):
    id = fields.Integer()
    receipt = fields.String()
    status = fields.String()
    process = fields.String()
    office = fields.String()
    incident = fields.String(allow_none=True)
    open_tasks = fields.List(fields.Nested(TaskSchema))


class CaseBriefSchema(Schema):
    id = fields.Integer()
    receipt = fields.String()
    process = fields.String()
    process_version = fields.Integer()
    process_name = fields.String()
    office = fields.String()
    nik = fields.String()
    resident_name = fields.String()
    status = fields.String()
    incident = fields.String(allow_none=True)
    end_reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True, metadata={"description": "how it ended: handed_over, rejected, ..."})
    correlation_key = fields.String()
    data = fields.Dict()
    created_by = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    ended_at = fields.String(allow_none=True)


class EventSchema(Schema):
    id = fields.Integer()
    at = fields.String()
    actor = fields.String()
    office = fields.String(allow_none=True)
    kind = fields.String()
    task_id = fields.String(allow_none=True)
    step = fields.String(allow_none=True)
    step_name = fields.String(allow_none=True)
    detail = fields.String(allow_none=True)
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)


class JobSchema(Schema):
    kind = fields.String()
    step = fields.String(allow_none=True)
    status = fields.String()
    due_at = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)


class CommentSchema(Schema):
    id = fields.Integer()
    author = fields.String()
    office = fields.String(allow_none=True)
    body = fields.String()
    created_at = fields.String()


class CaseSchema(CaseBriefSchema):
    open_tasks = fields.List(fields.Nested(TaskSchema))
    jobs = fields.List(fields.Nested(JobSchema))
    events = fields.List(fields.Nested(EventSchema))
    comments = fields.List(fields.Nested(CommentSchema))


class CaseListSchema(Schema):
    items = fields.List(fields.Nested(CaseBriefSchema))
    per_page = fields.Integer()
    has_more = fields.Boolean()
    next_before = fields.Integer(allow_none=True, metadata={"description": "pass as `before` for the next page"})
    prev_after = fields.Integer(allow_none=True, metadata={"description": "pass as `after` for the previous page"})
    next = fields.String(allow_none=True, metadata={"description": "the next page's URL"})


class CaseQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "active", "incident", "completed", "cancelled"]))
    nik = fields.String()
    procedure = fields.String()
    outcome = fields.String(validate=validate.Length(max=32))
    q = fields.String(metadata={"description": "search NIK, name and receipt"})
    page = StrictInteger(
        validate=validate.Range(min=1), metadata={"description": "a page number to show; paging is by before/after"}
    )
    per_page = StrictInteger(load_default=25, validate=validate.Range(min=1, max=200))
    before = StrictInteger(validate=validate.Range(min=1), metadata={"description": "cases older than this id"})
    after = StrictInteger(validate=validate.Range(min=0), metadata={"description": "cases newer than this id"})


class CaseStartSchema(Schema):
    process = fields.String(required=True, metadata={"description": "process key, e.g. ektp_new_card"})
    data = fields.Dict(required=True, metadata={"description": "the start form's values (nik, resident_name, ...)"})


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1))


SimpulApi.ERROR_SCHEMA = ErrorSchema


# -- authentication ------------------------------------------------------------------------


def _authenticate():
    if request.method == "OPTIONS":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "unauthorized", _("A valid API token is required."))
    try:
        # one statement for the token, its user and their language (every request runs it)
        g.actor, g.user_locale = engine.token_actor_and_locale(runtime(), token.strip())
    except SimpulError as err:
        return simpul_error_response(err)
    return None


ERRORS = (400, 401, 403, 404, 409, 422)


# Request schemas are given to ``arguments`` as instances: given a class, webargs builds a
# new schema (a deep copy of every field) on every request.


def _blueprint(name, path, description):
    blp = Blueprint(name, __name__, url_prefix=f"{API_PREFIX}{path}", description=description)
    blp.before_request(_authenticate)
    csrf.exempt(blp)  # bearer tokens only: no cookie, so no cross-site forgery
    return blp


def _errors(blp, *statuses):
    def decorator(fn):
        for status in statuses:
            fn = blp.alt_response(status, schema=ErrorSchema, description=_ERROR_DESCRIPTIONS[status])(fn)
        return fn

    return decorator


_ERROR_DESCRIPTIONS = {
    400: "malformed request",
    401: "no valid bearer token",
    403: "the user's roles do not allow it",
    404: "not found (also: a case of another office)",
    409: "conflict: stale version, second completion, already claimed, or an open case for the NIK",
    422: "invalid values (field -> messages)",
}

me_blp = _blueprint("api_me", "/me", "The user the token acts as")
processes_blp = _blueprint("api_processes", "/processes", "Deployed procedures")
cases_blp = _blueprint("api_cases", "/cases", "Residents' cases of the user's office")
tasks_blp = _blueprint("api_tasks", "/tasks", "Open steps: the inbox, claiming and completing")


@me_blp.route("")
class Me(MethodView):
    @me_blp.response(200, MeSchema)
    @_errors(me_blp, 401)
    def get(self):
        """Who am I: user, office, roles and inbox counts"""
        actor = g.actor
        office = engine.get_office(runtime(), actor.office_code)
        return {
            "username": actor.username,
            "display_name": actor.display_name,
            "roles": sorted(actor.roles),
            "locale": g.get("user_locale"),
            "office": {"code": office.code, "name": office.name, "kind": office.kind, "timezone": office.timezone}
            if office
            else None,
            "inbox": engine.inbox_counts(runtime(), actor),
        }


@processes_blp.route("")
class Processes(MethodView):
    @processes_blp.response(200, ProcessSchema(many=True))
    @_errors(processes_blp, 401)
    def get(self):
        """List deployed procedures with their versions"""
        startable = {p["process"] for p in engine.startable_processes(runtime())}
        return [
            {**p, "title": process_title(p["key"], p["name"]), "startable": p["key"] in startable}
            for p in engine.list_processes(runtime())
        ]


@cases_blp.route("")
class Cases(MethodView):
    @cases_blp.arguments(CaseQuerySchema(), location="query")
    @cases_blp.response(200, CaseListSchema)
    @_errors(cases_blp, 401, 422)
    def get(self, args):
        """List cases of my office (newest first), paged by key: follow `next`"""
        per_page = args["per_page"]
        if args.get("page", 1) > 1 and args.get("before") is None and args.get("after") is None:
            # a page number alone names no page: pages are reached by their before/after ids
            raise InvalidInput("Page {page} does not exist.", page=args["page"])
        result = engine.case_page(
            runtime(),
            g.actor,
            status=args.get("status"),
            nik=args.get("nik"),
            process=args.get("procedure"),
            query=args.get("q"),
            outcome=args.get("outcome"),
            limit=per_page,
            before=args.get("before"),
            after=args.get("after"),
        )
        keep = {k: v for k, v in request.args.items() if k not in ("before", "after")}
        return {
            **result,
            "per_page": per_page,
            "has_more": result["next_before"] is not None,
            "next": url_for("api_cases.Cases", before=result["next_before"], **keep) if result["next_before"] else None,
        }

    @cases_blp.arguments(CaseStartSchema())
    @cases_blp.response(201, CaseSummarySchema)
    @_errors(cases_blp, 400, 401, 403, 404, 409, 422)
    def post(self, body):
        """Start a case for a resident (refused with 409 if the NIK has an open case)"""
        return engine.start_case(runtime(), body["process"], body["data"], g.actor)


@cases_blp.route("/<case_ref>")
class CaseResource(MethodView):
    @cases_blp.response(200, CaseSchema)
    @_errors(cases_blp, 401, 404)
    def get(self, case_ref):
        """A case with its open steps, jobs, timeline and comments (by receipt or id)"""
        from simpul import engine

        result = engine.get_case(runtime(), case_ref, g.actor)
        result["comments"] = engine.list_comments(runtime(), result["id"], g.actor)
        return result


@cases_blp.route("/<case_ref>/cancel")
class CaseCancel(MethodView):
    @cases_blp.arguments(CancelSchema())
    @cases_blp.response(200, CaseSummarySchema)
    @_errors(cases_blp, 401, 403, 404, 409, 422)
    def post(self, body, case_ref):
        """Cancel an open case, with a reason"""
        return engine.cancel_case(runtime(), case_ref, body["reason"], g.actor)


@tasks_blp.route("")
class Tasks(MethodView):
    @tasks_blp.arguments(InboxQuerySchema(), location="query")
    @tasks_blp.response(200, InboxSchema)
    @_errors(tasks_blp, 401, 403, 422)
    def get(self, args):
        """The inbox: one view, filtered, sorted (due date first by default) and paged by key:
        follow `next`"""
        result = engine.inbox_page(runtime(), g.actor, **args)
        keep = {k: v for k, v in request.args.items() if k not in ("after", "before", "last", "page")}
        after = result["next_after"]
        result["next"] = url_for("api_tasks.Tasks", after=after, page=result["page"] + 1, **keep) if after else None
        return result


@tasks_blp.route("/<task_id>")
class TaskResource(MethodView):
    @tasks_blp.response(200, TaskDetailSchema)
    @_errors(tasks_blp, 401, 404)
    def get(self, task_id):
        """An open step with its form, the case data, the document requirements and the inputs
        plugins offer beside the form"""
        from .plugin_ui import task_input_fields

        task = engine.get_task(runtime(), task_id, g.actor)
        task["inputs"] = [
            {"name": f["key"], "label": f["label"], "help": f["description"]}
            for f in task_input_fields(runtime(), task, g.actor, {}, {})
        ]
        return task


@tasks_blp.route("/<task_id>/claim")
class TaskClaim(MethodView):
    @tasks_blp.arguments(VersionSchema())
    @tasks_blp.response(200, TaskSchema)
    @_errors(tasks_blp, 401, 403, 404, 409)
    def post(self, body, task_id):
        """Take a step (409 if someone else has it)"""
        return engine.claim_task(runtime(), task_id, g.actor, expected_version=body.get("version"))


@tasks_blp.route("/<task_id>/unclaim")
class TaskUnclaim(MethodView):
    @tasks_blp.arguments(VersionSchema())
    @tasks_blp.response(200, TaskSchema)
    @_errors(tasks_blp, 401, 403, 404, 409)
    def post(self, body, task_id):
        """Give a step back to the role's inbox"""
        return engine.unclaim_task(runtime(), task_id, g.actor, expected_version=body.get("version"))


@tasks_blp.route("/<task_id>/complete")
class TaskComplete(MethodView):
    @tasks_blp.arguments(CompleteSchema())
    @tasks_blp.response(200, CaseSummarySchema)
    @_errors(tasks_blp, 401, 403, 404, 409, 422)
    def post(self, body, task_id):
        """Complete a step with its form's values (validated by the same form definition as the page)"""
        return engine.complete_task(
            runtime(), task_id, body["data"], g.actor, expected_version=body.get("version"), extras=body.get("extras")
        )


BLUEPRINTS = (me_blp, processes_blp, cases_blp, tasks_blp)


def init_api(app) -> Api:
    app.config.setdefault("API_TITLE", "Simpul API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "info": {
                "description": "Cases, steps and procedures of a Simpul office node. Authenticate with "
                "`Authorization: Bearer <token>` (create a token on your account page or with "
                "`simpul users token USER`). Errors are `{code, message, errors}`.",
                "license": {"name": "AGPL-3.0-or-later"},
            },
            "servers": [{"url": "/"}],
            "security": [{"bearerAuth": []}],
        },
    )
    api = SimpulApi(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    from .api_supervision import BLUEPRINTS as SUPERVISION

    for blp in (*BLUEPRINTS, *SUPERVISION):
        api.register_blueprint(blp)
    return api
