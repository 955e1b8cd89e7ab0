"""`ewp sim controller` as a tester runs it: a process that prints its URL first, takes
commands on its control port, and serves the real firmware to the real driver."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest
import serial

from edge.drivers.controller import Controller
from edge.drivers.controller_messages import Readings, TamperOpened
from simulators.controller import ControllerBoard
from simulators.controller_control import send_control
from simulators.controller_environment import PROFILES

EWP = [sys.executable, "-c", "from ewp.cli import main; main()"]
pytestmark = pytest.mark.timeout(120)


def _lines(stream: IO[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return lines


def test_cli_prints_its_url_first_and_obeys_its_control_port(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*EWP, "sim", "controller", "--pty", "--flash", str(tmp_path / "flash")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = _lines(proc.stdout)
        url = lines.get(timeout=20)
        assert url.startswith("/dev/pts/"), url
        control = lines.get(timeout=5).removeprefix("control ")
        assert control.startswith("tcp://127.0.0.1:")
        port = serial.serial_for_url(url, baudrate=115200)
        with Controller(port) as controller:
            controller.wait_ready(timeout=10)
            assert controller.identify().firmware_version == "1.0.0"
            assert send_control(control, "tamper open") == "ok"
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    event = controller.events.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(event, TamperOpened):
                    break
            else:
                raise AssertionError("no tamper event")
            status = json.loads(send_control(control, "status"))
            assert status["boots"] == 1
            assert send_control(control, "fly away").startswith("error: unknown command")
        port.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    assert (tmp_path / "flash" / "state" / "tamper").exists()


def test_profiles_heat_the_van_and_drain_the_battery() -> None:
    import random

    rng = random.Random(1)
    van = [PROFILES["parked-van"](t, rng) for t in (0, 1800, 7200)]
    assert van[0].temperature < 35 < van[1].temperature < van[2].temperature < 70
    assert van[2].humidity < van[0].humidity
    cut = [PROFILES["generator-cut"](t, rng) for t in (0, 61, 3600, 7260)]
    assert cut[0].external_power and not cut[1].external_power
    assert cut[1].battery > cut[2].battery > cut[3].battery >= 11.0


def test_time_scale_speeds_up_a_profile(tmp_path: Path) -> None:
    board = ControllerBoard(
        tmp_path / "flash", profile="parked-van", time_scale=3600, baudrate=0, seed=2
    )
    board.start()
    endpoint = board.serve(pty=True)
    port = serial.serial_for_url(endpoint.url, baudrate=115200)
    try:
        with Controller(port) as controller:
            controller.wait_ready(timeout=10)
            first = controller.read_sensors()
            time.sleep(1.0)  # an hour in the van
            later = controller.read_sensors()
        assert isinstance(later, Readings)
        assert first.temperature_c is not None and later.temperature_c is not None
        assert later.temperature_c > first.temperature_c + 10
    finally:
        port.close()
        board.stop()
        endpoint.stop()
    assert not os.path.exists(board._rom)
