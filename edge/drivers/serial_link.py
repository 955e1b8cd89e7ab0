"""The serial line as the fingerprint and iris drivers use it: an open pyserial port.

A driver receives an **open** port (``serial.serial_for_url(url, ...)``: ``/dev/ttyUSB0``,
``socket://127.0.0.1:7001`` or a simulator's pty) and speaks its own protocol over it. What
the drivers do the same way with the port, whatever the protocol, is here:

* the port's read timeout is a short poll interval (:data:`POLL_INTERVAL`), so that the
  driver checks its own deadline between reads; the driver's ``timeout`` bounds an answer;
* a read takes at least what the driver's parser needs, or all that is waiting, in one call;
  :meth:`SerialLink.read_frame` feeds the driver's frame parser (``frame_parser``) until it
  has a whole frame or the driver's deadline passes, logging line noise and frames received;
* writes are logged at DEBUG on the driver's wire logger (``-> ef 01 ...``);
* pyserial's ``SerialException``, an ``OSError`` or ``termios.error`` (a cable pulled, a pty
  closed, a socket reset) become the driver's own "disconnected" error, whose message says
  what to do;
* a port the driver opened itself (``SerialDriver._on_url``, for command lines) is closed with
  the driver (:class:`SerialDriver`: ``close()`` and ``with``); a port passed in stays the
  caller's.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, Self, TypeVar

import serial

from edge.drivers.device_handle import DeviceHandle

# The port's own read timeout: how long one ``read()`` may block before the driver checks its
# deadline again. The driver's ``timeout`` is what bounds a reply.
POLL_INTERVAL = 0.05
# What pyserial raises when the line goes away: SerialException (a pty closed, a socket
# reset), a bare OSError, or termios.error from a tty call on a vanished device.
LINE_FAILURES: tuple[type[BaseException], ...] = (serial.SerialException, OSError)
try:
    import termios

    LINE_FAILURES += (termios.error,)
except ImportError:  # pragma: no cover - not a POSIX host
    pass


class LinePort(Protocol):
    """What a link needs of a pyserial port; a driver's own port protocol may ask for more."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...


PortT = TypeVar("PortT", bound=LinePort)


class Describable(Protocol):
    def describe(self) -> str: ...


FrameT = TypeVar("FrameT", bound=Describable, covariant=True)


class FrameSource(Protocol[FrameT]):
    """What :meth:`SerialLink.read_frame` needs of a parser (``frame_parser.SyncFrameParser``)."""

    @property
    def skipped(self) -> int: ...

    @property
    def bytes_needed(self) -> int: ...

    def feed(self, data: bytes) -> None: ...

    def next_frame(self) -> FrameT | None: ...


class SerialLink(Generic[PortT]):
    """An open port as a driver talks over it; ``disconnected(exc)`` is the driver's error."""

    def __init__(
        self,
        port: PortT,
        *,
        wire_log: logging.Logger,
        disconnected: Callable[[BaseException], Exception],
    ) -> None:
        self.port = port
        self.owns_port = False  # set by a driver that opened the port itself
        self._wire_log = wire_log
        self._disconnected = disconnected
        port.timeout = POLL_INTERVAL

    @property
    def name(self) -> str:
        """The port's name for messages (``/dev/ttyUSB0``, ``socket://...``)."""
        name = getattr(self.port, "port", None) or getattr(self.port, "name", None)
        return str(name) if name else "the serial port"

    @contextlib.contextmanager
    def translating_failures(self) -> Iterator[None]:
        """Run a block on the port; a failure of the line in it raises the driver's error."""
        try:
            yield
        except LINE_FAILURES as exc:
            raise self._disconnected(exc) from None

    def read_for(self, needed: int) -> bytes:
        """At least ``needed`` bytes or all that is waiting, in one read (``b""`` after a poll)."""
        with self.translating_failures():
            waiting = int(getattr(self.port, "in_waiting", 0) or 0)
            return self.port.read(max(needed, waiting, 1))

    def read_frame(self, parser: FrameSource[FrameT], deadline: float) -> FrameT | None:
        """The next whole frame from ``parser``, fed from the port; ``None`` once ``deadline``
        (``time.monotonic()``) has passed without one.

        A damaged frame raises the parser's error; a failure of the line, the driver's.
        """
        while True:
            skipped = parser.skipped
            try:
                frame = parser.next_frame()
            finally:
                if parser.skipped != skipped:
                    noise = parser.skipped - skipped
                    self._wire_log.debug("<- skipped %d bytes of line noise", noise)
            if frame is not None:
                if self._wire_log.isEnabledFor(logging.DEBUG):
                    self._wire_log.debug("<- %s", frame.describe())
                return frame
            if time.monotonic() >= deadline:
                return None
            # At least what the parser needs in one read (a whole frame when it can).
            parser.feed(self.read_for(parser.bytes_needed))

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes (``b""`` after a poll interval with nothing to read)."""
        with self.translating_failures():
            return self.port.read(size)

    def write(self, data: bytes) -> None:
        if self._wire_log.isEnabledFor(logging.DEBUG):
            shown = data[:40].hex(" ") + (" ..." if len(data) > 40 else "")
            self._wire_log.debug("-> %s", shown)
        with self.translating_failures():
            self.port.write(data)

    def close(self) -> None:
        """Close the port if the driver opened it (a port passed in stays the caller's)."""
        if self.owns_port:
            close: Callable[[], None] | None = getattr(self.port, "close", None)
            if close is not None:
                close()


class SerialDriver(DeviceHandle, Generic[PortT]):
    """What a driver on a :class:`SerialLink` does the same way as every other: its port's name
    for messages, and closing a port it opened itself (``close()``, or leaving a ``with``)."""

    _link: SerialLink[PortT]

    @property
    def port_name(self) -> str:
        return self._link.name

    def close(self) -> None:
        """Close the port if the driver opened it (a port passed in stays the caller's)."""
        self._link.close()

    @classmethod
    def _on_url(
        cls, url: str, baudrate: int, cannot_open: Callable[[str], Exception], **options: Any
    ) -> Self:
        """``cls(port, **options)`` on ``url`` opened with pyserial, closing the port again on
        :meth:`close` (for command lines and scripts; long-running code opens the port itself
        and passes it). ``cannot_open(detail)`` is the driver's error when the port will not
        open."""
        try:
            port = serial.serial_for_url(url, baudrate=baudrate, timeout=POLL_INTERVAL)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise cannot_open(f"{url}: {exc}") from None
        driver = cls(port, **options)  # type: ignore[call-arg]  # each driver's own __init__
        driver._link.owns_port = True
        return driver
