"""The control port of simulated iris cameras: JSON lines over TCP.

A tester (or a test in another process) connects and sends one JSON object a line; each gets
one JSON line back, ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``. Commands:

================================================================  ================================
``{"cmd": "present", "person": 17, "open": "both",                put a person in front of the
"occlusion": 0.1, "blur": 0.6}``                                   camera (manual mode); ``open``
                                                                   is both, left, right or none;
                                                                   ``left`` / ``right`` tables
                                                                   override per eye
``{"cmd": "withdraw"}``                                            nobody in front of the camera
``{"cmd": "mode", "mode": "auto"}``                                switch to manual or auto
``{"cmd": "fault", "spec": "no-eye"}``                             arm a fault (or give ``kind``,
                                                                   ``count``, ``seconds``, ...)
``{"cmd": "clear-faults"}``                                        disarm every fault
``{"cmd": "unplug"}``                                              pull the cable now
``{"cmd": "status"}``                                              mode, person, state, faults
================================================================  ================================

Every command takes an optional ``"camera": N`` (default 0) when one process serves several
cameras (``--count``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import threading
from typing import Any

from simulators.iris import SimulatedIrisCamera
from simulators.iris_faults import FaultSpecError

log = logging.getLogger(__name__)


class ControlError(ValueError):
    """A control command that cannot be carried out; the message goes back to the tester."""


def _number(request: dict[str, Any], key: str, default: float) -> float:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key} must be a number, got {value!r}")
    return float(value)


def handle_command(cameras: list[SimulatedIrisCamera], request: dict[str, Any]) -> dict[str, Any]:
    """Carry out one control command and return the reply object."""
    index = request.get("camera", 0)
    if not isinstance(index, int) or not 0 <= index < len(cameras):
        raise ControlError(f"camera must be 0..{len(cameras) - 1}, got {index!r}")
    camera = cameras[index]
    command = request.get("cmd")
    reply: dict[str, Any] = {"ok": True, "camera": index}
    if command == "present":
        person = request.get("person")
        if not isinstance(person, int) or isinstance(person, bool):
            raise ControlError("present needs an integer 'person'")
        for side in ("left", "right"):
            if side in request and not isinstance(request[side], dict):
                raise ControlError(f"{side} must be a table of open, occlusion, blur")
        sitting = camera.present(
            person,
            open=request.get("open", "both"),
            occlusion=_number(request, "occlusion", 0.1),
            blur=_number(request, "blur", 0.6),
            left=request.get("left"),
            right=request.get("right"),
        )
        reply["in_view"] = sitting.describe()
    elif command == "withdraw":
        camera.withdraw()
    elif command == "mode":
        camera.set_mode(request.get("mode"))  # type: ignore[arg-type]  # checked inside
    elif command == "fault":
        if "spec" in request:
            fault = camera.inject(str(request["spec"]))
        else:
            fault = camera.inject({k: v for k, v in request.items() if k not in ("cmd", "camera")})
        reply["armed"] = fault.describe()
    elif command == "clear-faults":
        camera.clear_faults()
    elif command == "unplug":
        reply["unplugged"] = camera.unplug()
    elif command == "status":
        reply.update(camera.status())
    else:
        raise ControlError(
            f"unknown command {command!r}: use present, withdraw, mode, fault, clear-faults, "
            "unplug or status"
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
                reply = handle_command(self.server.cameras, request)
            except (ControlError, FaultSpecError, ValueError, TypeError) as exc:
                reply = {"ok": False, "error": str(exc)}
            self.wfile.write(json.dumps(reply).encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], cameras: list[SimulatedIrisCamera]) -> None:
        self.cameras = cameras
        super().__init__(address, _Handler)


class ControlServer:
    """A running control port; ``url`` is ``tcp://HOST:PORT``."""

    def __init__(
        self, cameras: list[SimulatedIrisCamera], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._server = _Server((host, port), cameras)
        actual_host, actual_port = self._server.server_address[:2]
        self.url = f"tcp://{actual_host!s}:{actual_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sim-iris-control", daemon=True
        )
        self._thread.start()
        log.info("iris simulator control port on %s", self.url)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()
