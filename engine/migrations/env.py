"""Alembic environment: migrations run on the connection the engine hands over.

The engine's history uses Base.metadata and the ``alembic_version`` table; a plugin's
history (engine.migrate) is run through this same file with its own version table and
metadata, handed over in ``config.attributes``.
"""

from alembic import context

from simpul.engine.db import Base, load_all_models
from simpul.engine.search import is_search_object

load_all_models()  # every engine/models*.py, so autogenerate sees all tables


def run_migrations_online():
    connection = context.config.attributes.get("connection")
    if connection is None:
        from simpul.engine.db import make_engine

        url = context.config.get_main_option("sqlalchemy.url")
        if not url:
            raise RuntimeError("Alembic was started without a database URL")
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _include_object(obj, name, type_, reflected, compare_to):
    return not is_search_object(name)  # one dialect's search objects, made by scale_0001_search


def _run(connection):
    attributes = context.config.attributes
    version_table = attributes.get("version_table") or "alembic_version"
    context.configure(
        connection=connection,
        target_metadata=attributes.get("target_metadata") if "version_table" in attributes else Base.metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Simpul runs migrations online only (simpul init).")
run_migrations_online()
