"""Errors the engine API raises.  Each carries a stable ``code`` for the API and a message
template (English msgid, translated through the message catalogue) with its parameters."""

from __future__ import annotations


class SimpulError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, *, errors: dict | list | None = None, **params):
        self.template = message
        self.params = params
        self.errors = errors
        super().__init__(self.render())

    def render(self, gettext=None, *, catalogue=None) -> str:
        """The message; with ``gettext`` (or a ``catalogue``, a translations object, which also
        chooses plural forms), translated, and so are parameters that are a ``Message`` (a
        word of the catalogue or a problem's own message, not a name or a number)."""
        from .i18n import Message, render

        if catalogue is not None:
            gettext = catalogue.gettext
        template = gettext(self.template) if gettext else self.template
        params = dict(self.params)
        for key, value in params.items():
            if isinstance(value, Message) and catalogue is not None:
                params[key] = render(value, catalogue)
            elif isinstance(value, Message) and gettext:
                params[key] = value.format_with(gettext)
        try:
            return template.format(**params)
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
    errors: dict


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
