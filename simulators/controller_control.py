"""The simulated controller board's text commands: stdin, its control port, `sim controller send`.

One command a line (docs/tools/ewp-sim-controller.md), one reply line: ``ok``, a JSON status,
or ``error: ...``.
"""

from __future__ import annotations

import json
import socket
from typing import TYPE_CHECKING

from simulators.control_port import ControlPort
from simulators.errors import SimulatorError
from simulators.serial_endpoints import parse_tcp_url

if TYPE_CHECKING:
    from simulators.controller import ControllerBoard

COMMANDS = (
    "button [seconds] | tamper open|close | power on|off | sensor missing|present | "
    "set temp|rh|battery VALUE | gps SENTENCE | power-cycle | hang | status"
)


def board_command(board: ControllerBoard, line: str) -> str:
    """Run one tester's command (docs/tools/ewp-sim-controller.md); returns the reply."""
    words = line.split()
    if not words:
        return ""
    cmd, args = words[0], words[1:]
    try:
        if cmd == "button":
            board.press_button(float(args[0]) if args else 0.2)
        elif cmd == "tamper" and args in (["open"], ["close"]):
            (board.open_tamper if args[0] == "open" else board.close_tamper)()
        elif cmd == "power" and args in (["on"], ["off"]):
            board.set_external_power(args[0] == "on")
        elif cmd == "sensor" and args in (["missing"], ["present"]):
            board.set_sensor_present(args[0] == "present")
        elif cmd == "set" and len(args) == 2 and args[0] in ("temp", "rh", "battery"):
            key = {"temp": "temperature", "rh": "humidity", "battery": "battery"}[args[0]]
            board.set_environment(**{key: float(args[1])})
        elif cmd == "gps" and args:
            board.send_gps(" ".join(args))
        elif cmd == "power-cycle":
            board.power_cycle()
        elif cmd == "hang":
            board.hang()
        elif cmd == "status":
            p = board.panel()
            return json.dumps(
                {
                    "boots": board.boots,
                    "watchdog_resets": board.watchdog_resets,
                    "leds": p.leds,
                    "buzzer": {"hz": p.buzzer_hz, "on": p.buzzer_on, "beeps": p.beeps},
                }
            )
        else:
            return f"error: unknown command {line.strip()!r} (try: {COMMANDS})"
    except (ValueError, IndexError):
        return f"error: bad arguments in {line.strip()!r}"
    return "ok"


def serve_control(board: ControllerBoard, host: str = "127.0.0.1", port: int = 0) -> ControlPort:
    """A TCP port that takes the same text commands as stdin, one reply line each."""
    return ControlPort(lambda line: board_command(board, line), host, port, name="sim-ctl-control")


def send_control(url: str, command: str, timeout: float = 5.0) -> str:
    """Send one command to a running simulator's control port; returns its reply."""
    try:
        host, port = parse_tcp_url(url)
    except ValueError:
        raise SimulatorError(
            f"--control must look like tcp://127.0.0.1:7102, got {url!r}"
        ) from None
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(command.encode() + b"\n")
            with conn.makefile("rb") as f:
                return f.readline().decode().strip()
    except (OSError, ValueError) as exc:
        raise SimulatorError(
            f"no simulated controller answering at {url} ({exc}): is `ewp sim controller` running?"
        ) from None
