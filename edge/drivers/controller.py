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
import enum
import logging
import queue
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from edge.drivers.controller_link import HostLink, LinkStats

log = logging.getLogger(__name__)
wire = logging.getLogger("ewp.wire.controller")

BAUDRATE = 115200
EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)

# Message ids (docs/controller-protocol.md; the firmware's copy is firmware/messages.py).
IDENTIFY, PING, TIME_SYNC, SET_LEDS, BUZZER, SET_CONFIG = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
TAMPER_CHALLENGE, TAMPER_CLEAR, MAINTENANCE, READ_SENSORS = 0x07, 0x08, 0x09, 0x0A
GET_STATUS, LINK_TEST = 0x0B, 0x0C
IDENTITY, PONG, RESULT, READINGS, EVENT, GPS = 0x81, 0x82, 0x83, 0x84, 0x85, 0x86
BOOT, CHALLENGE, STATUS = 0x87, 0x88, 0x89

EV_BUTTON, EV_TAMPER, EV_POWER, EV_HOST, EV_SENSOR, EV_TAMPER_CLEARED = 1, 2, 3, 4, 5, 6
EV_LINK_TEST = 0x7F


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


class Status(enum.IntEnum):
    OK = 0
    BAD_REQUEST = 1
    UNAUTHORISED = 2
    NO_CHALLENGE = 3
    NOT_PROVISIONED = 4
    UNKNOWN_COMMAND = 5


class Capability(enum.IntFlag):
    LEDS = 0x0001
    BUZZER = 0x0002
    BUTTON = 0x0004
    TAMPER = 0x0008
    CLIMATE = 0x0010
    BATTERY = 0x0020
    GPS = 0x0040
    POWER_SENSE = 0x0080
    WATCHDOG = 0x0100


class ResetCause(enum.IntEnum):
    POWER_ON = 0
    WATCHDOG = 1
    SOFT = 2


class LedMode(enum.IntEnum):
    SOLID = 0
    BLINK = 1
    FAST = 2
    PULSE = 3


class Beep(enum.IntEnum):
    OFF = 0
    SHORT = 1  # a good capture
    DOUBLE = 2  # try again
    LONG = 3  # done
    ERROR = 4
    ALARM = 5  # until Beep.OFF


@dataclass(frozen=True)
class Led:
    red: int
    green: int
    blue: int
    mode: LedMode = LedMode.SOLID


LED_OFF = Led(0, 0, 0)


@dataclass(frozen=True)
class Identity:
    firmware_version: str
    protocol: int
    board_id: bytes
    capabilities: Capability
    led_count: int
    boot_count: int
    reset_cause: ResetCause


@dataclass(frozen=True)
class BoardStatus:
    tamper_latched: bool
    tamper_count: int
    tamper_at: datetime | None  # when it latched, if the board's clock was set
    time_synced: bool
    climate_sensor_ok: bool
    external_power: bool
    provisioned: bool  # has a secret, so a latch can be cleared
    host_lost: bool
    uptime_s: int
    messages_dropped: int
    reading_interval_s: int
    host_timeout_s: int


@dataclass(frozen=True)
class TamperChallenge:
    board_id: bytes
    nonce: bytes
    tamper_count: int


# -- what the board reports (events) ------------------------------------------------------


@dataclass(frozen=True)
class BoardEvent:
    uptime_s: float  # board time since boot
    received_at: datetime


@dataclass(frozen=True)
class Readings(BoardEvent):
    temperature_c: float | None  # None when the sensor is missing
    humidity_pct: float | None
    battery_v: float | None
    external_power: bool


@dataclass(frozen=True)
class ButtonPressed(BoardEvent):
    long: bool


@dataclass(frozen=True)
class TamperOpened(BoardEvent):
    count: int
    at_boot: bool  # True: still latched from before a power cycle; False: opened just now


@dataclass(frozen=True)
class TamperCleared(BoardEvent):
    count: int


@dataclass(frozen=True)
class PowerChanged(BoardEvent):
    external_power: bool


@dataclass(frozen=True)
class HostWatchdog(BoardEvent):
    host_lost: bool  # True: no message from us for host_timeout_s; False: we are back


@dataclass(frozen=True)
class SensorChanged(BoardEvent):
    present: bool


@dataclass(frozen=True)
class GpsSentence(BoardEvent):
    sentence: str


@dataclass(frozen=True)
class BoardBooted(BoardEvent):
    boot_count: int
    reset_cause: ResetCause
    tamper_latched: bool
    firmware_version: str


