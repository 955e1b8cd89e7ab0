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
sensors (``--count``). The port and the commands every simulated device takes are
``control_port``'s; ``place`` and ``lift`` are the sensor's own.
"""

from __future__ import annotations

import functools
from typing import Any

from simulators.control_port import ControlError, serve_device_control
from simulators.fingerprint import SimulatedFingerprintSensor


def _place(sensor: SimulatedFingerprintSensor, request: dict[str, Any]) -> dict[str, Any]:
    subject = request.get("subject")
    if not isinstance(subject, int):
        raise ControlError("place needs an integer 'subject'")
    press = sensor.place(
        subject,
        str(request.get("finger", "right-index")),
        request.get("quality", "good"),
    )
    return {"finger": press.describe()}


def _lift(sensor: SimulatedFingerprintSensor, request: dict[str, Any]) -> dict[str, Any]:
    sensor.lift()
    return {}


# ``serve_control(sensors, host, port)`` opens the control port of ``sensors``.
serve_control = functools.partial(
    serve_device_control,
    device_word="sensor",
    own={"place": _place, "lift": _lift},
    name="sim-fingerprint-control",
)
