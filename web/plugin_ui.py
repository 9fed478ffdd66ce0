"""What plugins add to the core pages, through hooks only: buttons on case and task pages
(``case_actions``), menu entries (``menu_links``), checks while a start form is typed
(``live_checks``) and inputs beside a task's form (``task_inputs``).

No core template names a plugin's endpoint: a plugin gives an endpoint (or a URL) and an
English msgid, and these helpers build the URL and translate the label where it is shown.
A plugin whose hook fails is logged and its additions left out: the page still opens.
"""

from __future__ import annotations

import logging

from flask import current_app, url_for
from flask_babel import gettext as _

log = logging.getLogger("simpul.web")


def _links(results) -> list[dict]:
    links = []
    for item in (i for result in reversed(results) for i in (result or [])):  # registration order
        if not isinstance(item, dict) or not item.get("label"):
            continue
        endpoint = item.get("endpoint")
        if endpoint:
            if endpoint not in current_app.view_functions:
                continue
            url = url_for(endpoint, **(item.get("values") or {}))
        else:
            url = item.get("url")
            if not url:
                continue
        links.append({"label": _(item["label"]), "url": url, "endpoint": endpoint, "kind": item.get("kind", "link")})
    return links


def _call(hook, **kwargs) -> list:
    try:
        return hook(**kwargs)
    except Exception:  # one plugin's broken button must not take the page down
        log.exception("hook %s failed", hook.name)
        return []


def case_actions(runtime, case: dict, actor) -> list[dict]:
    return _links(_call(runtime.hook.case_actions, runtime=runtime, case=case, actor=actor))


def menu_links(runtime, actor) -> list[dict]:
    if actor is None:
        return []
    return _links(_call(runtime.hook.menu_links, runtime=runtime, actor=actor))


def live_checks(runtime, process_key: str) -> list[dict]:
    checks = []
    for item in (
        i
        for r in reversed(_call(runtime.hook.live_checks, runtime=runtime, process_key=process_key))
        for i in (r or [])
    ):
        endpoint = item.get("endpoint") if isinstance(item, dict) else None
        if not endpoint or endpoint not in current_app.view_functions or not item.get("field"):
            continue
        checks.append(
            {
                "field": item["field"],
                "url": url_for(endpoint),
                "with": list(item.get("with") or []),
                "min_length": int(item.get("min_length") or 1),
                "ok": _(item["ok"]) if item.get("ok") else "",
            }
        )
    return checks


def _shown_inputs(runtime, task: dict, actor) -> list[dict]:
    shown = []
    for name, decl in runtime.task_inputs.items():
        condition = decl.get("shown")
        try:
            visible = bool(condition and condition(runtime, task, actor))
        except Exception:
            log.exception("task input %s of plugin %s: shown() failed", name, decl.get("plugin"))
            visible = False
        if visible:
            shown.append({**decl, "name": name})
    return shown


def task_input_fields(runtime, task: dict, actor, values: dict, errors: dict) -> list[dict]:
    """The plugins' inputs shown on this task page, as fields of the step form."""
    return [
        {
            "type": "textarea",
            "key": d["name"],
            "id": f"x-{d['name']}",
            "label": _(d["label"]) if d.get("label") else d["name"],
            "description": _(d["help"]) if d.get("help") else None,
            "required": False,
            "value": values.get(d["name"]),
            "errors": errors.get(d["name"]) or [],
            "maxlength": 2000,
            "task_input": True,
        }
        for d in _shown_inputs(runtime, task, actor)
    ]


def task_input_values(runtime, task: dict, actor, posted) -> dict:
    """The plugins' inputs posted with the step form; an empty one was not given."""
    values = {}
    for d in _shown_inputs(runtime, task, actor):
        raw = posted.get(d["name"])
        if raw is not None and raw.strip():
            values[d["name"]] = raw.replace("\r\n", "\n")
    return values
