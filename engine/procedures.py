"""What a clerk sees of a procedure: the start form of its latest version, the procedures that
can be started at the counter, and the labels of its form fields (to show case data under
the words it was entered with).  Split out of the inbox, which is about tasks."""

from __future__ import annotations

from sqlalchemy import select

from .cases import start_form_of
from .models import ProcessVersion
from .processes import latest_version


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


def field_labels(runtime, process_key: str) -> dict:
    """Field key -> {label, label_en} from every form of a procedure's latest version, so
    the case data can be shown with the labels the clerk filled it in under."""
    from .forms import iter_fields

    with runtime.read() as s:
        version = latest_version(s, process_key)
        forms = list((version.forms or {}).values())
        # then the forms of the other procedures: a case that came from another office (the
        # regency's print) carries data entered under their forms
        others = s.scalars(
            select(ProcessVersion.forms)
            .where(ProcessVersion.process_key != process_key)
            .order_by(ProcessVersion.process_key, ProcessVersion.version.desc())
        ).all()
        forms += [f for other in others for f in (other or {}).values()]
    labels: dict[str, dict] = {}
    for form in forms:
        for comp in iter_fields(form or {}):
            props = comp.get("properties") or {}
            values_en = dict(pair.split("=", 1) for pair in (props.get("values_en") or "").split(";") if "=" in pair)
            labels.setdefault(
                comp["key"],
                {
                    "label": comp.get("label") or comp.get("dateLabel") or comp["key"],
                    "label_en": props.get("label_en"),
                    "type": comp.get("type"),
                    "values_key": comp.get("valuesKey"),
                    "values": {
                        str(v.get("value")): {"label": v.get("label"), "label_en": values_en.get(str(v.get("value")))}
                        for v in comp.get("values") or []
                    },
                },
            )
    return labels
