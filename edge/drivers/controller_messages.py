"""The station controller's messages: ids, the board's enums, what it reports, their codecs.

Pure data and functions of ``docs/controller-protocol.md`` (the firmware's copy of the ids is
``firmware/messages.py``); the driver (``controller``) sends and receives them over the link.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH_2024 = datetime(2024, 1, 1, tzinfo=UTC)

# Message ids (docs/controller-protocol.md; the firmware's copy is firmware/messages.py).
IDENTIFY, PING, TIME_SYNC, SET_LEDS, BUZZER, SET_CONFIG = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06
TAMPER_CHALLENGE, TAMPER_CLEAR, MAINTENANCE, READ_SENSORS = 0x07, 0x08, 0x09, 0x0A
GET_STATUS, LINK_TEST = 0x0B, 0x0C
IDENTITY, PONG, RESULT, READINGS, EVENT, GPS = 0x81, 0x82, 0x83, 0x84, 0x85, 0x86
BOOT, CHALLENGE, STATUS = 0x87, 0x88, 0x89

EV_BUTTON, EV_TAMPER, EV_POWER, EV_HOST, EV_SENSOR, EV_TAMPER_CLEARED = 1, 2, 3, 4, 5, 6
EV_LINK_TEST = 0x7F


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


def decode_identity(r: bytes) -> Identity:
    """IDENTITY's body (after the tag)."""
    proto, caps, leds = struct.unpack_from(">BHB", r, 0)
    boot_count, cause = struct.unpack_from(">HB", r, 12)
    return Identity(
        firmware_version=r[15:].decode("ascii", "replace"),
        protocol=proto,
        board_id=bytes(r[4:12]),
        capabilities=Capability(caps),
        led_count=leds,
        boot_count=boot_count,
        reset_cause=reset_cause(cause),
    )


def decode_board_status(r: bytes) -> BoardStatus:
    """STATUS's body (after the tag)."""
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


def encode_leds(leds: Sequence[Led], first: int = 0) -> bytes:
    """SET_LEDS's body: the first LED's index, then red, green, blue and mode of each."""
    return bytes([first]) + b"".join(
        bytes((_byte(x.red), _byte(x.green), _byte(x.blue), int(x.mode))) for x in leds
    )


def decode_event(mid: int, body: bytes, received: datetime) -> ControllerEvent | None:
    """The event in a board message, or ``None`` for a message or event kind this host does not
    know (a newer firmware's). A malformed body raises ``struct.error``, ``ValueError`` or
    ``IndexError``."""
    if mid == BOOT:
        boot_count, cause, latched = struct.unpack_from(">HBB", body)
        return BoardBooted(
            0.0,
            received,
            boot_count,
            reset_cause(cause),
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
    return None


def _byte(value: int) -> int:
    if not 0 <= value <= 255:
        raise ValueError(f"LED colour component {value} is not 0..255")
    return value


def reset_cause(value: int) -> ResetCause:
    try:
        return ResetCause(value)
    except ValueError:
        return ResetCause.SOFT
