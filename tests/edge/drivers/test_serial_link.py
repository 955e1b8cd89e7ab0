"""The serial line as the drivers use it (edge/drivers/serial_link.py), on a fake port."""

from __future__ import annotations

import logging

import pytest
import serial

from edge.drivers.serial_link import POLL_INTERVAL, SerialDriver, SerialLink


class UnpluggedError(Exception):
    pass


class FakePort:
    """A pyserial port whose next call can fail as a pulled cable does."""

    def __init__(self, waiting: bytes = b"") -> None:
        self.timeout: float | None = 1.0
        self.port = "/dev/ttyFAKE0"
        self.waiting = waiting
        self.reads: list[int] = []
        self.written = b""
        self.failure: BaseException | None = None
        self.closed = False

    @property
    def in_waiting(self) -> int:
        return len(self.waiting)

    def read(self, size: int = 1) -> bytes:
        if self.failure is not None:
            raise self.failure
        self.reads.append(size)
        data, self.waiting = self.waiting[:size], self.waiting[size:]
        return data

    def write(self, data: bytes, /) -> int | None:
        if self.failure is not None:
            raise self.failure
        self.written += data
        return len(data)

    def close(self) -> None:
        self.closed = True


def link_on(port: FakePort) -> SerialLink[FakePort]:
    return SerialLink(
        port,
        wire_log=logging.getLogger("ewp.wire.fake"),
        disconnected=lambda exc: UnpluggedError(f"gone ({exc})"),
    )


def test_reads_poll_and_take_what_is_needed_or_waiting() -> None:
    port = FakePort(waiting=b"0123456789")
    link = link_on(port)
    assert port.timeout == POLL_INTERVAL
    assert link.name == "/dev/ttyFAKE0"
    assert link.read_for(4) == b"0123456789"  # all that was waiting, in one read
    assert link.read_for(4) == b"" and port.reads[-1] == 4
    assert link.read(3) == b""


@pytest.mark.parametrize("failure", [serial.SerialException("pty closed"), OSError(5, "EIO")])
def test_line_failures_become_the_drivers_error(failure: BaseException) -> None:
    port = FakePort()
    link = link_on(port)
    port.failure = failure
    for call in (lambda: link.read_for(1), lambda: link.read(1), lambda: link.write(b"x")):
        with pytest.raises(UnpluggedError, match="gone"):
            call()
    port.failure = ValueError("a bug, not the line")
    with pytest.raises(ValueError):
        link.read(1)


def test_writes_are_logged_on_the_drivers_wire_log(caplog: pytest.LogCaptureFixture) -> None:
    port = FakePort()
    with caplog.at_level(logging.DEBUG, logger="ewp.wire.fake"):
        link_on(port).write(bytes(range(50)))
    assert port.written == bytes(range(50))
    assert caplog.records[0].name == "ewp.wire.fake"
    assert caplog.records[0].getMessage() == "-> " + bytes(range(40)).hex(" ") + " ..."


def test_only_a_port_the_driver_opened_is_closed_with_it() -> None:
    port = FakePort()
    link = link_on(port)
    link.close()
    assert not port.closed
    link.owns_port = True
    link.close()
    assert port.closed


class FakeDriver(SerialDriver[FakePort]):
    def __init__(self, port: FakePort) -> None:
        self._link = link_on(port)


def test_a_driver_closes_its_own_port_when_it_is_done_with() -> None:
    port, theirs = FakePort(), FakePort()
    driver = FakeDriver(port)
    driver._link.owns_port = True  # as open() does
    with driver as entered:
        assert entered is driver and entered.port_name == "/dev/ttyFAKE0"
    assert port.closed
    FakeDriver(theirs).close()
    assert not theirs.closed


def test_a_driver_on_a_url_owns_its_port_and_says_what_the_driver_says() -> None:
    with pytest.raises(UnpluggedError, match="cannot open: /dev/ttyNOSUCH0: "):
        FakeDriver._on_url(
            "/dev/ttyNOSUCH0", 9600, lambda detail: UnpluggedError(f"cannot open: {detail}")
        )
    driver = FakeDriver._on_url("loop://", 9600, UnpluggedError)
    port = driver._link.port
    assert port.timeout == POLL_INTERVAL and driver._link.owns_port
    driver.close()
    assert not port.is_open
