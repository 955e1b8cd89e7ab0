"""What every simulated serial device shares (simulators/simulated_device.py), shown on a
device that only echoes: served on TCP and on a pty, the cable pulled, faults, modes."""

from __future__ import annotations

import socket

import pytest
import serial

from simulators import fingerprint_faults
from simulators.serial_endpoints import ByteStream, Transport
from simulators.simulated_device import Mode, RunningSimulator, SimulatedDevice


class Presenter:
    def __init__(self, mode: str) -> None:
        self.mode = mode

    def describe(self) -> dict[str, object]:
        return {"mode": self.mode}


class EchoDevice(SimulatedDevice[fingerprint_faults.Fault, Presenter]):
    """Echoes every byte; a ``silence`` fault swallows one read's worth."""

    def __init__(self) -> None:
        super().__init__(fingerprint_faults.FaultPlan())
        self._presenter = self._make_presenter("manual")

    def _make_presenter(self, mode: Mode) -> Presenter:
        return Presenter(mode)

    def session(self, stream: ByteStream) -> None:
        with self._plugged_in(stream):
            while True:
                data = stream.read(4096, timeout=0.2)
                if data and not self.faults.silent():
                    stream.write(data)

    def connected(self) -> bool:
        with self._lock:
            return self._stream is not None


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_served_on_either_transport_until_the_cable_is_pulled(transport: Transport) -> None:
    with RunningSimulator.start(EchoDevice(), transport) as sim:
        assert sim.url.startswith("socket://127.0.0.1:" if transport == "tcp" else "/dev/")
        port = serial.serial_for_url(sim.url, timeout=2)
        port.write(b"ping")
        assert port.read(4) == b"ping"
        assert sim.device.connected()
        sim.device.inject("silence")
        port.write(b"lost")
        assert port.read(4) == b""
        port.timeout = 2
        assert sim.device.unplug() is True
        with pytest.raises((serial.SerialException, OSError)):
            port.write(b"gone")
            port.read(1)
        port.close()


def test_unplug_without_a_host_and_a_host_that_connects_later() -> None:
    device = EchoDevice()
    assert device.unplug() is False
    with RunningSimulator.start(EchoDevice()) as sim:
        host, port = sim.url.removeprefix("socket://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=2) as conn:
            conn.sendall(b"x")
            assert conn.recv(1) == b"x"


def test_faults_and_modes() -> None:
    device = EchoDevice()
    armed = device.inject({"kind": "garbage", "count": 8})
    assert armed.describe() == "garbage:8" and device.faults.armed() == ["garbage:8"]
    assert device.inject(armed) is armed
    device.clear_faults()
    assert device.faults.armed() == []
    device.set_mode("auto")
    assert device._presenter.describe() == {"mode": "auto"}
    with pytest.raises(ValueError, match="manual or auto"):
        device.set_mode("sleepy")  # type: ignore[arg-type]


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ValueError, match="tcp or pty"):
        RunningSimulator.start(EchoDevice(), "usb")  # type: ignore[arg-type]
