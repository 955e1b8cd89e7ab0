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
cameras (``--count``). The port and the commands every simulated device takes are
``control_port``'s; ``present`` and ``withdraw`` are the camera's own.
"""

from __future__ import annotations

import functools
from typing import Any

from simulators.control_port import ControlError, serve_device_control
from simulators.iris import SimulatedIrisCamera


def _number(request: dict[str, Any], key: str, default: float) -> float:
    value = request.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key} must be a number, got {value!r}")
    return float(value)


def _present(camera: SimulatedIrisCamera, request: dict[str, Any]) -> dict[str, Any]:
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
    return {"in_view": sitting.describe()}


def _withdraw(camera: SimulatedIrisCamera, request: dict[str, Any]) -> dict[str, Any]:
    camera.withdraw()
    return {}


# ``serve_control(cameras, host, port)`` opens the control port of ``cameras``.
serve_control = functools.partial(
    serve_device_control,
    device_word="camera",
    own={"present": _present, "withdraw": _withdraw},
    name="sim-iris-control",
)
