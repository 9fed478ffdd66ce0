"""What a procedure's steps and form fields are called, in Indonesian and English, read
from its diagram and forms (so lists and case pages show the clerk's own wording)."""

from __future__ import annotations

import threading

from lxml import etree

from .forms import iter_fields
from .models import ProcessVersion
from .processes import latest_version

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_SPIFF = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
_names_cache: dict[str, dict] = {}
_names_lock = threading.Lock()


def _parse_step_names(bpmn_xml: str) -> dict:
    root = etree.fromstring(bpmn_xml.encode("utf-8"))
    names = {}
    for element in root.iter():
        if not isinstance(element.tag, str) or not element.tag.startswith(_BPMN):
            continue
        bpmn_id = element.get("id")
        if not bpmn_id or element.get("name") is None:
            continue
        name_en = None
        for prop in element.iter(f"{_SPIFF}property"):
            if prop.get("name") == "name_en":
                name_en = prop.get("value")
                break
        names[bpmn_id] = {"name": element.get("name"), "name_en": name_en, "kind": element.tag[len(_BPMN) :]}
    return names


def step_names(version: ProcessVersion) -> dict:
    """BPMN element id -> {name, name_en, kind} for a process version (cached by content)."""
    cached = _names_cache.get(version.content_hash)
    if cached is None:
        parsed = _parse_step_names(version.bpmn_xml)
        with _names_lock:
            cached = _names_cache.setdefault(version.content_hash, parsed)
    return cached


def field_labels(runtime, process_key: str) -> dict:
    """Field key -> {label, label_en} from every form of a procedure's latest version, so
    the case data can be shown with the labels the clerk filled it in under."""
    with runtime.read() as s:
        version = latest_version(s, process_key)
        forms = dict(version.forms or {})
    labels: dict[str, dict] = {}
    for form in forms.values():
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
