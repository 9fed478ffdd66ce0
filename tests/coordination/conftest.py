"""Two real office nodes: a kecamatan and its regency, each with its own database and its own
HTTP server on a loopback port, linked through a proxy that can play a bad link."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

import pytest

from simpul.engine import Config, Runtime, deploy_bundled, directory
from simpul.plugins.coordination.web import make_inbox_app, serve
from tests.conftest import OFFICE, REGENCY, _truncate, migrated_pg_databases, require_postgres

from .proxy import Proxy

SECRET = "a-secret-the-kecamatan-and-the-regency-share"


@pytest.fixture(scope="session")
def pg_pair():
    """Two throw-away PostgreSQL databases for this session, migrated once."""
    require_postgres()
    with migrated_pg_databases("kec", "reg") as urls:
        yield urls


@pytest.fixture(params=["sqlite", "postgresql"])
def two_dbs(request, tmp_path):
    """Database URLs of two fresh, migrated, empty databases of each kind."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_dbs")
    urls = request.getfixturevalue("pg_pair")
    for url in urls:
        _truncate(url)
    return urls


@pytest.fixture
def sqlite_dbs(tmp_path, sqlite_template):
    urls = []
    for side in ("kecamatan", "regency"):
        path = tmp_path / f"{side}.db"
        shutil.copy(sqlite_template, path)
        urls.append(f"sqlite:///{path}")
    return tuple(urls)


@dataclass
class Node:
    name: str
    runtime: Runtime
    server: object
    proxy: Proxy  # the way the OTHER node reaches this one
    office: str

    @property
    def url(self):
        return self.server.url

    def stop_server(self):
        self.server.shutdown()

    def start_server(self):
        """Serve again (a restarted node) on a new port; the proxy follows it."""
        self.server = serve(make_inbox_app(self.runtime))
        self.proxy.retarget(self.server.port)


@dataclass
class Nodes:
    kecamatan: Node
    regency: Node
    extra: list = field(default_factory=list)

    def link(self, mode: str):
        """Set both directions of the link: pass, down, blackhole, drop_response."""
        self.kecamatan.proxy.set_mode(mode)
        self.regency.proxy.set_mode(mode)

    def close(self):
        for node in (self.kecamatan, self.regency):
            node.proxy.close()
            try:
                node.server.shutdown()
            except Exception:
                pass
            node.runtime.close()


def node_config(url, tmp_path, name, office, kind, peers, **extra_settings) -> Config:
    settings = {
        "coordination": {
            "peers": peers,
            "retry_max_seconds": 0.2,
            "read_timeout": 10.0,
            "connect_timeout": 2.0,
            **extra_settings.pop("coordination", {}),
        }
    }
    settings.update(extra_settings)
    return Config(
        instance_path=tmp_path / name,
        database_url=url,
        office_code=office,
        office_kind=kind,
        office_name=name,
        regency_code=REGENCY,
        job_backoff_seconds=0.01,
        settings=settings,
    )


def seed_kecamatan(rt):
    with rt.transaction() as uow:
        s = uow.session
        # as ``simpul init`` does on a kecamatan node: the regency is known by name only
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        directory.ensure_office(s, OFFICE, "Kecamatan Sangasanga", "kecamatan", parent_code=REGENCY)
        directory.create_user(s, "operator", "Siti", OFFICE, ["operator"])
        directory.create_user(s, "verifier", "Budi", OFFICE, ["verifier"])
        directory.create_user(s, "camat", "Camat", OFFICE, ["supervisor", "operator", "verifier"])
    deploy_bundled(rt, deployed_by="test")


def seed_regency(rt):
    with rt.transaction() as uow:
        s = uow.session
        directory.ensure_office(s, REGENCY, "Disdukcapil Kutai Kartanegara", "regency")
        directory.create_user(s, "disdukcapil", "Petugas", REGENCY, ["regency_officer"])
    deploy_bundled(rt, deployed_by="test")


def build_nodes(urls, tmp_path, *, secret=SECRET, kecamatan_settings=None, regency_settings=None) -> Nodes:
    kec_url, reg_url = urls
    # The proxies exist first: each node's peer address is the proxy in front of the other.
    to_regency, to_kecamatan = Proxy(1), Proxy(1)
    kec_rt = Runtime(
        node_config(
            kec_url,
            tmp_path,
            "kecamatan",
            OFFICE,
            "kecamatan",
            {REGENCY: {"url": to_regency.url, "secret": secret}},
            **(kecamatan_settings or {}),
        )
    )
    reg_rt = Runtime(
        node_config(
            reg_url,
            tmp_path,
            "regency",
            REGENCY,
            "regency",
            {OFFICE: {"url": to_kecamatan.url, "secret": secret}},
            **(regency_settings or {}),
        )
    )
    seed_kecamatan(kec_rt)
    seed_regency(reg_rt)
    kec_server, reg_server = serve(make_inbox_app(kec_rt)), serve(make_inbox_app(reg_rt))
    to_regency.retarget(reg_server.port)
    to_kecamatan.retarget(kec_server.port)
    return Nodes(
        Node("kecamatan", kec_rt, kec_server, to_kecamatan, OFFICE),
        Node("regency", reg_rt, reg_server, to_regency, REGENCY),
    )


@pytest.fixture
def nodes(two_dbs, tmp_path):
    pair = build_nodes(two_dbs, tmp_path)
    yield pair
    pair.close()


@pytest.fixture
def sqlite_nodes(sqlite_dbs, tmp_path):
    pair = build_nodes(sqlite_dbs, tmp_path)
    yield pair
    pair.close()
