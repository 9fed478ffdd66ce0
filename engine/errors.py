"""Errors the engine API raises.  Each carries a stable ``code`` for the API and a message
template (English msgid, translated through the message catalogue) with its parameters."""

from __future__ import annotations

from typing import Any


class SimpulError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, errors: dict | list | None = None, **params):
        self.template = message
        self.params = params
        #: field -> messages (ValidationFailed), a list of problems (DeployError), or None
        self.errors: Any = errors
        super().__init__(self.render())

    def render(self, gettext=None) -> str:
        template = gettext(self.template) if gettext else self.template
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return template


class InvalidInput(SimpulError):
    """The request itself is wrong (bad JSON, bad BPMN, bad field); nothing was written."""

    code = "invalid_input"
    status = 400


class ValidationFailed(SimpulError):
    """Form data or a local rule refused the values; ``errors`` maps field -> messages."""

    code = "validation_failed"
    status = 422


class NotFound(SimpulError):
    code = "not_found"
    status = 404


class Forbidden(SimpulError):
    code = "forbidden"
    status = 403


class Conflict(SimpulError):
    """The thing changed under the caller (stale task version, second completion)."""

    code = "conflict"
    status = 409


class DeployError(InvalidInput):
    """A process definition cannot be deployed; ``errors`` lists ``{element, message}``."""

    code = "deploy_failed"


class PluginError(SimpulError):
    code = "plugin_error"
    status = 500
