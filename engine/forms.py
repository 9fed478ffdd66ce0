"""form-js schemas: one definition drives the clerk's page and the server-side validation.

``schema_for(form)`` turns a form-js JSON schema into a marshmallow schema; the web layer
renders the same components.  Only fields with a ``key`` carry data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from . import validators as validators_
from .errors import InvalidInput, ValidationFailed
from .i18n import N_

INPUT_TYPES = {
    "textfield",
    "textarea",
    "number",
    "checkbox",
    "select",
    "radio",
    "datetime",
    "checklist",
    "taglist",
    "expression",
}
CONTAINER_TYPES = {"group", "dynamiclist", "iframe"}
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

MSG_REQUIRED = N_("This field is required.")
MSG_CHECK_REQUIRED = N_("This box must be ticked.")
MSG_CHOICE = N_("Choose one of the listed values.")
MSG_PATTERN = N_("The value does not have the expected format.")
MSG_SIXTEEN_DIGITS = N_("Enter exactly 16 digits (numbers only).")
MSG_DATE = N_("Enter a date as YYYY-MM-DD.")
MSG_NUMBER = N_("Enter a number.")
MSG_TEXT = N_("Enter text.")
MSG_UNKNOWN = N_("Unknown field.")


def iter_fields(form: dict):
    """Every component that carries data, groups flattened, in form order."""
    for comp in form.get("components", []):
        if comp.get("type") in CONTAINER_TYPES and comp.get("components"):
            yield from iter_fields(comp)
        elif comp.get("key") and comp.get("type") in INPUT_TYPES:
            yield comp


def field_keys(form: dict) -> list[str]:
    return [c["key"] for c in iter_fields(form)]


# -- form-js "conditional.hide" on the server ----------------------------------------------------
#
# form-js hides a component whose ``conditional.hide`` FEEL expression is true, and then neither
# requires nor submits it.  The server must apply the same rule, or a reason that is required
# only when a case is rejected could never be required.  PyPI has no maintained FEEL
# interpreter, so this reads the same small subset that web/static/simpul.js evaluates in the
# browser: ``=field``, ``=not(field)``, ``=a = "x"``, ``=a != false``, ``=a = null``, joined
# by ``and`` / ``or``, with parentheses.  An expression outside the subset hides nothing.

_FEEL_TOKEN = re.compile(r'\s*(not\(|\(|\)|!=|=|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?)')


class _Unsupported(ValueError):
    pass


def _feel_tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _FEEL_TOKEN.match(text, pos)
        if not m:
            raise _Unsupported(text)
        tokens.append(m.group(1))
        pos = m.end()
    return tokens


def _truthy(v) -> bool:
    return not (v is None or v is False or v == "" or (isinstance(v, (list, tuple)) and not v))


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):  # a radio's "true"/"false" is the boolean
        return str(a).lower() == str(b).lower()
    return a == b or str(a) == str(b)


class _FeelReader:
    """Recursive descent over the tokens: or > and > comparison > atom."""

    LITERALS = {"null": None, "true": True, "false": False}

    def __init__(self, tokens: list[str], values: dict):
        self.tokens, self.values, self.pos = tokens, values, 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            raise _Unsupported("unexpected end")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def atom(self):
        t = self.take()
        if t in ("not(", "("):
            v = self.either()
            self.take()
            return (not _truthy(v)) if t == "not(" else v
        if t in self.LITERALS:
            return self.LITERALS[t]
        if t.startswith('"'):
            return json.loads(t)
        if t[0].isdigit() or t[0] == "-":
            return float(t) if "." in t else int(t)
        if t in ("and", "or", ")", "=", "!="):
            raise _Unsupported(t)
        return self.values.get(t)

    def compare(self):
        left = self.atom()
        if self.peek() in ("=", "!="):
            op, right = self.take(), self.atom()
            return _same(left, right) == (op == "=")
        return left

    def both(self):
        v = self.compare()
        while self.peek() == "and":
            self.take()
            r = self.compare()
            v = _truthy(v) and _truthy(r)
        return v

    def either(self):
        v = self.both()
        while self.peek() == "or":
            self.take()
            r = self.both()
            v = _truthy(v) or _truthy(r)
        return v


def feel_hidden(expression: str | None, values: dict) -> bool:
    """Whether form-js would hide a component with this ``conditional.hide`` (see above)."""
    if not expression or not isinstance(expression, str):
        return False
    try:
        return _truthy(_FeelReader(_feel_tokens(expression.strip().removeprefix("=")), values).either())
    except (_Unsupported, ValueError):
        return False


def hidden_keys(form: dict, values: dict) -> set[str]:
    """The data fields form-js would hide for these values (not required, not submitted)."""
    return {c["key"] for c in iter_fields(form) if feel_hidden((c.get("conditional") or {}).get("hide"), values)}


class _Date(fields.String):
    def _deserialize(self, value, attr, data, **kw):
        value = super()._deserialize(value, attr, data, **kw)
        try:
            dt.date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(MSG_DATE) from exc
        return value


class _RequiredTrue(fields.Boolean):
    def _deserialize(self, value, attr, data, **kw):
        value = super()._deserialize(value, attr, data, **kw)
        if value is not True:
            raise ValidationError(MSG_CHECK_REQUIRED)
        return value


def _field_for(comp: dict) -> fields.Field:
    rules = comp.get("validate") or {}
    required = bool(rules.get("required"))
    kind = comp["type"]
    common: dict[str, Any] = {"required": required, "error_messages": {"required": MSG_REQUIRED, "null": MSG_REQUIRED}}
    validators: list[validate.Validator] = []
    if kind in ("textfield", "textarea"):
        if rules.get("pattern"):
            # a NIK or KK number: say what is expected, not just "the format"
            message = MSG_SIXTEEN_DIGITS if rules["pattern"] == "^[0-9]{16}$" else MSG_PATTERN
            validators.append(validate.Regexp(rules["pattern"], error=message))
        if rules.get("minLength") or rules.get("maxLength"):
            validators.append(validators_.Length(min=rules.get("minLength"), max=rules.get("maxLength")))
        if required:
            validators.append(validate.Length(min=1, error=MSG_REQUIRED))
        return fields.String(
            validate=validators,
            allow_none=not required,
            **common | {"error_messages": common["error_messages"] | {"invalid": MSG_TEXT}},
        )
    if kind == "number":
        if rules.get("min") is not None or rules.get("max") is not None:
            validators.append(validators_.Range(min=rules.get("min"), max=rules.get("max")))
        cls = fields.Integer if comp.get("decimalDigits") == 0 else fields.Float
        return cls(
            validate=validators,
            allow_none=not required,
            **common | {"error_messages": common["error_messages"] | {"invalid": MSG_NUMBER}},
        )
    if kind == "checkbox":
        return (_RequiredTrue if required else fields.Boolean)(allow_none=not required, **common)
    if kind in ("select", "radio"):
        if comp.get("valuesKey"):  # options from the node (e.g. the office's kelurahan): checked there
            return fields.String(validate=[validate.Length(max=200)], allow_none=not required, **common)
        values = [v.get("value") for v in comp.get("values", [])]
        return fields.Raw(validate=[validate.OneOf(values, error=MSG_CHOICE)], allow_none=not required, **common)
    if kind in ("checklist", "taglist"):
        if comp.get("valuesKey"):  # options come from the case (e.g. the document checklist)
            return fields.List(fields.String(), load_default=list, **common | {"required": False})
        values = [v.get("value") for v in comp.get("values", [])]
        return fields.List(
            fields.Raw(validate=[validate.OneOf(values, error=MSG_CHOICE)]),
            validate=[validate.Length(min=1, error=MSG_REQUIRED)] if required else [],
            **common,
        )
    if kind == "datetime":
        if comp.get("subtype", "date") == "date":
            return _Date(allow_none=not required, **common)
        return fields.String(allow_none=not required, **common)
    return fields.Raw(allow_none=True, **common)


@lru_cache(maxsize=512)
def _schema_cached(form_json: str) -> Schema:
    form = json.loads(form_json)
    spec = {comp["key"]: _field_for(comp) for comp in iter_fields(form)}
    schema_cls = Schema.from_dict(spec, name=f"Form_{form.get('id', 'form')}")
    return schema_cls(unknown=RAISE)


#: id(form) -> (form, schema) for the form dicts seen last; the form is kept so its id stays its own.
_by_identity: dict[int, tuple[dict, Schema]] = {}


def schema_for(form: dict) -> Schema:
    """The marshmallow schema for a form-js schema (cached by content).

    A process version's forms are the same dict objects on every step, so they are looked up
    by identity first, without serialising the form again; callers never mutate a form."""
    hit = _by_identity.get(id(form))
    if hit is not None and hit[0] is form:
        return hit[1]
    schema = _schema_cached(json.dumps(form, sort_keys=True))
    if len(_by_identity) >= 512:
        _by_identity.clear()
    _by_identity[id(form)] = (form, schema)
    return schema


#: ``properties.fill`` of a field the engine fills in itself instead of the clerk typing it
#: (the field is read-only on the page; whatever was posted for it is replaced).
FILL_SIGNED_IN_USER = "signed_in_user"


def filled_keys(form: dict | None) -> dict[str, str]:
    """``{key: fill}`` for the fields of ``form`` that the engine fills in."""
    if not form:
        return {}
    return {c["key"]: fill for c in iter_fields(form) if (fill := (c.get("properties") or {}).get("fill"))}


def fill_from_actor(form: dict | None, data: dict, name: str) -> dict:
    """``data`` with each ``signed_in_user`` field set to the signed-in person's ``name``: the
    verifier's own name is never typed, and cannot be typed as someone else's."""
    keys = [k for k, fill in filled_keys(form).items() if fill == FILL_SIGNED_IN_USER]
    if not keys or not isinstance(data, dict):
        return data
    return {**data, **dict.fromkeys(keys, name)}


def validate_form_data(form: dict | None, data) -> dict:
    """Check submitted values against the form; return them cleaned or raise ValidationFailed.

    Fields that the form does not know are refused (so a typo never silently drops data).
    Checkbox fields left out of a submission are treated as unticked, as a browser sends them.
    A field that the form hides for these values (``conditional.hide``) is not required and
    its value is dropped, as form-js does.
    """
    if not isinstance(data, dict):
        raise InvalidInput("Task data must be a JSON object.")
    if form is None:
        return dict(data)
    data = dict(data)
    hidden = hidden_keys(form, data)
    for key in hidden:  # as form-js: a hidden field is neither required nor kept
        data.pop(key, None)
    for comp in iter_fields(form):
        key, required = comp["key"], bool((comp.get("validate") or {}).get("required"))
        if key in hidden:
            continue
        if comp["type"] == "checkbox" and key not in data:
            data[key] = False
        elif data.get(key) == "" and not required and comp["type"] != "checkbox":
            data[key] = None  # an empty optional input means "no value", as a browser sends it
    try:
        cleaned = schema_for(form).load(data, partial=tuple(hidden) or False)
    except ValidationError as exc:
        errors = {k: (v if isinstance(v, list) else [str(v)]) for k, v in exc.normalized_messages().items()}
        errors = {k: [MSG_UNKNOWN if m == "Unknown field." else m for m in v] for k, v in errors.items()}
        raise ValidationFailed("Some fields need attention.", errors=errors) from exc
    return cleaned


def load_form_file(path: Path) -> dict:
    try:
        form = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInput("Form {path} cannot be read: {error}", path=str(path), error=str(exc)) from exc
    if not isinstance(form, dict) or not isinstance(form.get("components"), list):
        raise InvalidInput("Form {path} is not a form-js schema (no components).", path=str(path))
    return form
