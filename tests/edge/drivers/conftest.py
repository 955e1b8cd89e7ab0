"""A simulated fingerprint sensor and the driver on it, over TCP and over a pty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import serial

from edge.drivers.fingerprint_r30x import FingerprintSensor
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)


@dataclass
class Rig:
    """A running simulator (``sim.sensor`` is its control object) and a driver on its port."""

    sim: RunningFingerprintSimulator
    port: Any  # a pyserial port
    sensor: FingerprintSensor
    transport: str


RigFactory = Callable[..., Rig]


@pytest.fixture(params=["tcp", "pty"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_rig(transport: str, tmp_path: Path) -> Iterator[RigFactory]:
    """Start a simulator with some settings and open a driver on it (closed at the end)."""
    rigs: list[Rig] = []

    def make(
        *,
        driver_password: int = 0,
        driver_address: int = 0xFFFFFFFF,
        timeout: float = 0.5,
        library: Path | None = None,
        **config: Any,
    ) -> Rig:
        """``config`` goes to the simulator's SensorConfig; the rest to the driver."""
        config.setdefault("library", library or tmp_path / f"library-{len(rigs)}.json")
        sim = start_fingerprint_simulator(SensorConfig(**config), transport=transport)  # type: ignore[arg-type]
        port = serial.serial_for_url(sim.url, baudrate=config.get("baudrate", 57600), timeout=0.05)
        rig = Rig(
            sim,
            port,
            FingerprintSensor(
                port, password=driver_password, address=driver_address, timeout=timeout
            ),
            transport,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.port.close()
        rig.sim.stop()


@pytest.fixture
def rig(make_rig: RigFactory) -> Rig:
    return make_rig()
