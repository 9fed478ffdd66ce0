"""Fixtures: a fresh Simpul node per test, on SQLite and on PostgreSQL.

PostgreSQL is required in CI (``CI=true``) and where ``SIMPUL_REQUIRE_POSTGRES=1``; on a
newcomer's machine without it those tests are skipped with the reason.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from simpul.engine import Config, Runtime, directory
from simpul.engine.migrate import upgrade

from . import regency_plugin  # noqa: F401  (the Kutai Kartanegara plugin, installed for every test)

PG_ADMIN_URL = os.environ.get("SIMPUL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("SIMPUL_REQUIRE_POSTGRES") == "1"
OFFICE, REGENCY = "640205", "6402"
OTHER_OFFICE = "640206"

_pg_state: dict = {}


def _postgres_available() -> str | None:
    if "reason" not in _pg_state:
        try:
            engine = sa.create_engine(PG_ADMIN_URL)
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_state["reason"] = None
        except Exception as exc:  # pragma: no cover - depends on the machine
            _pg_state["reason"] = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.__class__.__name__}"
    return _pg_state["reason"]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "db" in getattr(item, "fixturenames", ()) and "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.postgresql)


def pytest_configure(config):
    config.addinivalue_line("markers", "postgresql: runs against PostgreSQL")


def pytest_terminal_summary(terminalreporter):
    passed = [r for r in terminalreporter.stats.get("passed", []) if "[postgresql" in r.nodeid]
    terminalreporter.write_line(f"simpul: {len(passed)} PostgreSQL test(s) passed")
    shots = Path(__file__).resolve().parents[1] / "test-artifacts"
    if shots.is_dir() and any(shots.glob("*.png")):
        terminalreporter.write_line(f"simpul: screenshots of the browser tests in {shots}")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One migrated SQLite file, copied for each test (migrations run once per session)."""
    path = tmp_path_factory.mktemp("template") / "simpul.db"
    rt = Runtime(Config(instance_path=path.parent, database_url=f"sqlite:///{path}"))
    upgrade(rt)
    rt.close()
    return path


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL cannot be reached."""
    reason = _postgres_available()
    if reason:
        if REQUIRE_PG:
            pytest.fail(f"{reason} -- PostgreSQL is required here (CI)")
        pytest.skip(reason)


@contextmanager
def migrated_pg_databases(*labels: str):
    """Throw-away PostgreSQL databases, migrated, one per label; dropped afterwards."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"simpul_test_{uuid.uuid4().hex[:10]}_{label}" for label in labels]
    try:
        urls = []
        for name in names:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            rt = Runtime(Config(database_url=url))
            upgrade(rt)
            rt.close()
            urls.append(url)
        yield tuple(urls)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database():
    """A throw-away PostgreSQL database for this session, migrated once."""
    require_postgres()
    with migrated_pg_databases("node") as (url,):
        yield url


def _truncate(url):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        # every table, the plugins' own included, but not the migration histories
        tables = [t for t in sa.inspect(conn).get_table_names() if not t.startswith("alembic_version")]
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """The database URL of a fresh, migrated, empty database of each kind."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "simpul.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_db(request, tmp_path):
    """An empty database of each kind (SQLite unmigrated; PostgreSQL migrated) that only this
    test uses: for tests that add tables or rewrite the migration history."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'own.db'}"
        return
    require_postgres()
    with migrated_pg_databases("mig") as (url,):
        yield url


@pytest.fixture
def sqlite_db(tmp_path, sqlite_template):
    path = tmp_path / "simpul.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


#: ``SIMPUL_PLUGINS`` blocking every installed (entry-point) plugin, e.g. a regency's one: for
#: tests of the national baseline, which such a plugin changes on purpose (the suite runs with
#: the Kutai Kartanegara plugin installed: tests/regency_plugin.py).  Empty when none is installed.
INSTALLED_PLUGINS_BLOCKED = ",".join(sorted(f"-{ep.name}" for ep in importlib.metadata.entry_points(group="simpul")))


def make_runtime(url, tmp_path, extra_plugins=(), **overrides) -> Runtime:
    settings = dict(
        instance_path=tmp_path / "instance",
        database_url=url,
        office_code=OFFICE,
        regency_code=REGENCY,
        job_backoff_seconds=0.01,
    )
    settings.update(overrides)
    return Runtime(Config(**settings), extra_plugins=extra_plugins)


def seed_offices(rt):
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        directory.ensure_office(s, OFFICE, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
        directory.ensure_office(s, OTHER_OFFICE, "Kecamatan Muara Jawa", "kecamatan", parent_code=REGENCY)
        directory.create_user(s, "operator", "Siti", OFFICE, ["operator"])
        directory.create_user(s, "operator2", "Andi", OFFICE, ["operator"])
        directory.create_user(s, "verifier", "Budi", OFFICE, ["verifier"])
        directory.create_user(s, "camat", "Camat", OFFICE, ["supervisor", "operator", "verifier"])
        directory.create_user(s, "other", "Clerk of Muara Jawa", OTHER_OFFICE, ["operator", "verifier", "supervisor"])
        directory.create_user(s, "disdukcapil", "Petugas", REGENCY, ["regency_officer"])
        for i in range(8):
            directory.create_user(s, f"op{i}", f"Operator {i}", OFFICE, ["operator"])


@pytest.fixture
def runtime(db, tmp_path, request):
    """A node with the offices and users seeded and the bundled processes deployed.  A test
    marked ``national_checklist`` gets it without installed (regency) plugins."""
    from simpul.engine import deploy_bundled

    national = request.node.get_closest_marker("national_checklist") is not None
    rt = make_runtime(db, tmp_path, **({"plugins": INSTALLED_PLUGINS_BLOCKED} if national else {}))
    seed_offices(rt)
    deploy_bundled(rt, deployed_by="test")
    yield rt
    rt.close()


@pytest.fixture
def bare_runtime(db, tmp_path):
    """A node with offices and users but no processes deployed."""
    rt = make_runtime(db, tmp_path)
    seed_offices(rt)
    yield rt
    rt.close()
