"""Flask extensions shared by the app factory and the blueprints."""

from __future__ import annotations

from flask import current_app, g, has_app_context
from flask_babel import Babel, Domain, get_locale
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from simpul.engine import Base


class _RuntimeSQLAlchemy(SQLAlchemy):
    """Flask-SQLAlchemy on the engine's declarative base and on the runtime's own engine
    (one connection pool, with the SQLite durability pragmas), never a second one."""

    def _make_engine(self, bind_key, options, app):
        runtime = app.extensions["simpul"].runtime
        return runtime.db.engine


db = _RuntimeSQLAlchemy(model_class=Base)


class _EngineCatalogues(Domain):
    """Flask-Babel's domain reading the engine's catalogues (``simpul.engine.i18n``): the
    pages, the API, the CLI and the plugins translate through one and the same chain.

    Flask-Babel's own loader merges the directories of ``BABEL_TRANSLATION_DIRECTORIES`` into
    one catalogue and gives it the plural rule of the *last* directory (a plugin without a
    compiled catalogue for the locale gave it English's), and it reads compiled ``.mo`` files
    only (a plugin installed from source ships its ``.po``).  Both turned an Indonesian page
    English once a regency plugin was installed."""

    def get_translations(self):
        from babel.support import NullTranslations

        from simpul.engine.i18n import translations_for

        if not has_app_context():
            return NullTranslations()
        runtime = current_app.extensions["simpul"].runtime
        locale = str(get_locale() or runtime.config.locale)
        cached = g.get("_simpul_catalogue")
        if cached is None or cached[0] != locale:  # asked for at every string: once per request
            cached = g._simpul_catalogue = (locale, translations_for(locale, runtime.translation_dirs()))
        return cached[1]


class _Babel(Babel):
    @property
    def domain_instance(self):
        return _DOMAIN


_DOMAIN = _EngineCatalogues()
babel = _Babel()
csrf = CSRFProtect()


def runtime():
    """The engine runtime this app runs on."""
    return current_app.extensions["simpul"].runtime
