"""Simulated devices and the drivers on them, over TCP and over a pty."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import pytest
import serial

from edge.drivers.fingerprint_r30x import FingerprintSensor
from edge.drivers.iris_camera import IrisCamera
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)
from simulators.iris import FAST_TIMING, CameraConfig, RunningIrisSimulator, start_iris_simulator


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
        timeout: float = 2.0,  # generous: a loaded CI machine answers late
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


# --- the iris camera ---------------------------------------------------------------------


@dataclass
class IrisRig:
    """A running iris simulator (``sim.camera`` is its control object) and a driver on it."""

    sim: RunningIrisSimulator
    port: Any  # a pyserial port
    camera: IrisCamera
    transport: str


IrisRigFactory = Callable[..., IrisRig]


@pytest.fixture
def make_iris_rig(transport: str) -> Iterator[IrisRigFactory]:
    """Start an iris simulator (fast timing, manual mode) and open a driver on it."""
    rigs: list[IrisRig] = []

    def make(*, timeout: float = 3.0, auto_init: bool = True, **config: Any) -> IrisRig:
        """``config`` goes to the simulator's CameraConfig; the rest to the driver."""
        config.setdefault("timing", FAST_TIMING)
        sim = start_iris_simulator(CameraConfig(**config), transport=transport)  # type: ignore[arg-type]
        port = serial.serial_for_url(sim.url, baudrate=115200, timeout=0.05)
        rig = IrisRig(sim, port, IrisCamera(port, timeout=timeout, auto_init=auto_init), transport)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        close_without_pause(rig.port)
        rig.sim.stop()


def damage_next_writes(port: Any, count: int = 1) -> None:
    """Flip a bit in the last byte (checksum, CRC) of the next ``count`` writes to ``port``, as a
    noisy line would."""
    original = port.write
    left = [count]

    def write(data: bytes) -> int | None:
        left[0] -= 1
        if left[0] <= 0:
            port.write = original
        damaged = bytearray(data)
        damaged[-1] ^= 0x01
        result: int | None = original(bytes(damaged))
        return result

    port.write = write


def close_without_pause(port: Any) -> None:
    """Close a pyserial port; a ``socket://`` one without its 0.3 s pause.

    pyserial's socket handler sleeps 0.3 s in ``close()`` to let a server take a quick
    reconnect; across a hundred tests that is half a minute of nothing.
    """
    from serial.urlhandler import protocol_socket

    if isinstance(port, protocol_socket.Serial):
        with mock.patch.object(protocol_socket, "time", SimpleNamespace(sleep=lambda _: None)):
            port.close()
    else:
        port.close()


@pytest.fixture
def iris_rig(make_iris_rig: IrisRigFactory) -> IrisRig:
    return make_iris_rig()
