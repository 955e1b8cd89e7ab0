"""The iris camera's exchanges over its serial line: requests, answers and status events.

:class:`IrisExchange` is what :class:`~edge.drivers.iris_camera.IrisCamera` is built on: it
numbers each command, sends it, waits for the answer with its sequence number, keeps the status
events that arrive meanwhile, and turns what goes wrong on the line into the driver's errors.

What the driver does on errors:

* line noise is skipped: the parser resynchronises on the sync bytes and the length check;
* a reply that does not come within ``timeout`` raises ``NOT_ANSWERING``;
* a damaged frame raises :class:`IrisCrcError` (at once when it was the awaited response;
  a damaged frame that may have been a status event only if the response never comes);
* a NAK (the camera received a damaged command and did nothing) makes the driver send the
  command again, up to twice; after a damaged *answer* only idempotent commands (INIT,
  GET_INFO, GET_STATUS, GET_RESULT_QUALITY, each image block) are sent again: the others
  changed the camera's state, and the caller decides;
* answers with another sequence number are stale (the late answer to an abandoned command)
  and are dropped, so the line is never flushed and status events are never lost to a flush;
* pyserial's ``SerialException``, an ``OSError`` or ``termios.error`` (cable pulled, pty
  closed, socket reset) becomes ``DISCONNECTED`` (the port handling the drivers share
  is ``serial_link``);
* when the camera says it is not initialised (it was re-plugged), the driver sends INIT and
  repeats the command once (``auto_init``).

Wire traffic is logged at DEBUG to ``ewp.wire.iris``.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from typing import Protocol, Self, TypeVar

from edge.drivers.iris_camera_errors import (
    CANNOT_OPEN,
    DISCONNECTED,
    NOT_ANSWERING,
    IrisResultError,
    iris_error,
)
from edge.drivers.iris_frames import (
    NAK,
    RESPONSE_BIT,
    STATUS_EVENT,
    CaptureStatus,
    Command,
    Frame,
    FrameReader,
    IrisCrcError,
    IrisDeviceInfo,
    IrisFrameError,
    ResultCode,
    decode_status,
    encode_frame,
)
from edge.drivers.serial_link import SerialDriver, SerialLink

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.iris")

DEFAULT_BAUD_RATE = 115200  # ignored by a USB CDC device; what the driver opens the port at
_RETRIES = 2  # extra attempts after a NAK (any command) or a damaged answer (idempotent ones)
_EVENT_BACKLOG = 256

_T = TypeVar("_T")


class SerialPort(Protocol):
    """What the driver needs of a pyserial port (``serial.serial_for_url(...)``)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


