"""The control port of simulated fingerprint sensors: JSON lines over TCP.

A tester (or a test in another process) connects and sends one JSON object a line; each gets
one JSON line back, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Commands:

=================================================================  ===============================
``{"cmd": "place", "subject": 17, "finger": "right-index",         put a finger on the glass
"quality": "good"}``                                                (manual mode; quality good or
                                                                    poor; finger defaults to
                                                                    right-index)
``{"cmd": "lift"}``                                                 lift it
``{"cmd": "mode", "mode": "auto"}``                                 switch to manual or auto
``{"cmd": "fault", "spec": "no-finger:3"}``                         arm a fault (or give ``kind``,
                                                                    ``count``, ``seconds``, ...)
``{"cmd": "clear-faults"}``                                         disarm every fault
``{"cmd": "unplug"}``                                               pull the cable now
``{"cmd": "status"}``                                               mode, finger, library, faults
=================================================================  ===============================

Every command takes an optional ``"sensor": N`` (default 0) when one process serves several
sensors (``--count``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import threading
from typing import Any

from simulators.fingerprint import SimulatedFingerprintSensor
from simulators.fingerprint_faults import FaultSpecError

log = logging.getLogger(__name__)


class ControlError(ValueError):
    """A control command that cannot be carried out; the message goes back to the tester."""


def handle_command(
    sensors: list[SimulatedFingerprintSensor], request: dict[str, Any]
) -> dict[str, Any]:
    """Carry out one control command and return the reply object."""
    index = request.get("sensor", 0)
    if not isinstance(index, int) or not 0 <= index < len(sensors):
        raise ControlError(f"sensor must be 0..{len(sensors) - 1}, got {index!r}")
    sensor = sensors[index]
    command = request.get("cmd")
    reply: dict[str, Any] = {"ok": True, "sensor": index}
    if command == "place":
        subject = request.get("subject")
        if not isinstance(subject, int):
            raise ControlError("place needs an integer 'subject'")
        press = sensor.place(
            subject,
            str(request.get("finger", "right-index")),
            request.get("quality", "good"),
        )
        reply["finger"] = press.describe()
    elif command == "lift":
        sensor.lift()
    elif command == "mode":
        sensor.set_mode(request.get("mode"))  # type: ignore[arg-type]  # checked inside
    elif command == "fault":
        if "spec" in request:
            fault = sensor.inject(str(request["spec"]))
        else:
            fault = sensor.inject({k: v for k, v in request.items() if k not in ("cmd", "sensor")})
        reply["armed"] = fault.describe()
    elif command == "clear-faults":
        sensor.clear_faults()
    elif command == "unplug":
        reply["unplugged"] = sensor.unplug()
    elif command == "status":
        reply.update(sensor.status())
    else:
        raise ControlError(
            f"unknown command {command!r}: use place, lift, mode, fault, clear-faults, unplug "
            "or status"
        )
    return reply


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.strip()
            if not line:
                continue
            try:
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ControlError("send one JSON object a line")
                reply = handle_command(self.server.sensors, request)
            except (ControlError, FaultSpecError, ValueError, TypeError) as exc:
                reply = {"ok": False, "error": str(exc)}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sensors: list[SimulatedFingerprintSensor]):
        self.sensors = sensors
        super().__init__(address, _Handler)


class ControlServer:
    """A running control port; ``url`` is ``tcp://HOST:PORT``."""

    def __init__(
        self, sensors: list[SimulatedFingerprintSensor], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._server = _Server((host, port), sensors)
        actual_host, actual_port = self._server.server_address[:2]
        self.url = f"tcp://{actual_host!s}:{actual_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sim-fingerprint-control", daemon=True
        )
        self._thread.start()
        log.info("fingerprint simulator control port on %s", self.url)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()


def parse_tcp_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` as (host, port)."""
    if not url.startswith("tcp://"):
        raise ValueError(f"expected tcp://HOST:PORT, got {url!r}")
    host, _, port = url.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected tcp://HOST:PORT, got {url!r}")
    return host, int(port)
