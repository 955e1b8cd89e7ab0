"""Driver for the station controller board (RP2040 running ``firmware/``), over its serial link.

The driver receives an open port (``serial.serial_for_url(url, baudrate=115200)``: a USB
serial device, a pty or ``socket://`` of the simulator) and never opens one itself. It runs
one background thread that keeps the link (``controller_link.HostLink``) going, answers the
board's frames and hands out what the board reports:

    controller = Controller(port, on_event=print)
    controller.wait_ready()
    controller.identify()                 # -> Identity
    controller.set_leds([Led(0, 255, 0)]); controller.beep(Beep.SHORT)
    controller.read_sensors()             # -> Readings
    controller.events.get()               # Readings | ButtonPressed | TamperOpened | ...

Every public method is safe to call from any thread. Errors derive from ``ControllerError``
and say what the person at the station can do. Wire traffic logs to ``ewp.wire.controller``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from edge.drivers.controller_link import HostLink, LinkStats
from edge.drivers.controller_messages import (
    BUZZER,
    CHALLENGE,
    EPOCH_2024,
    GET_STATUS,
    IDENTIFY,
    IDENTITY,
    LINK_TEST,
    MAINTENANCE,
    PING,
    PONG,
    READ_SENSORS,
    RESULT,
    SET_CONFIG,
    SET_LEDS,
    STATUS,
    TAMPER_CHALLENGE,
    TAMPER_CLEAR,
    TIME_SYNC,
    Beep,
    BoardStatus,
    ControllerEvent,
    Identity,
    Led,
    Readings,
    Status,
    TamperChallenge,
    TamperOpened,
    decode_board_status,
    decode_event,
    decode_identity,
    encode_leds,
)
from edge.drivers.device_handle import DeviceHandle

log = logging.getLogger(__name__)
wire = logging.getLogger("ewp.wire.controller")

BAUDRATE = 115200


class ControllerError(Exception):
    """Base of every error of this driver; the message says what to do."""


class ControllerTimeoutError(ControllerError):
    """The board did not answer in time."""


class ControllerRefusedError(ControllerError):
    """The board answered but refused the command."""

    def __init__(self, message: str, status: Status) -> None:
        super().__init__(message)
        self.status = status


class TamperClearRefusedError(ControllerRefusedError):
    """The tamper latch stays set: the authorisation was wrong, stale or impossible."""


class SerialPort(Protocol):
    """What the driver needs of a pyserial port."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...


@dataclass
class _Pending:
    done: threading.Event
    reply: bytes | None = None


