"""Alembic environment: migrations run on the connection the engine hands over."""

from alembic import context

from simpul.engine.db import Base, load_all_models
from simpul.engine.search import is_search_object

load_all_models()  # every engine/models*.py, so autogenerate sees all tables

target_metadata = Base.metadata


def run_migrations_online():
    connection = context.config.attributes.get("connection")
    if connection is None:
        from simpul.engine.db import make_engine

        engine = make_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
    else:
        _run(connection)


def _include_object(obj, name, type_, reflected, compare_to):
    return not is_search_object(name)  # one dialect's search objects, made by scale_0001_search


def _run(connection):
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=_include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Simpul runs migrations online only (simpul init).")
run_migrations_online()
