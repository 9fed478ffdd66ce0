"""Message catalogues shared by the engine, the CLI, the web app and the built-in plugins.

Msgids are English; the Indonesian catalogue (the default locale) and any other live in
``translations/``.  Plugins may add catalogue directories through the
``simpul_translation_dirs`` hook.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from .resources import TRANSLATIONS_DIR

DOMAIN = "messages"
LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


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
    result = load_catalogue(str(TRANSLATIONS_DIR), locale)
    for directory in extra_dirs:
        more = load_catalogue(directory, locale)
        if isinstance(result, Translations) and isinstance(more, Translations):
            result.merge(more)
        elif not isinstance(result, Translations):
            result = more
    return result


def gettext_for(locale: str = DEFAULT_LOCALE, extra_dirs=()):
    return translations(locale, tuple(str(Path(d)) for d in extra_dirs)).gettext