class Controller(DeviceHandle):
    """The station controller, over an open serial port."""

    def __init__(
        self,
        port: SerialPort,
        *,
        name: str | None = None,
        on_event: Callable[[ControllerEvent], None] | None = None,
        max_queued_events: int = 1000,
    ) -> None:
        self._port = port
        self.name = name or str(getattr(port, "port", None) or getattr(port, "name", "?"))
        self._on_event = on_event
        self.events: queue.Queue[ControllerEvent] = queue.Queue(max_queued_events)
        self.latest_readings: Readings | None = None
        self._readings_seq = 0
        self._link = HostLink()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._pending: dict[int, _Pending] = {}
        self._tag = 0
        self._stop = threading.Event()
        self._failure: str | None = None
        port.timeout = 0.005
        # A line that stops taking bytes must not block a caller forever.
        with contextlib.suppress(AttributeError, ValueError):
            setattr(port, "write_timeout", 2.0)  # noqa: B010 - not every port type has it
        self._link.resync()
        self._thread = threading.Thread(
            target=self._run, name=f"controller-{self.name}", daemon=True
        )
        self._thread.start()

    # -- life cycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the driver's thread (the caller closes the port)."""
        self._stop.set()
        self._thread.join(timeout=2)

    @property
    def link_stats(self) -> LinkStats:
        with self._lock:
            return LinkStats(**vars(self._link.stats))

    @property
    def ready(self) -> bool:
        with self._lock:
            return self._link.established

    def wait_ready(self, timeout: float = 5.0) -> None:
        """Wait until the link has a session with the board."""
        with self._cond:
            if not self._cond.wait_for(
                lambda: self._link.established or self._failure is not None, timeout
            ):
                raise self._not_answering(timeout)
        self._check_failure()

    # -- commands -------------------------------------------------------------------------

    def identify(self, timeout: float = 3.0) -> Identity:
        return decode_identity(self._request(IDENTIFY, b"", IDENTITY, timeout))

    def ping(self, timeout: float = 3.0) -> float:
        """Round-trip time of a PING through the link, in seconds."""
        token = struct.pack(">I", int(time.monotonic() * 1000) & 0xFFFFFFFF)
        start = time.perf_counter()
        reply = self._request(PING, token, PONG, timeout)
        if reply[:4] != token:
            raise ControllerError(f"station controller on {self.name} answered a stale ping")
        return time.perf_counter() - start

    def sync_time(self, now: datetime | None = None, timeout: float = 3.0) -> None:
        """Set the board's clock (it stamps the tamper record with it)."""
        now = now or datetime.now(UTC)
        delta = now - EPOCH_2024
        seconds = int(delta.total_seconds())
        self._command(TIME_SYNC, struct.pack(">IH", seconds, delta.microseconds // 1000), timeout)

    def set_leds(self, leds: Sequence[Led], first: int = 0, timeout: float = 3.0) -> None:
        body = encode_leds(leds, first)
        self._command(SET_LEDS, body, timeout)

    def beep(self, pattern: Beep, timeout: float = 3.0) -> None:
        self._command(BUZZER, bytes([int(pattern)]), timeout)

    def configure(
        self, *, reading_interval_s: int = 10, host_timeout_s: int = 0, timeout: float = 3.0
    ) -> None:
        """How often the board reports readings; after how long without us it says so (0: never)."""
        if not 1 <= reading_interval_s <= 3600 or not 0 <= host_timeout_s <= 65535:
            raise ValueError("reading_interval_s must be 1..3600 and host_timeout_s 0..65535")
        self._command(SET_CONFIG, struct.pack(">HH", reading_interval_s, host_timeout_s), timeout)

    def read_sensors(self, timeout: float = 3.0) -> Readings:
        """Measure now and return the result."""
        with self._lock:
            seq = self._readings_seq
        self._command(READ_SENSORS, b"", timeout)
        with self._cond:
            if not self._cond.wait_for(lambda: self._readings_seq > seq, timeout):
                raise self._not_answering(timeout)
            assert self.latest_readings is not None
            return self.latest_readings

    def status(self, timeout: float = 3.0) -> BoardStatus:
        return decode_board_status(self._request(GET_STATUS, b"", STATUS, timeout))

    def tamper_challenge(self, timeout: float = 3.0) -> TamperChallenge:
        """A single-use challenge to pass to whoever holds the board's secret (the fleet)."""
        board_id = self.identify(timeout).board_id
        r = self._request(TAMPER_CHALLENGE, b"", CHALLENGE, timeout)
        return TamperChallenge(board_id, bytes(r[:16]), struct.unpack_from(">H", r, 16)[0])

    def clear_tamper(self, mac: bytes, timeout: float = 3.0) -> None:
        """Clear the latch with the MAC for the last challenge (``protocol.controller_tamper``)."""
        if len(mac) != 16:
            raise ValueError("the tamper clear MAC is 16 bytes")
        status = self._command(TAMPER_CLEAR, mac, timeout, check=False)
        if status is not Status.OK:
            why = {
                Status.UNAUTHORISED: "the authorisation does not match this board and challenge",
                Status.NO_CHALLENGE: "ask for a new challenge first; each is good for one try",
                Status.NOT_PROVISIONED: "the board has no secret: redeploy it with "
                "`ewp firmware deploy --secret-file ...`",
            }.get(status, status.name)
            raise TamperClearRefusedError(f"tamper latch not cleared: {why}", status)

    def enter_maintenance(self, timeout: float = 3.0) -> None:
        """Make the board restart into its REPL (no watchdog) for `ewp firmware deploy`."""
        self._command(MAINTENANCE, b"", timeout)

    def start_link_test(self, count: int, timeout: float = 3.0) -> None:
        """Ask the board to send ``count`` readings and ``count`` events back to back."""
        self._command(LINK_TEST, struct.pack(">H", count), timeout)

    # -- requests -------------------------------------------------------------------------

    def _command(self, mid: int, body: bytes, timeout: float, *, check: bool = True) -> Status:
        r = self._request(mid, body, RESULT, timeout)
        try:
            status = Status(r[0])
        except ValueError:
            status = Status.UNKNOWN_COMMAND
        if check and status is not Status.OK:
            raise ControllerRefusedError(
                f"station controller on {self.name} refused command 0x{mid:02x}: "
                f"{status.name.lower().replace('_', ' ')} (is its firmware up to date? "
                "`ewp firmware deploy`)",
                status,
            )
        return status

    def _request(self, mid: int, body: bytes, reply_id: int, timeout: float) -> bytes:
        self._check_failure()
        deadline = time.monotonic() + timeout
        pending = _Pending(threading.Event())
        with self._lock:
            self._tag = self._tag % 255 + 1
            tag = self._tag
            self._pending[tag] = pending
            message = bytes((mid, len(body) + 1, tag)) + body
            wire.debug("%s: send %s", self.name, message.hex())
            self._link.send(message)
            self._flush_locked(time.monotonic())
        try:
            if not pending.done.wait(max(0.0, deadline - time.monotonic())):
                raise self._not_answering(timeout)
        finally:
            with self._lock:
                self._pending.pop(tag, None)
        self._check_failure()
        reply = pending.reply
        assert reply is not None
        if reply[0] == reply_id:
            return reply[3:]
        if reply[0] == RESULT:
            try:
                status = Status(reply[3])
            except ValueError:
                status = Status.UNKNOWN_COMMAND
            raise ControllerRefusedError(
                f"station controller on {self.name} refused command 0x{mid:02x} "
                f"({status.name.lower().replace('_', ' ')}): is its firmware older than this "
                "station's software? `ewp firmware deploy`",
                status,
            )
        raise ControllerError(
            f"station controller on {self.name} gave a reply of the wrong kind (0x{reply[0]:02x})"
        )

    def _not_answering(self, timeout: float) -> ControllerTimeoutError:
        return ControllerTimeoutError(
            f"station controller not answering on {self.name} within {timeout:g} s "
            f"({BAUDRATE} baud): check its USB cable and that it runs the ewp firmware "
            "(`ewp firmware deploy`)"
        )

    def _check_failure(self) -> None:
        if self._failure is not None:
            raise ControllerError(
                f"lost the station controller on {self.name}: {self._failure}; "
                "check its USB cable, then restart the station agent"
            )

    # -- the link thread ------------------------------------------------------------------

    def _flush_locked(self, now: float) -> None:
        out = self._link.poll(now)
        if out:
            try:
                self._port.write(out)
            except Exception as exc:  # pyserial's SerialTimeoutException, OSError
                raise ControllerError(
                    f"station controller on {self.name} is not taking data ({exc}): check "
                    "its USB cable"
                ) from exc

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._port.read(1)
                if data:
                    waiting = self._port.in_waiting
                    if waiting:
                        data += self._port.read(waiting)
                now = time.monotonic()
                with self._lock:
                    if data:
                        self._link.receive(data, now)
                    self._flush_locked(now)
                    messages = list(self._link.messages)
                    self._link.messages.clear()
                    if self._link.established:
                        self._cond.notify_all()
                for message in messages:
                    self._dispatch(message, now)
        except Exception as exc:  # the port died (cable pulled): tell every caller
            log.warning("station controller on %s: link stopped: %s", self.name, exc)
            with self._cond:
                self._failure = str(exc) or type(exc).__name__
                for pending in self._pending.values():
                    pending.done.set()
                self._cond.notify_all()

    def _dispatch(self, message: bytes, now: float) -> None:
        wire.debug("%s: received %s", self.name, message.hex())
        mid, body = message[0], message[2:]
        if mid in (IDENTITY, PONG, RESULT, CHALLENGE, STATUS):
            if not body:
                return
            with self._lock:
                pending = self._pending.get(body[0])
            if pending is not None:
                pending.reply = bytes((mid, len(body))) + body
                pending.done.set()
            return
        try:
            event = decode_event(mid, body, datetime.now(UTC))
        except (struct.error, ValueError, IndexError):
            log.warning(
                "station controller on %s sent a malformed message %s", self.name, message.hex()
            )
            return
        if event is None:
            log.debug("station controller on %s: ignoring message %s", self.name, message.hex())
            return
        if isinstance(event, Readings):
            with self._cond:
                self.latest_readings = event
                self._readings_seq += 1
                self._cond.notify_all()
        self._emit(event)

    def _emit(self, event: ControllerEvent) -> None:
        if isinstance(event, TamperOpened):
            log.warning("station controller on %s: TAMPER (count %d)", self.name, event.count)
        while True:
            try:
                self.events.put_nowait(event)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.events.get_nowait()  # keep the newest
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("station controller event handler failed on %s", event)
