"""marshmallow validators whose messages keep their msgid and parameters.

marshmallow formats its validators' messages itself ("Must be one of: mine, roles.").  These
subclasses give it :class:`~simpul.engine.i18n.Message` templates instead of plain strings,
so the error it raises is a ``Message`` that is translated where it is shown, like every other
message (see ``simpul.engine.i18n``).  Use them instead of ``marshmallow.validate``'s.
"""

from __future__ import annotations

from marshmallow import validate

from .i18n import Message


class OneOf(validate.OneOf):
    default_message = Message("Must be one of: {choices}.")


class Length(validate.Length):
    message_min = Message("Shorter than minimum length {min}.")
    message_max = Message("Longer than maximum length {max}.")
    message_all = Message("Length must be between {min} and {max}.")


class Range(validate.Range):
    """Inclusive bounds only (the only ones Simpul's forms and API use)."""

    def __init__(self, min=None, max=None, *, error=None):  # noqa: A002 - marshmallow's names
        super().__init__(min=min, max=max, error=error)
        self.message_min = Message("Must be greater than or equal to {min}.")
        self.message_max = Message("Must be less than or equal to {max}.")
        self.message_all = Message("Must be greater than or equal to {min} and less than or equal to {max}.")
