"""Fixtures shared by the whole suite: a real Mosquitto with authentication and ACLs on."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ewp.local_fleet import FleetStack, start_fleet_stack
from fleet.broker.mosquitto import BrokerAccounts, MosquittoProcess, free_port, write_broker_config


@dataclass
class Broker:
    host: str
    port: int
    accounts: BrokerAccounts
    process: MosquittoProcess
    directory: Path

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"


def start_broker(directory: Path) -> Broker:
    accounts = BrokerAccounts(
        admin_username="ewp-broker-admin",
        admin_password=secrets.token_urlsafe(24),
        service_username="ewp-fleet",
        service_password=secrets.token_urlsafe(24),
    )
    host, port = "127.0.0.1", free_port()
    conf = write_broker_config(directory, host=host, port=port, accounts=accounts)
    process = MosquittoProcess(conf, host, port)
    process.start()
    return Broker(host, port, accounts, process, directory)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """A fresh Mosquitto on a free port, its own config, auth and dynamic-security ACLs on."""
    handle = start_broker(tmp_path / "broker")
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
