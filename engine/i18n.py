"""Message catalogues shared by the engine, the CLI, the web app and the built-in plugins.

Msgids are English; the Indonesian catalogue (the default locale) and any other live in
``translations/``.  Plugins may add catalogue directories through the
``simpul_translation_dirs`` hook.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from .config import PROJECT_ROOT

TRANSLATIONS_DIR = PROJECT_ROOT / "translations"
DOMAIN = "messages"
LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@lru_cache(maxsize=16)
def translations(locale: str, extra_dirs: tuple[str, ...] = ()) -> NullTranslations:
    result = Translations.load(str(TRANSLATIONS_DIR), [locale], DOMAIN)
    for directory in extra_dirs:
        more = Translations.load(directory, [locale], DOMAIN)
        if isinstance(result, Translations) and isinstance(more, Translations):
            result.merge(more)
        elif not isinstance(result, Translations):
            result = more
    return result


def gettext_for(locale: str = DEFAULT_LOCALE, extra_dirs=()):
    return translations(locale, tuple(str(Path(d)) for d in extra_dirs)).gettext
