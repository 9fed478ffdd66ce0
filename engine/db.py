"""Database engine and transactions.

SQLite is the embedded default: WAL so readers never wait for the writer, ``synchronous=FULL``
so a power cut after a commit loses nothing, foreign keys on, and write transactions that
take the write lock at BEGIN (``BEGIN IMMEDIATE``) so two writers never deadlock on a lock
upgrade.  PostgreSQL is used as is; the engine takes row locks (``FOR UPDATE``) itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from sqlalchemy import Table, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Base(DeclarativeBase):
    """The declarative base of every Simpul table (web wraps it with Flask-SQLAlchemy)."""

    #: every Simpul model maps one Table (SQLAlchemy declares the wider FromClause), so Core
    #: statements built from ``Model.__table__`` type-check.
    __table__: ClassVar[Table]


def load_all_models() -> None:
    """Import every ``engine/models*.py`` so Base.metadata knows all tables (Alembic, tests)."""
    import importlib
    import pkgutil

    from simpul import engine

    for module in pkgutil.iter_modules(engine.__path__):
        if module.name == "models" or module.name.startswith("models_"):
            importlib.import_module(f"simpul.engine.{module.name}")


def _install_sqlite_pragmas(engine: Engine) -> None:
    if getattr(engine, "_simpul_pragmas", False):
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        mode = conn.get_execution_options().get("simpul_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    engine._simpul_pragmas = True  # type: ignore[attr-defined]  # marks an engine already set up


def make_engine(url: str, **kwargs) -> Engine:
    """Create the SQLAlchemy engine for ``url`` with Simpul's durability settings."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    else:
        kwargs.setdefault("pool_pre_ping", True)
    engine = create_engine(url, **kwargs)
    configure_engine(engine)
    return engine


def configure_engine(engine: Engine) -> None:
    """Apply the SQLite settings to an engine made elsewhere (e.g. by Flask-SQLAlchemy)."""
    if engine.dialect.name == "sqlite":
        _install_sqlite_pragmas(engine)


_AFTER_COMMIT = "simpul_after_commit"


def after_commit(session: Session, callback) -> None:
    """Run ``callback`` once ``session``'s transaction has committed (never on a rollback)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Database:
    """Session factories: ``write()`` for a unit of work, ``read()`` for queries."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        writer = engine.execution_options(simpul_begin="IMMEDIATE") if self.dialect == "sqlite" else engine
        self._write_sessions = sessionmaker(bind=writer, expire_on_commit=False)
        self._read_sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: commit on success, roll back on any error."""
        session = self._write_sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            callbacks = session.info.pop(_AFTER_COMMIT, ())
            session.close()
        for callback in callbacks:
            callback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self._read_sessions()
        try:
            yield session
        finally:
            session.close()  # ends the transaction; loaded objects stay readable

    def for_update(self, stmt):
        """Add a row lock where the database has one (SQLite's write lock already serialises)."""
        return stmt.with_for_update() if self.dialect == "postgresql" else stmt

    def skip_locked(self, stmt):
        return stmt.with_for_update(skip_locked=True) if self.dialect == "postgresql" else stmt
