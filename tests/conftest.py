"""Fixtures shared by the whole suite: a real Mosquitto with authentication and ACLs on, and
the fleet store on both backends (SQLite, and PostgreSQL in a throwaway cluster)."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ewp.local_fleet import FleetStack, start_fleet_stack
from ewp.local_postgres import PostgresCluster
from fleet.broker.mosquitto import (
    BrokerAccounts,
    MosquittoProcess,
    TlsListener,
    free_port,
    write_broker_config,
)
from fleet.store.db import make_engine, migrate
from fleet.tls import TlsFiles, create_fleet_tls
from mqtt_session import BrokerAddress
from simulators.fake_iddk2000 import FakeIddk

BACKENDS = ("sqlite", "postgresql")
TEMPLATE_DB = "ewp_template"


def pytest_configure(config: pytest.Config) -> None:
    """Compile the gettext catalogs whose .mo is missing or older than its .po (as `make
    catalogs` does), so a bare `pytest` after a pull reads the catalogs in the tree."""
    from ewp.catalogs import compile_all

    compile_all()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("all", *BACKENDS),
        default="all",
        help="run the store tests on this backend only (default: both)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = config.getoption("--db")
    if chosen == "all":
        return
    keep, drop = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("database_url") if callspec is not None else None
        (drop if backend is not None and backend != chosen else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@dataclass
class Postgres:
    """One cluster per test session (per xdist worker), with a migrated template database."""

    cluster: PostgresCluster
    names: Iterator[int]

    def fresh_database(self, *, migrated: bool = True) -> tuple[str, str]:
        """A new database of its own for one test: its name and URL."""
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        name = f"t_{worker}_{next(self.names)}"
        url = self.cluster.create_database(name, template=TEMPLATE_DB if migrated else None)
        return name, url


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """PostgreSQL started with initdb in a temporary directory (as the postgres user when we
    are root), on a free port of 127.0.0.1; stopped and removed when the session ends."""
    cluster = PostgresCluster().start()
    try:
        engine = make_engine(cluster.create_database(TEMPLATE_DB))
        migrate(engine)
        engine.dispose()
        yield Postgres(cluster, itertools.count(1))
    finally:
        cluster.stop()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The fleet store of one test, migrated to the newest schema: a SQLite file, or a
    PostgreSQL database of its own (a copy of the migrated template)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fleet.sqlite'}"
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url
        return
    server: Postgres = request.getfixturevalue("postgres")
    name, url = server.fresh_database()
    try:
        yield url
    finally:
        server.cluster.drop_database(name)


@dataclass
class Broker:
    host: str
    port: int
    accounts: BrokerAccounts
    process: MosquittoProcess
    directory: Path
    tls_port: int
    tls_files: TlsFiles

    @property
    def url(self) -> str:
        """The plaintext listener (loopback only), as the fleet's own processes use it."""
        return f"mqtt://{self.host}:{self.port}"

    @property
    def address(self) -> BrokerAddress:
        return BrokerAddress.from_url(self.url)

    @property
    def tls_url(self) -> str:
        """The TLS listener, as stations use it (certificate for localhost and 127.0.0.1)."""
        return f"mqtts://localhost:{self.tls_port}"

    @property
    def ca_file(self) -> Path:
        return self.tls_files.ca_file


def make_test_tls(directory: Path) -> TlsFiles:
    """A throwaway fleet CA and a server certificate for this machine's loopback names."""
    return create_fleet_tls(directory, ["localhost", "127.0.0.1"])


def start_broker(directory: Path, tls_files: TlsFiles | None = None) -> Broker:
    accounts = BrokerAccounts(
        admin_username="ewp-broker-admin",
        admin_password=secrets.token_urlsafe(24),
        service_username="ewp-fleet",
        service_password=secrets.token_urlsafe(24),
    )
    host, port, tls_port = "127.0.0.1", free_port(), free_port()
    tls_files = tls_files or make_test_tls(directory / "tls")
    conf = write_broker_config(
        directory,
        host=host,
        port=port,
        accounts=accounts,
        tls=TlsListener("127.0.0.1", tls_port, tls_files),
    )
    process = MosquittoProcess(conf, host, port)
    process.start()
    return Broker(host, port, accounts, process, directory, tls_port, tls_files)


@pytest.fixture(scope="session")
def test_tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One test CA and server certificate per test session (per xdist worker)."""
    return make_test_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def broker(tmp_path: Path, test_tls: TlsFiles) -> Iterator[Broker]:
    """A fresh Mosquitto on free ports, its own config, auth and dynamic-security ACLs on:
    a plaintext listener on 127.0.0.1 and a TLS listener with the test CA's certificate."""
    handle = start_broker(tmp_path / "broker", test_tls)
    try:
        yield handle
    finally:
        handle.process.stop()


@pytest.fixture
def fleet_stack(tmp_path: Path) -> Iterator[FleetStack]:
    """Broker + fleet service (HTTP and one ingest worker) for end-to-end tests."""
    stack = start_fleet_stack(tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def fake_iddk_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fake libIddk2000.so, compiled from simulators/fake_iddk2000.c with the system cc."""
    from simulators.fake_iddk2000 import build_fake_iddk

    return build_fake_iddk(tmp_path_factory.mktemp("fake-iddk"))


@pytest.fixture
def fake_iddk(fake_iddk_library: Path) -> Iterator[FakeIddk]:
    """The fake camera, reset: plugged, binocular, both eyes good, fast timing."""
    fake = FakeIddk(fake_iddk_library)
    fake.reset()
    yield fake
    fake.reset()
