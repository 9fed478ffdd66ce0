"""Message catalogues and the message contract shared by the engine, the CLI, the web app and
the plugins.

Msgids are English; the Indonesian catalogue (the default locale) and any other live in
``translations/``.  Plugins add catalogue directories through the ``translation_dirs`` hook.

**The message contract.**  Everything user-facing that the engine or a plugin hands over --
an error, a hook's validation message, a checklist label -- is a msgid (an English template
with ``{name}`` placeholders) plus its parameters, never text already formatted: a
:class:`Message`, or a plain ``str`` msgid when there is nothing to fill in.  It is
translated only where it is shown (the web app: the request's locale; the CLI: the node's),
with :func:`render`.

**Catalogues of plugins.**  The core catalogue answers first; a plugin's catalogue is its
fallback, consulted only for msgids the core does not translate, and with its own
``Plural-Forms`` -- so installing a plugin never changes how a core string is translated,
and a plugin's plural entries are chosen by the plugin catalogue's own plural rule.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations

from .resources import TRANSLATIONS_DIR

DOMAIN = "messages"
LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def _format(template: str, params: dict) -> str:
    if not params:
        return template
    try:
        return template.format(**params)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


class Message(str):
    """A user-facing message: a msgid template and its parameters, translated where shown.

    ``Message("A NIK has 16 digits; this one has {count}.", count=15)``;
    ``Message.plural("{n} document is missing.", "{n} documents are missing.", n)`` for a
    message with a count (the catalogue's plural forms choose the sentence; ``n`` is a
    parameter too).  A parameter that is itself a ``Message`` (a document's label, a word of
    the catalogue) is translated with the message; any other value (a name, a number, a NIK)
    is shown as it is.

    As a ``str`` it is the English text, so code that only logs or compares messages keeps
    working; :func:`render` gives it in a language.  ``format(**params)`` returns a new
    ``Message`` with those parameters, so a ``Message`` without parameters can serve as a
    template for libraries that format their own error messages (marshmallow's validators).
    """

    msgid: str
    msgid_plural: str | None
    n: int | None
    params: dict

    def __new__(cls, msgid: str, /, **params):
        return cls._make(str(msgid), None, None, params)

    @classmethod
    def plural(cls, singular: str, plural: str, n: int, /, **params) -> Message:
        return cls._make(str(singular), str(plural), int(n), {"n": n, **params})

    @classmethod
    def _make(cls, msgid, msgid_plural, n, params) -> Message:
        template = msgid if msgid_plural is None or n == 1 else msgid_plural
        self = super().__new__(cls, _format(template, params))
        self.msgid, self.msgid_plural, self.n, self.params = msgid, msgid_plural, n, dict(params)
        return self

    def format(self, *args, **params) -> Message:  # noqa: A003 - str.format, returning a Message
        return type(self)._make(self.msgid, self.msgid_plural, self.n, {**self.params, **params})

    def __reduce__(self):
        return (type(self)._make, (self.msgid, self.msgid_plural, self.n, self.params))

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def render(self, catalogue) -> str:
        """The message in the language of ``catalogue`` (a ``gettext`` translations object)."""
        if self.msgid_plural is not None:
            template = catalogue.ngettext(self.msgid, self.msgid_plural, self.n)
        else:
            template = catalogue.gettext(self.msgid)
        return _format(
            template, {k: render(v, catalogue) if isinstance(v, Message) else v for k, v in self.params.items()}
        )

    def format_with(self, gettext) -> str:
        """The message translated by a bare ``gettext`` function (no plural rule: a plural
        message then takes the English choice of sentence, translated)."""
        template = self.msgid if self.msgid_plural is None or self.n == 1 else self.msgid_plural
        return _format(gettext(template), self.params)

    def to_dict(self) -> dict:
        """The JSON form (``{"msgid", "params"}`` and, with a count, ``"msgid_plural"``, ``"n"``)."""
        out: dict[str, Any] = {
            "msgid": self.msgid,
            "params": {k: v.to_dict() if isinstance(v, Message) else v for k, v in self.params.items()},
        }
        if self.msgid_plural is not None:
            out.update(msgid_plural=self.msgid_plural, n=self.n)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Message:
        params = {
            k: cls.from_dict(v) if isinstance(v, dict) and "msgid" in v else v
            for k, v in (data.get("params") or {}).items()
        }
        msgid = data.get("msgid") or data.get("message") or ""
        if data.get("msgid_plural") is not None:
            return cls._make(msgid, data["msgid_plural"], int(data.get("n") or 0), params)
        return cls._make(msgid, None, None, params)


def render(message, catalogue) -> str:
    """A message in the language of ``catalogue``: a :class:`Message` with its parameters, a
    plain ``str`` as a msgid (the text itself when the catalogue does not know it)."""
    if isinstance(message, Message):
        return message.render(catalogue)
    if isinstance(message, dict) and ("msgid" in message or "message" in message):
        return Message.from_dict(message).render(catalogue)
    if isinstance(message, str):
        return catalogue.gettext(message) if message else message
    return str(message)


def load_catalogue(directory: str, locale: str) -> NullTranslations:
    """A catalogue from ``<dir>/<locale>/LC_MESSAGES/messages.mo``, or from the ``.po`` when
    no ``.mo`` was compiled (a plugin installed from source ships only its ``.po``)."""
    folder = Path(directory) / locale / "LC_MESSAGES"
    if (folder / f"{DOMAIN}.mo").is_file() or not (folder / f"{DOMAIN}.po").is_file():
        return Translations.load(directory, [locale], DOMAIN)
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with open(folder / f"{DOMAIN}.po", "rb") as fh:
        catalog = read_po(fh, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=DOMAIN)


@lru_cache(maxsize=16)
def translations(locale: str, extra_dirs: tuple[str, ...] = ()) -> NullTranslations:
    """The core catalogue of ``locale`` with each plugin catalogue of ``extra_dirs`` chained
    behind it as a fallback (see the module's docstring).

    Catalogues are not merged into one: a merged catalogue has a single plural rule, and
    whichever catalogue supplied it would decide the plural forms of every other one (that
    is how installing a regency plugin once turned every Indonesian plural English)."""
    result = load_catalogue(str(TRANSLATIONS_DIR), locale)
    if not isinstance(result, Translations):  # no core catalogue for this locale: msgids as they are
        result = Translations()
    for directory in extra_dirs:
        more = load_catalogue(directory, locale)
        if isinstance(more, Translations):
            result.add_fallback(more)
    return result


def translations_for(locale: str | None = None, extra_dirs=()) -> NullTranslations:
    locale = locale if locale in LOCALES else DEFAULT_LOCALE
    return translations(locale, tuple(str(Path(d)) for d in extra_dirs))


def gettext_for(locale: str = DEFAULT_LOCALE, extra_dirs=()):
    return translations_for(locale, extra_dirs).gettext
