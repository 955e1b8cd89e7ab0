"""A fleet, a simulated network and a running station with its kiosk, for the kiosk's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from ewp.local_fleet import FleetStack, start_fleet_stack
from simulators.network import NetworkSimulator
from tests.edge.agent.kiosk.rig import STATION_NUMBERS, KioskRig, kiosk_station
from tests.fleet.web.browser import chromium


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetStack]:
    stack = start_fleet_stack(tmp_path_factory.mktemp("fleet"))
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def netsim() -> Iterator[NetworkSimulator]:
    with NetworkSimulator() as sim:
        yield sim


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def rig(fleet: FleetStack, netsim: NetworkSimulator, tmp_path: Path) -> Iterator[KioskRig]:
    name = f"ct-{next(STATION_NUMBERS)}"
    with kiosk_station(fleet, netsim, tmp_path, station_id=name) as station:
        yield station
