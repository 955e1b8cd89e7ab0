"""The host driver against the simulated board running the real firmware (MicroPython).

Byte for byte what a station does with a real board: serial_for_url on a pty paced at 115200
baud, the link, the messages, the tamper latch on flash across a power cycle.
"""

from __future__ import annotations

import os
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import serial

from edge.drivers.controller import (
    Controller,
    ControllerError,
    ControllerTimeoutError,
    TamperClearRefusedError,
)
from edge.drivers.controller_messages import (
    Beep,
    BoardBooted,
    ButtonPressed,
    Capability,
    ControllerEvent,
    GpsSentence,
    Led,
    LedMode,
    PowerChanged,
    ResetCause,
    TamperCleared,
    TamperOpened,
)
from protocol.controller_tamper import tamper_clear_mac
from simulators.controller import ControllerBoard
from simulators.serial_endpoints import Endpoint

pytestmark = pytest.mark.timeout(180)

E = TypeVar("E")


class Station:
    def __init__(self, board: ControllerBoard, endpoint: Endpoint, secret: bytes) -> None:
        self.board = board
        self.endpoint = endpoint
        self.secret = secret
        self.port = serial.serial_for_url(endpoint.url, baudrate=115200)
        self.controller = Controller(self.port)

    def close(self) -> None:
        self.controller.close()
        self.port.close()

    def wait_for(self, kind: type[E], timeout: float = 5.0, **match: object) -> E:
        deadline = time.monotonic() + timeout
        seen: list[ControllerEvent] = []
        while time.monotonic() < deadline:
            try:
                event = self.controller.events.get(timeout=0.05)
            except queue.Empty:
                continue
            seen.append(event)
            if isinstance(event, kind) and all(getattr(event, k) == v for k, v in match.items()):
                return event
        raise AssertionError(f"no {kind.__name__} {match} within {timeout} s; saw {seen}")


@pytest.fixture
def station(tmp_path: Path) -> Iterator[Station]:
    secret = os.urandom(32)
    board = ControllerBoard(tmp_path / "flash", secret=secret, gps=True, seed=1)
    board.start()
    endpoint = board.serve(pty=True)
    s = Station(board, endpoint, secret)
    try:
        s.controller.wait_ready(timeout=10)
        yield s
    finally:
        s.close()
        board.stop()
        endpoint.stop()


def test_identify_ping_and_boot(station: Station) -> None:
    booted = station.wait_for(BoardBooted)
    assert booted.boot_count == 1 and booted.reset_cause is ResetCause.POWER_ON
    ident = station.controller.identify()
    assert ident.firmware_version == "1.0.0"
    assert ident.board_id == station.board.board_id
    assert ident.led_count == 3
    assert Capability.TAMPER in ident.capabilities and Capability.GPS in ident.capabilities
    rtt = station.controller.ping()
    assert 0 < rtt < 1.0


def test_panel_shows_what_the_host_sets(station: Station) -> None:
    c = station.controller
    c.set_leds([Led(0, 200, 0), Led(255, 0, 0, LedMode.SOLID), Led(0, 0, 90)])
    c.beep(Beep.DOUBLE)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        panel = station.board.panel()
        if panel.leds == [(0, 200, 0), (255, 0, 0), (0, 0, 90)] and panel.beeps >= 2:
            break
        time.sleep(0.05)
    assert panel.leds == [(0, 200, 0), (255, 0, 0), (0, 0, 90)]
    assert panel.beeps == 2


def test_sensors_and_power(station: Station) -> None:
    c = station.controller
    station.board.set_environment(temperature=47.5, humidity=31.0, battery=12.25)
    time.sleep(0.4)  # the simulator's next update reaches the board
    r = c.read_sensors()
    assert r.temperature_c == pytest.approx(47.5, abs=0.05)
    assert r.humidity_pct == pytest.approx(31.0, abs=0.05)
    assert r.battery_v == pytest.approx(12.25, abs=0.02)
    assert r.external_power
    station.board.set_external_power(False)
    assert station.wait_for(PowerChanged).external_power is False
    station.board.set_sensor_present(False)
    time.sleep(0.4)
    assert c.read_sensors().temperature_c is None


def test_button_and_gps(station: Station) -> None:
    station.board.press_button(0.2)
    assert station.wait_for(ButtonPressed).long is False
    body = "GPRMC,052210,A,1345.1234,N,10030.5678,E,0.0,0.0,010125,,,A"
    checksum = 0
    for ch in body.encode():
        checksum ^= ch
    sentence = f"${body}*{checksum:02X}"
    station.board.send_gps(sentence)
    assert station.wait_for(GpsSentence).sentence == sentence


def test_tamper_survives_a_power_cycle_until_cleared(station: Station) -> None:
    c, board = station.controller, station.board
    c.sync_time()
    board.open_tamper()
    opened = station.wait_for(TamperOpened, at_boot=False)
    assert opened.count == 1
    board.close_tamper()
    board.power_cycle()
    booted = station.wait_for(BoardBooted, timeout=10)
    assert booted.tamper_latched and booted.reset_cause is ResetCause.POWER_ON
    assert station.wait_for(TamperOpened).at_boot
    status = c.status()
    assert status.tamper_latched and status.tamper_count == 1 and status.provisioned
    assert status.tamper_at is not None  # stamped with the clock set before the cycle
    # A MAC for someone else's secret does not clear it.
    challenge = c.tamper_challenge()
    wrong = tamper_clear_mac(os.urandom(32), challenge.board_id, challenge.nonce, 1)
    with pytest.raises(TamperClearRefusedError):
        c.clear_tamper(wrong)
    challenge = c.tamper_challenge()
    assert challenge.board_id == board.board_id
    mac = tamper_clear_mac(
        station.secret, challenge.board_id, challenge.nonce, challenge.tamper_count
    )
    c.clear_tamper(mac)
    station.wait_for(TamperCleared)
    board.power_cycle()
    booted = station.wait_for(BoardBooted, timeout=10)
    assert not booted.tamper_latched
    assert not c.status().tamper_latched


def test_watchdog_restarts_a_hung_firmware(station: Station) -> None:
    station.board.hang()
    booted = station.wait_for(BoardBooted, timeout=12, boot_count=2)
    assert booted.reset_cause is ResetCause.WATCHDOG
    assert station.board.watchdog_resets == 1
    assert station.controller.identify().reset_cause is ResetCause.WATCHDOG


def test_no_board_means_a_clear_error(tmp_path: Path) -> None:
    master, slave = os.openpty()
    try:
        port = serial.serial_for_url(os.ttyname(slave), baudrate=115200)
        controller = Controller(port)
        with pytest.raises(ControllerTimeoutError, match="not answering") as info:
            controller.wait_ready(timeout=0.5)
        assert isinstance(info.value, ControllerError)
        controller.close()
        port.close()
    finally:
        os.close(master)
        os.close(slave)
