"""Finding iris cameras by USB ids and noticing them come and go (list_ports injected)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from edge.drivers.iris_discovery import (
    DEFAULT_PID,
    DEFAULT_VID,
    FoundCamera,
    HotplugEvent,
    IrisCameraWatcher,
    find_iris_cameras,
)


@dataclass
class FakePort:
    """What ``serial.tools.list_ports.comports()`` yields (a ListPortInfo's fields we read)."""

    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = "n/a"
    location: str | None = None


CAMERA_A = FakePort("/dev/ttyACM1", DEFAULT_VID, DEFAULT_PID, "IRIS-A", "iris", "1-1.2:1.0")
CAMERA_B = FakePort("/dev/ttyACM0", DEFAULT_VID, DEFAULT_PID, "IRIS-B", "iris", "1-1.3:1.0")
FINGERPRINT = FakePort("/dev/ttyUSB0", 0x10C4, 0xEA60, "0001", "CP2102 USB to UART")
UART = FakePort("/dev/ttyS0")  # no USB ids at all


class Ports:
    """A list_ports stand-in whose answer the test changes (plug, unplug)."""

    def __init__(self, *ports: FakePort) -> None:
        self.ports = list(ports)
        self.fail = False

    def __call__(self) -> list[FakePort]:
        if self.fail:
            raise OSError("sysfs is not readable")
        return list(self.ports)


def test_find_iris_cameras_by_usb_ids() -> None:
    ports = Ports(UART, CAMERA_A, FINGERPRINT, CAMERA_B)
    found = find_iris_cameras(list_ports=ports)
    assert [(c.port, c.serial_number) for c in found] == [
        ("/dev/ttyACM0", "IRIS-B"),
        ("/dev/ttyACM1", "IRIS-A"),
    ]
    assert found[1] == FoundCamera(
        "/dev/ttyACM1", "IRIS-A", DEFAULT_VID, DEFAULT_PID, "iris", "1-1.2:1.0"
    )
    assert found[1].describe()["usb_id"] == "1209:0001"
    assert find_iris_cameras(0x10C4, 0xEA60, list_ports=ports)[0].port == "/dev/ttyUSB0"
    assert find_iris_cameras(0xDEAD, 0xBEEF, list_ports=ports) == []


def test_find_iris_cameras_uses_pyserial_by_default() -> None:
    assert isinstance(find_iris_cameras(0xDEAD, 0xBEEF), list)  # whatever this host has


def test_the_watcher_reports_cameras_plugged_and_pulled() -> None:
    ports = Ports(CAMERA_A, FINGERPRINT)
    events: list[HotplugEvent] = []
    watcher = IrisCameraWatcher(events.append, list_ports=ports)
    assert [(e.kind, e.camera.port) for e in watcher.poll()] == [("added", "/dev/ttyACM1")]
    assert watcher.poll() == []  # nothing changed
    ports.ports.append(CAMERA_B)
    assert [(e.kind, e.camera.serial_number) for e in watcher.poll()] == [("added", "IRIS-B")]
    ports.ports.remove(CAMERA_A)
    assert [(e.kind, e.camera.serial_number) for e in watcher.poll()] == [("removed", "IRIS-A")]
    # Plugged in again, it comes back under another name: removed, then added.
    ports.ports = [FakePort("/dev/ttyACM2", DEFAULT_VID, DEFAULT_PID, "IRIS-B")]
    assert [(e.kind, e.camera.port) for e in watcher.poll()] == [
        ("removed", "/dev/ttyACM0"),
        ("added", "/dev/ttyACM2"),
    ]
    assert [c.port for c in watcher.cameras] == ["/dev/ttyACM2"]
    assert len(events) == 5  # the callback saw every event


def test_the_watcher_survives_a_failing_listing_and_a_failing_callback() -> None:
    ports = Ports(CAMERA_A)

    def callback(event: HotplugEvent) -> None:
        raise RuntimeError("the station's handler is broken")

    watcher = IrisCameraWatcher(callback, list_ports=ports)
    assert len(watcher.poll()) == 1  # the callback raised; the event is still reported
    ports.fail = True
    assert watcher.poll() == []
    assert [c.port for c in watcher.cameras] == ["/dev/ttyACM1"]  # nothing forgotten
    ports.fail = False
    ports.ports = []
    assert [e.kind for e in watcher.poll()] == ["removed"]


def test_the_watcher_polls_in_a_thread() -> None:
    ports = Ports()
    arrived = threading.Event()
    events: list[HotplugEvent] = []

    def callback(event: HotplugEvent) -> None:
        events.append(event)
        arrived.set()

    with IrisCameraWatcher(callback, interval=0.02, list_ports=ports) as watcher:
        ports.ports = [CAMERA_A]
        assert arrived.wait(5)
        with pytest.raises(RuntimeError, match="already running"):
            watcher.start()
    assert [e.kind for e in events] == ["added"]
    with pytest.raises(ValueError):
        IrisCameraWatcher(callback, interval=0)