class IrisExchange(SerialDriver[SerialPort]):
    """Requests and status events with one iris camera on an open serial port.

    The port's read timeout becomes a short poll interval (50 ms); ``timeout`` is how long it
    waits for each answer. One thread at a time: it holds no lock.
    """

    def __init__(self, port: SerialPort, *, timeout: float = 2.0, auto_init: bool = True) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._link = SerialLink(port, wire_log=wire_log, disconnected=self._disconnected)
        self.timeout = timeout
        self.auto_init = auto_init
        self._reader = FrameReader()
        self._seq = 0
        self._events: collections.deque[CaptureStatus] = collections.deque(maxlen=_EVENT_BACKLOG)
        self._push = False
        self._last_status: CaptureStatus | None = None
        self._info: IrisDeviceInfo | None = None
        self._size: tuple[int, int] | None = None
        self.counters: dict[str, int] = {
            "commands": 0,
            "retries": 0,
            "stale_frames": 0,
            "damaged_frames": 0,
            "events": 0,
        }

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baudrate: int = DEFAULT_BAUD_RATE,
        timeout: float = 2.0,
        auto_init: bool = True,
    ) -> Self:
        """Open ``url`` with pyserial and drive it; :meth:`close` closes the port again."""
        return cls._on_url(
            url,
            baudrate,
            lambda detail: iris_error(CANNOT_OPEN, detail=detail),
            timeout=timeout,
            auto_init=auto_init,
        )

    @property
    def last_status(self) -> CaptureStatus | None:
        """The latest status seen, pushed or polled (``None`` before any)."""
        return self._last_status

    def init(self) -> tuple[int, int]:
        """INIT, which the camera's own class sends (and :meth:`_request` after a re-plug)."""
        raise NotImplementedError

    def _request(
        self, command: Command, payload: bytes = b"", *, idempotent: bool = False
    ) -> bytes:
        """Send a command; the response's data after its OK result code.

        A NAK means the camera did nothing: any command is sent again (up to twice). A
        damaged answer means it did: only an ``idempotent`` command is sent again.
        """
        attempt = 0
        while True:
            try:
                return self._with_init(command, lambda: self._exchange(command, payload))
            except (IrisCrcError, IrisResultError) as exc:
                damaged = isinstance(exc, IrisCrcError) and idempotent
                rejected = isinstance(exc, IrisResultError) and exc.code == ResultCode.BAD_FRAME
                if attempt >= _RETRIES or not (damaged or rejected):
                    raise
                attempt += 1
                self.counters["retries"] += 1
                log.info(
                    "iris camera on %s: %s; sending %s again", self.port_name, exc, command.name
                )

    def _with_init(self, command: Command, exchange: Callable[[], _T]) -> _T:
        try:
            return exchange()
        except IrisResultError as exc:
            if exc.code != ResultCode.NOT_INITIALISED:
                raise
            if not self.auto_init or command in (Command.INIT, Command.GET_INFO):
                raise
            log.info(
                "iris camera on %s is not initialised (re-plugged?); initialising", self.port_name
            )
            self.init()
            return exchange()

    def _exchange(self, command: Command, payload: bytes) -> bytes:
        self._seq = seq = (self._seq + 1) & 0xFF
        self.counters["commands"] += 1
        self._link.write(encode_frame(command, seq, payload))
        expected = command | RESPONSE_BIT
        what = f"its answer to {command.name}"
        deadline = time.monotonic() + self.timeout
        damaged: IrisCrcError | None = None
        while True:
            try:
                frame = self._link.read_frame(self._reader, deadline)
            except IrisCrcError as exc:
                self.counters["damaged_frames"] += 1
                if exc.frame_seq == seq and exc.frame_code in (expected, NAK):
                    raise
                # Perhaps a damaged status event: the answer may still come.
                wire_log.debug("<- damaged frame while waiting for %s, skipped", what)
                damaged = exc
                continue
            if frame is None:
                if damaged is not None:
                    raise damaged
                raise self._timeout(what)
            if frame.code == STATUS_EVENT:
                self._on_event(frame)
                continue
            if frame.seq != seq or not (frame.is_response or frame.code == NAK):
                self.counters["stale_frames"] += 1
                wire_log.debug("<- stale frame #%d dropped (waiting for #%d)", frame.seq, seq)
                continue
            if frame.code == NAK:
                raise iris_error(ResultCode.BAD_FRAME, call=command.name)
            if frame.code != expected:
                raise IrisFrameError(f"the camera sent a {frame.describe()} where {what} was due")
            break
        if not frame.payload:
            raise IrisFrameError(f"the camera's answer to {command.name} is empty")
        code = frame.payload[0]
        if code != ResultCode.OK:
            raise iris_error(code, call=command.name)
        return frame.payload[1:]

    def _wait_for_event(self, deadline: float) -> CaptureStatus | None:
        """Read the line until a status event arrives (returned) or ``deadline`` passes."""
        while True:
            try:
                frame = self._link.read_frame(self._reader, deadline)
            except IrisCrcError:
                self.counters["damaged_frames"] += 1
                wire_log.debug("<- damaged frame while waiting for status, skipped")
                continue
            if frame is None:
                return None
            if frame.code == STATUS_EVENT:
                self._on_event(frame)
                return self._events.popleft() if self._events else None
            self.counters["stale_frames"] += 1
            wire_log.debug("<- stale frame #%d dropped", frame.seq)

    def _on_event(self, frame: Frame) -> None:
        try:
            status = decode_status(frame.payload, pushed=True)
        except IrisFrameError as exc:
            log.warning(
                "iris camera on %s sent an unreadable status event: %s", self.port_name, exc
            )
            return
        self.counters["events"] += 1
        self._last_status = status
        self._events.append(status)

    def _timeout(self, what: str) -> IrisResultError:
        return iris_error(NOT_ANSWERING, detail=f"on {self.port_name} waiting for {what}")

    def _disconnected(self, exc: BaseException) -> IrisResultError:
        return iris_error(DISCONNECTED, detail=f"on {self.port_name}: {exc}")
