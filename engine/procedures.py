"""The procedures a clerk can start at the counter, and each one's start form."""

from __future__ import annotations

from sqlalchemy import select

from .models import ProcessVersion
from .processes import latest_version


def start_form_of(version, spec) -> tuple[str | None, dict | None]:
    """The form key and form of a version's start event (None, None when it has none)."""
    for ts in spec.task_specs.values():
        if (
            type(ts).__name__ == "StartEvent"
            and getattr(ts, "event_definition", None) is not None
            and type(ts.event_definition).__name__ == "NoneEventDefinition"
        ):
            key = ((getattr(ts, "extensions", {}) or {}).get("properties", {}) or {}).get("formKey")
            if key:
                return key, version.forms.get(key)
    return None, None


def start_form(runtime, process_key: str) -> dict:
    """The latest version of a procedure with the form a clerk fills in to start it."""
    with runtime.read() as s:
        version = latest_version(s, process_key)
        spec, _subs = runtime.spec_for(version)
        key, form = start_form_of(version, spec)
        return {
            "process": version.process_key,
            "name": version.name,
            "version": version.version,
            "form_key": key,
            "form": form,
        }


def startable_processes(runtime) -> list[dict]:
    """Procedures a clerk can start at the counter (those whose start event has a form)."""
    result = []
    with runtime.read() as s:
        keys = s.scalars(select(ProcessVersion.process_key).distinct().order_by(ProcessVersion.process_key)).all()
        for key in keys:
            version = latest_version(s, key)
            spec, _subs = runtime.spec_for(version)
            form_key, form = start_form_of(version, spec)
            if form:
                result.append({"process": key, "name": version.name, "version": version.version, "form_key": form_key})
    return result
