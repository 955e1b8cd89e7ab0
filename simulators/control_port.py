"""Control ports of the simulators: a tester sends one command a line over TCP, gets one line back.

:class:`ControlPort` serves any line protocol: it hands each line to an ``answer`` function and
writes back what that returns (nothing for ``None``). The station controller board speaks
plain text over it (``tamper open`` -> ``ok``); the fingerprint and iris simulators and the
network simulator speak JSON lines. :func:`json_lines` is the JSON-lines protocol of the
device simulators (one object a line; ``{"ok": false, "error": "..."}`` for a refused one), and
:func:`handle_device_command` the commands every simulated serial device takes (``mode``,
``fault``, ``clear-faults``, ``unplug``, ``status``), next to its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socketserver
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

log = logging.getLogger(__name__)

Answer = Callable[[str], str | None]  # a line in (decoded, newline kept) -> the reply line
Request = dict[str, Any]


class ControlError(ValueError):
    """A control command that cannot be carried out; the message goes back to the tester."""


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        for raw in self.rfile:
            reply = self.server.answer(raw.decode("utf-8", "replace"))
            if reply is None:
                continue
            self.wfile.write(reply.encode() + b"\n")
            self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], answer: Answer) -> None:
        self.answer = answer
        super().__init__(address, _Handler)


class ControlPort:
    """A running control port on ``host:port`` (0 picks a free one); ``url`` is ``tcp://HOST:PORT``.

    Each connection gets a thread; ``answer`` may be called from several at once.
    """

    def __init__(
        self, answer: Answer, host: str = "127.0.0.1", port: int = 0, *, name: str = "sim-control"
    ) -> None:
        self._server = _Server((host, port), answer)
        actual_host, actual_port = self._server.server_address[:2]
        self.port = int(actual_port)
        self.url = f"tcp://{actual_host!s}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True
        )
        self._thread.start()
        log.info("%s: control port on %s", name, self.url)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._server.shutdown()
            self._server.server_close()


def json_lines(handle: Callable[[Request], Request]) -> Answer:
    """The JSON-lines protocol: one object a line in, one object a line back.

    Blank lines get no answer; a request that is not an object, or that ``handle`` refuses
    with a ``ValueError`` (a :class:`ControlError`, a bad fault spec, ...) or a ``TypeError``,
    is answered ``{"ok": false, "error": "..."}``.
    """

    def answer(line: str) -> str | None:
        line = line.strip()
        if not line:
            return None
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ControlError("send one JSON object a line")
            reply = handle(request)
        except (ValueError, TypeError) as exc:
            reply = {"ok": False, "error": str(exc)}
        return json.dumps(reply)

    return answer


class ControlledDevice(Protocol):
    """What every simulated serial device offers its control port."""

    def set_mode(self, mode: Any) -> None: ...

    def inject(self, fault: str | dict[str, object]) -> Any: ...  # the fault, with describe()

    def clear_faults(self) -> None: ...

    def unplug(self) -> bool: ...

    def status(self) -> dict[str, object]: ...


D = TypeVar("D", bound=ControlledDevice)
OwnCommand = Callable[[D, Request], Request]  # the device and the request -> reply fields


def handle_device_command(
    devices: Sequence[D],
    request: Request,
    *,
    device_word: str,
    own: Mapping[str, OwnCommand[D]],
) -> Request:
    """Carry out one control command on one of ``devices``; the reply object.

    ``device_word`` (``"sensor"``, ``"camera"``) is the optional request key choosing a device
    by index (default 0), echoed in the reply. ``own`` are the device's own commands (placing a
    finger, presenting a person); then come ``mode``, ``fault`` (a ``spec``, or a fault table's
    keys), ``clear-faults``, ``unplug`` and ``status``.
    """
    index = request.get(device_word, 0)
    if not isinstance(index, int) or not 0 <= index < len(devices):
        raise ControlError(f"{device_word} must be 0..{len(devices) - 1}, got {index!r}")
    device = devices[index]
    command = request.get("cmd")
    reply: Request = {"ok": True, device_word: index}
    if isinstance(command, str) and command in own:
        reply.update(own[command](device, request))
    elif command == "mode":
        device.set_mode(request.get("mode"))  # checked by the device
    elif command == "fault":
        if "spec" in request:
            fault = device.inject(str(request["spec"]))
        else:
            table = {k: v for k, v in request.items() if k not in ("cmd", device_word)}
            fault = device.inject(table)
        reply["armed"] = fault.describe()
    elif command == "clear-faults":
        device.clear_faults()
    elif command == "unplug":
        reply["unplugged"] = device.unplug()
    elif command == "status":
        reply.update(device.status())
    else:
        names = ", ".join([*own, "mode", "fault", "clear-faults", "unplug"])
        raise ControlError(f"unknown command {command!r}: use {names} or status")
    return reply


def serve_device_control(
    devices: Sequence[D],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    device_word: str,
    own: Mapping[str, OwnCommand[D]],
    name: str,
) -> ControlPort:
    """Open the control port of ``devices`` on ``host:port`` (0 picks a free one): JSON lines,
    each request carried out by :func:`handle_device_command`."""
    answer = json_lines(
        lambda request: handle_device_command(devices, request, device_word=device_word, own=own)
    )
    return ControlPort(answer, host, port, name=name)
