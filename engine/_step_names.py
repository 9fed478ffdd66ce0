"""Step names of a process version, read from its BPMN (cached by content): the inbox, the
diagram and a task's page show them.  Its own module so that engine.cases and engine.inbox
both read it without importing each other."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from .models import ProcessVersion

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
        english = {
            prop.get("name"): prop.get("value")
            for prop in element.iter(f"{_SPIFF}property")
            if prop.get("name") in ("name_en", "instructions_en")
        }
        names[bpmn_id] = {
            "name": element.get("name"),
            "name_en": english.get("name_en"),
            "instructions_en": english.get("instructions_en"),
            "kind": element.tag[len(_BPMN) :],
        }
    return names


def step_names(version: ProcessVersion) -> dict:
    """BPMN element id -> {name, name_en, instructions_en, kind} for a process version (cached by content)."""
    cached = _names_cache.get(version.content_hash)
    if cached is None:
        parsed = _parse_step_names(version.bpmn_xml)
        with _names_lock:
            cached = _names_cache.setdefault(version.content_hash, parsed)
    return cached
