"""Language and time for the web app: locale choice, translating engine and plugin messages,
labels of roles, statuses and events, and dates in the office's time zone."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app, g, request, session
from flask_babel import get_locale, get_translations, gettext, lazy_gettext

from simpul.engine import ENGINE_EVENT_KINDS
from simpul.engine.i18n import LOCALES, N_, Message
from simpul.engine.i18n import render as render_message

LANGUAGE_NAMES = {"id": "Indonesia", "en": "English"}  # each in its own language

ROLE_LABELS = {
    "operator": N_("Operator"),
    "verifier": N_("Verifier"),
    "supervisor": N_("Supervisor (camat)"),
    "process_admin": N_("Process administrator"),
    "regency_officer": N_("Regency officer"),
    "system_admin": N_("System administrator"),
}

STATUS_LABELS = {
    "active": N_("In progress"),
    "incident": N_("Incident"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}

EVENT_LABELS = {
    "case_started": N_("Case started"),
    "task_claimed": N_("Step claimed"),
    "task_unclaimed": N_("Step released"),
    "task_completed": N_("Step completed"),
    "service_completed": N_("Automatic step done"),
    "timer_fired": N_("Deadline reached"),
    "message_received": N_("Message received"),
    "case_cancelled": N_("Case cancelled"),
    "incident": N_("Incident"),
    "incident_retried": N_("Incident retried"),
    "comment_added": N_("Comment"),
    "document_uploaded": N_("Document uploaded"),
    "document_removed": N_("Document removed"),
    "document_replaced": N_("Document replaced"),
    "case_migrated": N_("Moved to a new process version"),
}

#: The messages between offices of the bundled processes, as a clerk calls them.
MESSAGE_LABELS = {
    "ektp_regency_printing": N_("Case sent for printing"),
    "card_printed": N_("Card printed"),
    "enrolment_problem": N_("Enrolment problem"),
    "temporary_certificate_issued": N_("Temporary certificate issued"),
}

#: Dukcapil's own status codes of a recording (see the domain notes), with what they mean.
ENROLMENT_STATUSES = {
    "BIO_CAPTURED": N_("biometrics recorded at the kecamatan"),
    "SENT_FOR_ENROLLMENT": N_("sent to Disdukcapil for enrolment"),
    "RECEIVED_AT_CENTRAL": N_("received at the centre"),
    "PRINT_READY_RECORD": N_("ready to print"),
    "DUPLICATE_RECORD": N_("duplicate record: no card until one record is deleted"),
    "ENROLL_FAILURE_AT_CENTRAL": N_("enrolment failed at the centre"),
    "SEARCH_FAILURE_AT_CENTRAL": N_("search (dedup) failed at the centre"),
    "ENROLL_FAILURE_AT_REGIONAL": N_("enrolment failed at the region"),
}
#: the codes recorded before they were Dukcapil's (older cases)
_OLD_ENROLMENT_VALUES = {
    "print_ready": "PRINT_READY_RECORD",
    "duplicate_record": "DUPLICATE_RECORD",
    "enrolment_failed": "ENROLL_FAILURE_AT_CENTRAL",
}

OFFICE_KINDS = {"kelurahan": N_("Kelurahan"), "kecamatan": N_("Kecamatan"), "regency": N_("Regency")}

#: English titles of the bundled procedures; the catalogue gives the Indonesian ones (their BPMN names).
PROCESS_TITLES = {
    "ektp_new_card": N_("New e-KTP recording"),
    "ektp_renewal": N_("e-KTP renewal or data change"),
    "ektp_replacement": N_("Replacement of a lost or damaged e-KTP"),
    "ektp_regency_printing": N_("e-KTP printing (Disdukcapil)"),
}


def select_locale() -> str:
    """API: Accept-Language, then the user's choice; pages: the session's choice; else the node default."""
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "id")
    if request.path.startswith("/api/v1/"):
        chosen = request.accept_languages.best_match(LOCALES) if request.accept_languages else None
        return chosen or getattr(g, "user_locale", None) or default
    chosen = session.get("locale")
    return chosen if chosen in LOCALES else default


def current_locale() -> str:
    return str(get_locale() or "id")


def is_english() -> bool:
    return current_locale().startswith("en")


# -- engine and plugin messages ------------------------------------------------------------


def _format(template: str, params: dict | None) -> str:
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError):
        return template


def show_message(message) -> str:
    """A message of the engine or a plugin (a ``Message``, or a plain msgid) in the request's
    language: the message contract of ``simpul.engine.i18n``."""
    return render_message(message, get_translations())


def translate_message(message, params: dict | None = None) -> str:
    """A msgid template with its parameters (``reason_template``/``reason_params``, an
    engine error's ``template``/``params``) in the request's language; a ``Message`` carries
    its own parameters."""
    if isinstance(message, Message) or not isinstance(message, str):
        return show_message(message)
    return _format(_gettext_raw(message), params)


def _gettext_raw(message: str) -> str:
    """gettext without Flask-Babel's %-formatting (messages may contain a literal %)."""
    return get_translations().gettext(message)


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?$")


def _display_params(params: dict | None) -> dict:
    """Parameters as a clerk reads them: timestamps in the office's time zone."""
    shown = {}
    for key, value in (params or {}).items():
        if isinstance(value, Message):
            value = show_message(value)
        elif isinstance(value, str) and _ISO_DATETIME.match(value):
            value = format_dt(value)
        elif isinstance(value, str) and value:
            value = _gettext_raw(value)  # a word the engine passes ("Case" in "{what} not found.")
        shown[key] = value
    return shown


def render_error(err) -> str:
    """An engine error's message in the request's language."""
    return translate_message(err.template, _display_params(err.params))


#: Parameters of a process validation problem that are words of the catalogue, not names
#: taken from the diagram (those stay as the administrator wrote them).
_PROBLEM_WORD_PARAMS = frozenset({"what"})
_PROBLEM_WORD_VALUES = frozenset({"(no name)", "(none)"})


def render_problem(problem: dict) -> dict:
    """A validation problem of a process (``{element, shape, message, template, params}``) with
    its ``message`` in the current language; ``template`` and ``params`` stay as they are."""
    params = problem.get("params") or {}
    shown = {
        k: _gettext_raw(v) if isinstance(v, str) and (k in _PROBLEM_WORD_PARAMS or v in _PROBLEM_WORD_VALUES) else v
        for k, v in params.items()
    }
    template = problem.get("template") or problem.get("message") or ""
    message = translate_message(template, shown)
    from simpul.engine import refusal_line

    # one line naming the element and the reason, at most 300 characters, for lists and logs
    return {**problem, "message": message, "line": refusal_line({**problem, "template": None, "message": message})}


def render_problems(problems) -> list:
    return [render_problem(p) if isinstance(p, dict) else p for p in (problems or [])]


def render_reason(row: dict) -> dict:
    """A case's migration refusal (``reason_template``/``reason_params``) in the current language."""
    if row.get("reason_template"):
        return {**row, "reason": translate_message(row["reason_template"], row.get("reason_params") or {})}
    return row


def render_field_errors(err) -> dict:
    """``{field: [translated message, ...]}`` from an engine error's ``errors``."""
    errors = err.errors if isinstance(err.errors, dict) else ({"_": err.errors} if err.errors else {})
    result = {}
    for field, messages in errors.items():
        if isinstance(messages, dict):  # nested (list items): flatten
            messages = [m for sub in messages.values() for m in (sub if isinstance(sub, list) else [sub])]
        elif not isinstance(messages, list):
            messages = [messages]
        result[field] = [show_message(m) for m in messages]
    return result


# -- labels --------------------------------------------------------------------------------


def role_label(role: str) -> str:
    return gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else role


def status_label(status: str) -> str:
    return gettext(STATUS_LABELS[status]) if status in STATUS_LABELS else status


def event_label(kind: str) -> str:
    """The engine's event kinds, then those the plugins name (``event_labels`` hook)."""
    label = EVENT_LABELS.get(kind) or _plugin_event_labels().get(kind)
    return gettext(label) if label else kind.replace("_", " ")


def event_detail(event: dict) -> str | None:
    """A timeline line's detail in the reader's language: a plugin's event may carry it as a
    ``Message`` (``after["message"]``, see ``engine.record_case_event``); else as written."""
    after = event.get("after")
    plugin_kind = event.get("kind") not in ENGINE_EVENT_KINDS
    if plugin_kind and isinstance(after, dict) and isinstance(after.get("message"), dict):
        return show_message(Message.from_dict(after["message"]))
    return event.get("detail")


def _plugin_event_labels() -> dict:
    runtime = current_app.extensions["simpul"].runtime
    labels = getattr(runtime, "_web_event_labels", None)
    if labels is None:
        labels = {}
        for result in reversed(runtime.hook.event_labels()):  # registration order; a later plugin wins
            labels.update(result or {})
        runtime._web_event_labels = labels
    return labels


def enrolment_status(events: list[dict]) -> dict | None:
    """The recording's current Dukcapil status as the kecamatan knows it, from its case's
    timeline: BIO_CAPTURED after the biometric step, SENT_FOR_ENROLLMENT once sent, then the
    code the regency recorded (carried by its "card printed" or "enrolment problem" answer).
    ``{"code", "label"}``, or None before the biometrics."""
    code = None
    for e in events:
        step = e.get("step") or ""
        if e["kind"] == "task_completed" and "biometric" in step:
            code = "BIO_CAPTURED"
        elif e["kind"] == "service_completed" and step.startswith("Service_send_to_regency"):
            code = "SENT_FOR_ENROLLMENT"
        elif e["kind"] == "message_received" and isinstance(e.get("after"), dict):
            payload = e["after"].get("data") if isinstance(e["after"].get("data"), dict) else e["after"]
            found = payload.get("enrolment_result")
            if found:
                code = _OLD_ENROLMENT_VALUES.get(found, found)
    if code is None:
        return None
    label = ENROLMENT_STATUSES.get(code)
    return {"code": code, "label": gettext(label) if label else ""}


def message_label(name: str) -> str:
    """A BPMN message's name (``card_printed``) as a clerk reads it."""
    return gettext(MESSAGE_LABELS[name]) if name in MESSAGE_LABELS else name.replace("_", " ")


_START_TAG = re.compile(r"<(?:[A-Za-z_][\w.-]*:)?(lane|[A-Za-z]+)\b([^<>]*?)(/?)>")
_ATTR = re.compile(r'\b(id|name)="([^"]*)"')


def readable_diagram(xml: str, names: dict, lane_roles: dict) -> str:
    """The BPMN XML as the viewer shows it to a clerk: each lane named by its role's label
    ("Verifikator", not ``verifier``) and, in English, each step by its English name.  Only
    the ``name`` attributes change; the ids, and so the markers, stay."""
    from xml.sax.saxutils import escape

    english = is_english()

    def label_for(tag: str, element_id: str, name: str) -> str | None:
        if tag == "lane":
            role = lane_roles.get(name, name)
            return role_label(role) if role in ROLE_LABELS else None
        info = names.get(element_id)
        if english and info and info.get("name_en"):
            return info["name_en"]
        return None

    def rewrite(match):
        tag, attrs, close = match.group(1), match.group(2), match.group(3)
        found = dict(_ATTR.findall(attrs))
        if "name" not in found:
            return match.group(0)
        label = label_for(tag, found.get("id", ""), found["name"])
        if label is None:
            return match.group(0)
        attrs = _ATTR.sub(
            lambda a: f'name="{escape(label, {chr(34): "&quot;"})}"' if a.group(1) == "name" else a.group(0), attrs
        )
        return match.group(0)[: match.start(2) - match.start(0)] + attrs + close + ">"

    return _START_TAG.sub(rewrite, xml or "")


def office_kind_label(kind: str) -> str:
    return gettext(OFFICE_KINDS[kind]) if kind in OFFICE_KINDS else kind


def process_title(key: str, bpmn_name: str | None = None) -> str:
    """A procedure's title in the current language (its BPMN name is Indonesian)."""
    if key in PROCESS_TITLES:
        return gettext(PROCESS_TITLES[key])
    return bpmn_name or key


def step_title(name: str | None, name_en: str | None) -> str:
    """A BPMN step's name: ``name`` is Indonesian, ``name_en`` English."""
    if is_english() and name_en:
        return name_en
    return name or name_en or ""


def requirement_label(req: dict) -> str:
    if is_english() and req.get("label_en"):
        return req["label_en"]
    return show_message(req.get("label") or req.get("key", ""))


# -- dates ---------------------------------------------------------------------------------


def office_timezone() -> str:
    return getattr(g, "office_timezone", None) or current_app.extensions["simpul"].runtime.config.timezone


def _as_datetime(value) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def format_dt(value, with_zone: bool = True) -> str:
    """``28 Nov 2026 16.05 WITA`` (Indonesian) or ``28 Nov 2026, 16:05 WITA`` (English)."""
    value = _as_datetime(value)
    if value is None:
        return ""
    tz = ZoneInfo(office_timezone())
    zone = format_datetime(value, "z", tzinfo=tz, locale="id") if with_zone else ""
    if is_english():
        text = format_datetime(value, "d MMM y, HH:mm", tzinfo=tz, locale="en")
    else:
        text = format_datetime(value, "d MMM y HH.mm", tzinfo=tz, locale="id")
    return f"{text} {zone}".strip()


def format_date_only(value) -> str:
    value = _as_datetime(value)
    if value is None:
        return ""
    tz = ZoneInfo(office_timezone())
    return format_datetime(value, "d MMM y", tzinfo=tz, locale="en" if is_english() else "id")


def filesize(size) -> str:
    """A document's size, as on every page (``engine.documents.format_size``)."""
    from simpul.engine.documents import format_size

    return format_size(size, "en" if is_english() else "id")


def iso(value) -> str:
    value = _as_datetime(value)
    return value.isoformat() if value else ""


__all__ = [
    "LANGUAGE_NAMES",
    "format_dt",
    "lazy_gettext",
    "render_error",
    "render_field_errors",
    "render_problem",
    "render_problems",
    "render_reason",
    "select_locale",
    "show_message",
    "translate_message",
]


def field_label(labels: dict, key: str) -> str:
    info = labels.get(key)
    if not info:
        return key.replace("_", " ")
    if is_english() and info.get("label_en"):
        return info["label_en"]
    return info.get("label") or key


def show_field(labels: dict, key: str, value, requirement_labels: dict | None = None) -> str:
    """A stored form value as a clerk reads it: option labels instead of option values,
    document names instead of requirement keys."""
    info = labels.get(key) or {}
    options = info.get("values") or {}
    if info.get("values_key") == "document_requirements" and requirement_labels:
        options = {k: {"label": v, "label_en": v} for k, v in requirement_labels.items()}

    def one(v):
        option = options.get(str(v))
        if option:
            return (option.get("label_en") if is_english() and option.get("label_en") else option.get("label")) or str(
                v
            )
        return show_value(v)

    if options and isinstance(value, (list, tuple)):
        return ", ".join(one(v) for v in value)
    if options and not isinstance(value, (dict, bool)):
        return one(value)
    if info.get("type") == "datetime" and isinstance(value, str) and len(value) == 10:
        try:
            from babel.dates import format_date

            return format_date(date.fromisoformat(value), "d MMMM y", locale="en" if is_english() else "id")
        except ValueError:
            return value
    return show_value(value)


def show_value(value) -> str:
    """A stored value as a clerk reads it."""
    if value is True:
        return gettext("Yes")
    if value is False:
        return gettext("No")
    if isinstance(value, dict):
        return ", ".join(f"{k}: {show_value(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(show_value(v) for v in value)
    return str(value)
