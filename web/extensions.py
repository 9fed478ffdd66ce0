"""Flask extensions shared by the app factory and the blueprints."""

from __future__ import annotations

from flask import current_app
from flask_babel import Babel
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
babel = Babel()
csrf = CSRFProtect()


def runtime():
    """The engine runtime this app runs on."""
    return current_app.extensions["simpul"].runtime