@dataclass(frozen=True)
class LinkTestMessage(BoardEvent):
    remaining: int


ControllerEvent = (
    Readings
    | ButtonPressed
    | TamperOpened
    | TamperCleared
    | PowerChanged
    | HostWatchdog
    | SensorChanged
    | GpsSentence
    | BoardBooted
    | LinkTestMessage
)


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


class Controller:
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

    def __enter__(self) -> Controller:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        r = self._request(IDENTIFY, b"", IDENTITY, timeout)
        proto, caps, leds = struct.unpack_from(">BHB", r, 0)
        boot_count, cause = struct.unpack_from(">HB", r, 12)
        return Identity(
            firmware_version=r[15:].decode("ascii", "replace"),
            protocol=proto,
            board_id=bytes(r[4:12]),
            capabilities=Capability(caps),
            led_count=leds,
            boot_count=boot_count,
            reset_cause=_reset_cause(cause),
        )

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
        body = bytes([first]) + b"".join(
            bytes((_byte(x.red), _byte(x.green), _byte(x.blue), int(x.mode))) for x in leds
        )
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
        r = self._request(GET_STATUS, b"", STATUS, timeout)
        flags, count, at, uptime, dropped, interval, host_timeout = struct.unpack(">BHIIHHH", r)
        return BoardStatus(
            tamper_latched=bool(flags & 0x01),
            tamper_count=count,
            tamper_at=EPOCH_2024 + timedelta(seconds=at) if at else None,
            time_synced=bool(flags & 0x02),
            climate_sensor_ok=bool(flags & 0x04),
            external_power=bool(flags & 0x08),
            provisioned=bool(flags & 0x10),
            host_lost=bool(flags & 0x20),
            uptime_s=uptime,
            messages_dropped=dropped,
            reading_interval_s=interval,
            host_timeout_s=host_timeout,
        )

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
            event = self._decode_event(mid, body)
        except (struct.error, ValueError, IndexError):
            log.warning(
                "station controller on %s sent a malformed message %s", self.name, message.hex()
            )
            return
        if event is None:
            return
        if isinstance(event, Readings):
            with self._cond:
                self.latest_readings = event
                self._readings_seq += 1
                self._cond.notify_all()
        self._emit(event)

    def _decode_event(self, mid: int, body: bytes) -> ControllerEvent | None:
        received = datetime.now(UTC)
        if mid == BOOT:
            boot_count, cause, latched = struct.unpack_from(">HBB", body)
            return BoardBooted(
                0.0,
                received,
                boot_count,
                _reset_cause(cause),
                bool(latched),
                body[4:].decode("ascii", "replace"),
            )
        up_s, up_ms = struct.unpack_from(">IH", body)
        uptime = up_s + up_ms / 1000
        if mid == READINGS:
            flags, t, h, mv = struct.unpack_from(">BhHH", body, 6)
            climate = bool(flags & 0x01)
            return Readings(
                uptime,
                received,
                temperature_c=t / 100 if climate else None,
                humidity_pct=h / 100 if climate else None,
                battery_v=mv / 1000 if flags & 0x02 else None,
                external_power=bool(flags & 0x04),
            )
        if mid == GPS:
            return GpsSentence(uptime, received, body[6:].decode("ascii", "replace"))
        if mid != EVENT:
            log.debug("station controller on %s: ignoring message 0x%02x", self.name, mid)
            return None
        kind, value, count = struct.unpack_from(">BBH", body, 6)
        if kind == EV_BUTTON:
            return ButtonPressed(uptime, received, long=value == 2)
        if kind == EV_TAMPER:
            return TamperOpened(uptime, received, count=count, at_boot=value == 2)
        if kind == EV_TAMPER_CLEARED:
            return TamperCleared(uptime, received, count=count)
        if kind == EV_POWER:
            return PowerChanged(uptime, received, external_power=bool(value))
        if kind == EV_HOST:
            return HostWatchdog(uptime, received, host_lost=value == 0)
        if kind == EV_SENSOR:
            return SensorChanged(uptime, received, present=bool(value))
        if kind == EV_LINK_TEST:
            return LinkTestMessage(uptime, received, remaining=count)
        log.debug("station controller on %s: unknown event kind %d", self.name, kind)
        return None

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


def _byte(value: int) -> int:
    if not 0 <= value <= 255:
        raise ValueError(f"LED colour component {value} is not 0..255")
    return value


def _reset_cause(value: int) -> ResetCause:
    try:
        return ResetCause(value)
    except ValueError:
        return ResetCause.SOFT
