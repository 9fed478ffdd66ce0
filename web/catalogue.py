"""Messages shown by the web app that are not marked where they are written: the engine's
per-field messages written inline, and marshmallow's defaults in API validation errors.
Listed here with N_() so that extraction puts them in the catalogue (translations/).

A message formatted before it reaches the web app ("Must be one of: mine, roles, office.")
is matched against these templates by web.i18n.translate_message.
"""

from simpul.engine import N_

ENGINE_FIELD_MESSAGES = (
    N_("A NIK is 16 digits."),
    N_("This field is required."),
    N_("Write why the requirement is overridden."),
)

MARSHMALLOW_MESSAGES = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Not a valid string."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Not a valid boolean."),
    N_("Not a valid mapping type."),
    N_("Not a valid list."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Must be one of: {choices}."),
    N_("Must be greater than or equal to {min}."),
    N_("Must be less than or equal to {max}."),
    N_("Must be greater than or equal to {min} and less than or equal to {max}."),
    N_("Shorter than minimum length {min}."),
    N_("Longer than maximum length {max}."),
    N_("Length must be between {min} and {max}."),
)

#: Words the engine passes as parameters ("{what} not found.").
PARAMETER_WORDS = (
    N_("Case"),
    N_("Task"),
    N_("Document"),
)
