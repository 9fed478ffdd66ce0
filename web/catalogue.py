"""Messages shown by the web app that are not marked where they are written: the engine's
per-field messages written inline, and marshmallow's defaults in API validation errors.
Listed here with N_() so that extraction puts them in the catalogue (translations/).

marshmallow formats its validators' messages itself; Simpul's validators
(``simpul.engine.validators``) hand it ``Message`` templates, so those arrive with their msgid
and parameters like every other message (nothing is matched back from English text).
"""

from simpul.engine.i18n import N_

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
