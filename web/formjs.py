"""form-js definitions on the page: the same JSON that engine.forms validates on the server is
turned here into the fields a template renders, and a posted HTML form back into the values
the engine expects.  Labels: ``label`` is Indonesian, ``properties.label_en`` English."""

from __future__ import annotations

from simpul.engine import CONTAINER_TYPES, FILL_SIGNED_IN_USER, INPUT_TYPES

from .i18n import is_english, requirement_label


def _props(comp: dict) -> dict:
    return comp.get("properties") or {}


def _text(comp: dict, name: str) -> str | None:
    """A component's text in the current language (``name`` Indonesian, ``<name>_en`` English)."""
    indonesian = comp.get(name)
    if name == "label" and indonesian is None:
        indonesian = comp.get("dateLabel")
    english = _props(comp).get(f"{name}_en")
    if is_english() and english:
        return english
    return indonesian if indonesian is not None else english


def value_text(value) -> str:
    """An option value as a page sends it: JSON spelling for booleans (``true``/``false``), so
    a radio whose values are booleans posts what the hide expressions and the engine expect."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _english_values(comp: dict) -> dict:
    raw = _props(comp).get("values_en") or ""
    result = {}
    for pair in raw.split(";"):
        if "=" in pair:
            value, label = pair.split("=", 1)
            result[value.strip()] = label.strip()
    return result


def _options(comp: dict, requirements: list[dict] | None, choices: dict | None = None) -> list[dict]:
    if comp.get("valuesKey") and comp["valuesKey"] in (choices or {}):
        return [{"value": c["value"], "label": c["label"]} for c in choices[comp["valuesKey"]]]
    if comp.get("valuesKey") == "document_requirements":
        return [
            {"value": r["key"], "label": requirement_label(r), "source": r.get("source")} for r in requirements or []
        ]
    english = _english_values(comp) if is_english() else {}
    return [
        {
            "value": value_text(v.get("value")),
            "label": english.get(value_text(v.get("value")), v.get("label", v.get("value"))),
        }
        for v in comp.get("values", [])
    ]


def _input_type(comp: dict) -> str:
    kind = comp["type"]
    if kind == "datetime":
        return {"date": "date", "time": "time"}.get(comp.get("subtype", "date"), "datetime-local")
    if kind == "number":
        return "number"
    return "text"


def _is_checked(value, option_value) -> bool:
    if isinstance(value, (list, tuple, set)):
        return option_value in value or str(option_value) in {value_text(v) for v in value}
    return value is not None and value_text(value) == value_text(option_value)


def build_fields(
    form: dict | None,
    values: dict | None = None,
    errors: dict | None = None,
    requirements: list[dict] | None = None,
    prefix: str = "f",
    choices: dict | None = None,
    signed_in_name: str | None = None,
) -> list[dict]:
    """What the template needs for each component, in form order (groups nested).  A field
    the engine fills with the signed-in user's name shows ``signed_in_name``, read-only."""
    if not form:
        return []
    values = values or {}
    errors = errors or {}
    result = []
    for comp in form.get("components", []):
        kind = comp.get("type")
        if kind == "select" and comp.get("valuesKey") == "kelurahan" and not (choices or {}).get("kelurahan"):
            comp = {**comp, "type": "textfield"}  # no kelurahan in the directory: typed, as before
            kind = "textfield"
        if kind in CONTAINER_TYPES and comp.get("components"):
            result.append(
                {
                    "type": "group",
                    "label": _text(comp, "label"),
                    "id": f"{prefix}-{comp.get('id', '')}",
                    "fields": build_fields(comp, values, errors, requirements, prefix, choices, signed_in_name),
                }
            )
            continue
        if kind == "text":
            result.append({"type": "text", "text": _text(comp, "text") or "", "id": comp.get("id")})
            continue
        if kind not in INPUT_TYPES or not comp.get("key") or kind == "expression":
            continue
        key = comp["key"]
        rules = comp.get("validate") or {}
        fill = _props(comp).get("fill")
        if fill == FILL_SIGNED_IN_USER and signed_in_name:
            value = signed_in_name
        elif key in values:
            value = values[key]
        else:
            value = comp.get("defaultValue")
        field = {
            "type": kind,
            "key": key,
            "id": f"{prefix}-{key}",
            "label": _text(comp, "label") or key,
            "description": _text(comp, "description"),
            "required": bool(rules.get("required")),
            "value": value,
            "errors": errors.get(key) or [],
            "input_type": _input_type(comp),
            "pattern": rules.get("pattern"),
            "maxlength": rules.get("maxLength"),
            "minlength": rules.get("minLength"),
            "min": rules.get("min"),
            "max": rules.get("max"),
            "hide": (comp.get("conditional") or {}).get("hide"),
            "readonly": bool(comp.get("readonly") is True or fill == FILL_SIGNED_IN_USER),
        }
        if kind in ("select", "radio", "checklist", "taglist"):
            field["options"] = [
                {**o, "checked": _is_checked(value, o["value"])} for o in _options(comp, requirements, choices)
            ]
            field["from_requirements"] = comp.get("valuesKey") == "document_requirements"
        if kind == "checkbox":
            field["checked"] = value is True or str(value).lower() in ("true", "on", "1")
        result.append(field)
    return result


def _components(form: dict):
    for comp in form.get("components", []):
        if comp.get("type") in CONTAINER_TYPES and comp.get("components"):
            yield from _components(comp)
        elif comp.get("key") and comp.get("type") in INPUT_TYPES and comp.get("type") != "expression":
            yield comp


def data_from_post(form: dict | None, posted) -> dict:
    """The values of a posted HTML form (a MultiDict), shaped for engine.validate_form_data.

    An empty required input is left out, so the engine says "This field is required."; an
    empty optional one is sent as "" (the engine stores no value).  Unticked checkboxes are
    left out (the engine reads them as False)."""
    data: dict = {}
    if not form:
        return data
    for comp in _components(form):
        key, kind = comp["key"], comp["type"]
        required = bool((comp.get("validate") or {}).get("required"))
        if kind == "checkbox":
            if key in posted:
                data[key] = posted.get(key) in ("on", "true", "1", "yes")
            continue
        if kind in ("checklist", "taglist"):
            data[key] = [v for v in posted.getlist(key) if v != ""]
            continue
        raw = posted.get(key)
        if raw is None or str(raw).strip() == "":
            if not required and raw is not None and kind not in ("select", "radio"):
                data[key] = ""
            continue
        raw = str(raw)
        if kind == "number":
            data[key] = _number(raw)
        elif kind in ("select", "radio"):
            data[key] = _choice(comp, raw)
        elif kind in ("textfield",):
            data[key] = raw.strip()
        else:
            data[key] = raw.replace("\r\n", "\n")
    return data


def _number(raw: str):
    text = raw.strip().replace(",", ".")
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return raw  # the engine answers "Enter a number."


def _choice(comp: dict, raw: str):
    """An option's value with its JSON type (a posted form only has strings)."""
    for option in comp.get("values", []):
        if value_text(option.get("value")) == raw:
            return option.get("value")
    return raw
