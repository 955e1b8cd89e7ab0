"""A simulated IriShield-style USB iris camera: the device side of ``docs/iris-protocol.md``.

Written from the protocol page, independently of the host driver (``edge`` is never imported
here; this module has its own frame codec and its own CRC), so that a misreading of the page
in one is caught by the other.

What it models:

* the frames (``A5 5A | LEN | LCS | CODE | SEQ | PAYLOAD | CRC-16/CCITT-FALSE``), a NAK for
  a damaged command, line noise and false syncs skipped, a half-received frame dropped after
  an idle second;
* the commands and the state machine of the protocol page (IDLE, READY, CAPTURING, COMPLETE,
  ABORT), with the result code the page gives for every refusal; a camera that is not
  initialised when it is plugged in (every new host connection is a power-up);
* **timing**: once READY, an eye must be in view for a *find time* before CAPTURING; the
  capture then lasts a *capture time* (both drawn per capture from ``Timing``: 0.3-0.8 s and
  0.5-2 s by default, a few hundredths of a second with ``FAST_TIMING``), frames counted at
  the frame rate; status events on every state change and every status interval while
  capturing, when the host asked for them;
* who is in front of the camera: a person placed by a tester (``manual``: eyes open or closed,
  eyelid occlusion, blur, per eye), or a scripted applicant (``auto``): a sequence of persons
  each captured ``captures_per_person`` times, each eye of each capture poor with probability
  ``poor_rate`` (deterministic from the seed);
* synthetic NIR eye images (``iris_images``): deterministic per person, eye and capture, with
  the camera's quality scores computed from the same render, so a drooping eyelid or a
  defocused eye scores low and fails to qualify;
* faults (``iris_faults``): no eye found, occlusion, blur, a sensor fault, busy, damaged
  frames, lost status events, silence, noise, a cable pulled in the middle of an image, any
  forced result code.
"""

from __future__ import annotations

import hashlib
import io
import logging
import random
import struct
import time
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from simulators.iris_faults import COMMAND_NAMES, Fault, FaultPlan
from simulators.iris_images import (
    HEIGHT,
    WIDTH,
    EyeConditions,
    EyeSide,
    IrisIdentity,
    RenderedEye,
    render_eye,
)
from simulators.serial_endpoints import ByteStream, Transport
from simulators.simulated_device import HostLineReader, Mode, RunningSimulator, SimulatedDevice

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.sim.iris")

# --- the camera's frame codec (its own, from the protocol page) ----------------------------

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 4160
MAX_BLOCK = 4096
_IDLE_DROP = 1.0  # seconds of silence after which a half-received frame is dropped


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE as the page defines it: poly 0x1021, init 0xFFFF, MSB first."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc


def build_frame(code: int, seq: int, payload: bytes = b"", *, corrupt: bool = False) -> bytes:
    length = len(payload)
    lcs = (0x100 - ((length >> 8) + (length & 0xFF)) % 0x100) % 0x100
    body = length.to_bytes(2, "big") + bytes((lcs, code, seq)) + payload
    crc = crc16_ccitt(body)
    if corrupt:
        crc ^= 0x5A5A
    return SYNC + body + crc.to_bytes(2, "big")


_Outgoing = tuple[int, int, bytes]  # code, seq, payload of a frame to send


@dataclass(frozen=True)
class HostFrame:
    code: int
    seq: int
    payload: bytes
    crc_ok: bool


class HostFrameScanner:
    """How the camera reads its line: hunt for ``A5 5A``, check LEN and LCS, wait for the rest."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> bool:
        return bool(self._buffer)

    def drop_partial(self) -> None:
        """The line went idle in the middle of a frame: give up on that sync."""
        if self._buffer:
            del self._buffer[:1]

    def next_frame(self) -> HostFrame | None:
        buf = self._buffer
        while True:
            start = buf.find(SYNC)
            if start < 0:
                keep = 1 if buf.endswith(b"\xa5") else 0
                del buf[: len(buf) - keep]
                return None
            del buf[:start]
            if len(buf) < 7:
                return None
            length = int.from_bytes(buf[2:4], "big")
            if length > MAX_PAYLOAD or (buf[2] + buf[3] + buf[4]) % 0x100:
                del buf[:1]
                continue
            total = 9 + length
            if len(buf) < total:
                return None
            body = bytes(buf[2 : total - 2])
            received = int.from_bytes(buf[total - 2 : total], "big")
            del buf[:total]
            return HostFrame(
                code=body[3],
                seq=body[4],
                payload=body[5:],
                crc_ok=received == crc16_ccitt(body),
            )


# --- protocol numbers ----------------------------------------------------------------------

INIT, GET_INFO, START_CAPTURE, GET_STATUS, TRIGGER = 0x01, 0x02, 0x03, 0x04, 0x05
STOP_CAPTURE, GET_RESULT_QUALITY, GET_RESULT_IMAGE, CLEAR = 0x06, 0x07, 0x08, 0x09
STATUS_EVENT, NAK = 0xE0, 0xFF
MAX_COMMAND = 0x5F  # command codes 0x00..0x5F; their answers are code | 0x80

OK, BAD_FRAME, UNKNOWN_COMMAND, INVALID_PARAMETER = 0x00, 0x01, 0x02, 0x03
NOT_INITIALISED, DEVICE_BUSY, INVALID_STATE = 0x04, 0x05, 0x06
NO_FRAME_AVAILABLE, NO_QUALIFIED_FRAME = 0x10, 0x11
LEFT_FRAME_UNQUALIFIED, RIGHT_FRAME_UNQUALIFIED, CAPTURE_ABORTED, SENSOR_FAULT = (
    0x12,
    0x13,
    0x14,
    0x20,
)

IDLE, READY, CAPTURING, COMPLETE, ABORT = 0, 1, 2, 3, 4
STATE_NAMES = {
    IDLE: "IDLE",
    READY: "READY",
    CAPTURING: "CAPTURING",
    COMPLETE: "COMPLETE",
    ABORT: "ABORT",
}

LEFT, RIGHT, BOTH = 1, 2, 3
_SIDES = {LEFT: EyeSide.LEFT, RIGHT: EyeSide.RIGHT}
THRESHOLDS = (40, 60, 75)  # total score to qualify: normal, high, very high

_PARAMETER_SIZES = {
    INIT: 0,
    GET_INFO: 0,
    START_CAPTURE: 8,
    GET_STATUS: 0,
    TRIGGER: 0,
    STOP_CAPTURE: 0,
    GET_RESULT_QUALITY: 1,
    GET_RESULT_IMAGE: 9,
    CLEAR: 0,
}
_WITHOUT_INIT = (INIT, GET_INFO, GET_STATUS)
_USB_FULL_SPEED = 10_000_000  # paced "baud": 1 MB/s, what a CDC device does on full-speed USB


# --- timing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """How long things take, in seconds; each capture draws its own from the ranges."""

    find: tuple[float, float] = (0.3, 0.8)  # an eye in view before the capture starts
    capture: tuple[float, float] = (0.5, 2.0)  # CAPTURING to COMPLETE (time-based)
    frame_rate: float = 15.0
    status_interval: float = 0.25  # status events while capturing

    def __post_init__(self) -> None:
        for name, (low, high) in (("find", self.find), ("capture", self.capture)):
            if not 0 <= low <= high:
                raise ValueError(f"{name} time range must be 0 <= min <= max, got {low}..{high}")
        if self.frame_rate <= 0 or self.status_interval <= 0:
            raise ValueError("frame rate and status interval must be positive")


DEFAULT_TIMING = Timing()
FAST_TIMING = Timing(
    find=(0.01, 0.03), capture=(0.04, 0.08), frame_rate=250.0, status_interval=0.02
)


# --- who is in front of the camera ---------------------------------------------------------


@dataclass(frozen=True)
class Sitting:
    """A person in front of the camera, with the conditions of each eye."""

    person: int
    left: EyeConditions
    right: EyeConditions

    def eye(self, side: EyeSide) -> EyeConditions:
        return self.left if side is EyeSide.LEFT else self.right

    def open_mask(self) -> int:
        return (LEFT if self.left.open else 0) | (RIGHT if self.right.open else 0)

    def describe(self) -> dict[str, object]:
        return {"person": self.person, "left": self.left.describe(), "right": self.right.describe()}


OpenEyes = Literal["both", "left", "right", "none"]


def _conditions(
    value: EyeConditions | dict[str, object] | None, base: EyeConditions
) -> EyeConditions:
    if value is None:
        return base
    if isinstance(value, EyeConditions):
        return value
    unknown = set(value) - {"open", "occlusion", "blur"}
    if unknown:
        raise ValueError(f"unknown eye condition {sorted(unknown)}: use open, occlusion, blur")
    return EyeConditions(
        open=bool(value.get("open", base.open)),
        occlusion=float(value.get("occlusion", base.occlusion)),  # type: ignore[arg-type]
        blur=float(value.get("blur", base.blur)),  # type: ignore[arg-type]
    )


class ManualPresenter:
    """A person placed in front of the camera by a tester; stays until withdrawn."""

    mode = "manual"

    def __init__(self) -> None:
        self._sitting: Sitting | None = None

    def present(self, sitting: Sitting) -> None:
        self._sitting = sitting

    def withdraw(self) -> None:
        self._sitting = None

    def in_view(self) -> Sitting | None:
        return self._sitting

    def completed(self, sitting: Sitting) -> None:
        """A capture of this person completed; a tester's person stays."""

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "in_view": None if self._sitting is None else self._sitting.describe(),
        }


class AutoApplicant:
    """A scripted queue of applicants, each captured ``captures_per_person`` times.

    Capture ``n`` (counting completed captures) is of person ``n // captures_per_person``;
    person ids are drawn from the seed. Each eye of each capture is poor (a drooping eyelid,
    defocus, or both) with probability ``poor_rate``, drawn deterministically.
    """

    mode = "auto"

    def __init__(
        self, *, seed: int, index: int = 0, captures_per_person: int = 2, poor_rate: float = 0.0
    ) -> None:
        self.seed = seed
        self.index = index
        self.captures_per_person = captures_per_person
        self.poor_rate = poor_rate
        self._person_rng = random.Random(seed + index)
        self._persons: list[int] = []
        self._number = 0
        self._sitting = self._make(0)

    def person(self, k: int) -> int:
        while len(self._persons) <= k:
            self._persons.append(self._person_rng.randrange(1, 1_000_000))
        return self._persons[k]

    def _eye(self, number: int, side: EyeSide) -> EyeConditions:
        key = f"{self.seed + self.index}:{number}:{side.value}"
        poor = random.Random(key).random() < self.poor_rate
        digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
        rng = np.random.default_rng(int.from_bytes(digest, "big"))
        return EyeConditions.poor(rng) if poor else EyeConditions.good(rng)

    def _make(self, number: int) -> Sitting:
        person = self.person(number // self.captures_per_person)
        return Sitting(person, self._eye(number, EyeSide.LEFT), self._eye(number, EyeSide.RIGHT))

    def in_view(self) -> Sitting:
        return self._sitting

    def completed(self, sitting: Sitting) -> None:
        if sitting != self._sitting:
            return
        self._number += 1
        self._sitting = self._make(self._number)

    def describe(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "in_view": self._sitting.describe(),
            "next_capture": self._number,
        }


# --- configuration -------------------------------------------------------------------------


@dataclass
class CameraConfig:
    """Everything a simulated camera is configured with (the command line maps onto this)."""

    mode: Mode = "manual"
    seed: int = 0
    index: int = 0  # which of several cameras in one process (its own applicants, serial)
    captures_per_person: int = 2
    poor_rate: float = 0.0
    timing: Timing = DEFAULT_TIMING
    pace: bool = False
    model: str = "ewp-sim iris camera"
    serial_number: str | None = None  # default SIM-IRIS-<seed>-<index>
    firmware: str = "1.0.0"
    vid: int = 0x1209
    pid: int = 0x0001
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in ("manual", "auto"):
            problems.append(f"mode must be manual or auto, got {self.mode!r}")
        if self.captures_per_person < 1:
            problems.append("captures per person must be at least 1")
        if not 0.0 <= self.poor_rate <= 1.0:
            problems.append(f"poor rate must be 0..1, got {self.poor_rate}")
        if not 0 <= self.vid <= 0xFFFF or not 0 <= self.pid <= 0xFFFF:
            problems.append("USB vendor and product ids are 16 bits")
        for name in ("model", "firmware", "serial_number"):
            value = getattr(self, name)
            if value is not None and (not value.isascii() or len(value) > 64):
                problems.append(f"{name} must be ASCII of at most 64 characters")
        if problems:
            raise ValueError("; ".join(problems))
        if self.serial_number is None:
            self.serial_number = f"SIM-IRIS-{self.seed:04d}-{self.index:02d}"


# --- a capture -----------------------------------------------------------------------------


@dataclass
class _Capture:
    eyes: int
    mode: int
    count: int
    quality: int
    operation: int
    timeout: float | None
    started: float  # when the camera began looking (START, or TRIGGER)
    find_delay: float
    duration: float
    awaiting_trigger: bool
    no_eye: bool
    occlusion: bool
    blur: bool
    sensor_fault: bool
    number: int
    seen_since: float | None = None
    capturing_since: float | None = None
    ends_at: float | None = None
    presented: Sitting | None = None  # who was in front of the camera
    sitting: Sitting | None = None  # ... and as captured (with occlusion or blur faults)
    found: int = 0
    qualified: int = 0
    frames: int = 0
    progress: int = 0
    last_event: float = 0.0
    rendered: dict[int, RenderedEye] = field(default_factory=dict)
    png: dict[int, bytes] = field(default_factory=dict)


@dataclass
class _Transfer:
    """The image transfer under way, for the unplug-mid-image fault."""

    eye: int
    fmt: int
    blocks: int = 0
    unplug_at: int | None = None


def _seed_for(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


# --- the camera ----------------------------------------------------------------------------


class SimulatedIrisCamera(SimulatedDevice[Fault, ManualPresenter | AutoApplicant]):
    """One simulated camera; serve :meth:`session` with ``serve_tcp`` or ``serve_pty``.

    The control methods (:meth:`present`, :meth:`withdraw`, :meth:`inject`, ...) may be called
    from any thread while a host talks to the camera.
    """

    faults: FaultPlan  # the device's own plan, with its own kinds

    def __init__(self, config: CameraConfig | None = None) -> None:
        self.config = config = config or CameraConfig()
        super().__init__(FaultPlan(config.faults))
        self._presenter = self._make_presenter(config.mode)
        self._rng = random.Random(_seed_for("timing", config.seed, config.index))
        self._initialised = False
        self._state = IDLE
        self._result = OK
        self._capture: _Capture | None = None
        self._push = False
        self._event_seq = 0
        self._events: list[_Outgoing] = []  # status events waiting to go out
        self._transfer: _Transfer | None = None
        self._captures = 0
        self.counters: dict[str, int] = {
            "commands": 0,
            "bad_frames": 0,
            "captures": 0,
            "images_sent": 0,
            "events": 0,
        }

    def _make_presenter(self, mode: Mode) -> ManualPresenter | AutoApplicant:
        if mode == "manual":
            return ManualPresenter()
        return AutoApplicant(
            seed=self.config.seed,
            index=self.config.index,
            captures_per_person=self.config.captures_per_person,
            poor_rate=self.config.poor_rate,
        )

    # --- control (tests, the control port) ----------------------------------------------

    def present(
        self,
        person: int,
        *,
        open: OpenEyes | bool = "both",
        occlusion: float = 0.1,
        blur: float = 0.6,
        left: EyeConditions | dict[str, object] | None = None,
        right: EyeConditions | dict[str, object] | None = None,
    ) -> Sitting:
        """Put ``person`` in front of the camera (manual mode) until :meth:`withdraw`.

        ``open`` says which eyes are open (``both``, ``left``, ``right``, ``none``, or a bool);
        ``occlusion`` (share of the iris under the eyelids, 0..0.95) and ``blur`` (defocus
        sigma in pixels) apply to both eyes; ``left`` / ``right`` override them per eye.
        """
        which = {True: "both", False: "none"}.get(open, open) if isinstance(open, bool) else open
        if which not in ("both", "left", "right", "none"):
            raise ValueError(f"open must be both, left, right or none, got {open!r}")
        if not isinstance(person, int) or person < 0:
            raise ValueError(f"person must be a non-negative integer, got {person!r}")
        sides = {"left": EyeSide.LEFT, "right": EyeSide.RIGHT}
        base = {
            side: EyeConditions(open=which in ("both", name), occlusion=occlusion, blur=blur)
            for name, side in sides.items()
        }
        sitting = Sitting(
            person,
            _conditions(left, base[EyeSide.LEFT]),
            _conditions(right, base[EyeSide.RIGHT]),
        )
        with self._lock:
            if not isinstance(self._presenter, ManualPresenter):
                raise ValueError("the camera is in auto mode: switch it to manual mode first")
            self._presenter.present(sitting)
        return sitting

    def withdraw(self) -> None:
        """Nobody in front of the camera (manual mode)."""
        with self._lock:
            if not isinstance(self._presenter, ManualPresenter):
                raise ValueError("the camera is in auto mode: switch it to manual mode first")
            self._presenter.withdraw()

    def status(self) -> dict[str, object]:
        with self._lock:
            capture = self._capture
            return {
                **self._presenter.describe(),
                "state": STATE_NAMES[self._state],
                "result": self._result,
                "initialised": self._initialised,
                "push_status": self._push,
                "capture": None
                if capture is None
                else {
                    "eyes": capture.eyes,
                    "found": capture.found,
                    "qualified": capture.qualified,
                    "scores": {
                        _SIDES[eye].value: vars(rendered.scores)
                        for eye, rendered in capture.rendered.items()
                    },
                },
                "serial_number": self.config.serial_number,
                "faults": self.faults.armed(),
                "connected": self._stream is not None,
                "line_bytes": self._line_bytes(),
                "counters": dict(self.counters),
            }

    # --- the line -----------------------------------------------------------------------

    def session(self, stream: ByteStream) -> None:
        """Talk to one host over ``stream`` until it goes away (or the cable is pulled).

        Every new host connection is a power-up: the camera must be initialised again.
        """
        with self._lock:
            self._power_up()
        stream.baudrate = _USB_FULL_SPEED if self.config.pace else 0
        scanner = HostFrameScanner()
        line = HostLineReader(stream, scanner, idle_drop=_IDLE_DROP)
        with self._plugged_in(stream):
            while True:
                line.read(timeout=self._wakeup())
                while (frame := scanner.next_frame()) is not None:
                    if not self._on_frame(frame, stream):
                        return
                self._tick(stream)

    def _power_up(self) -> None:
        self._initialised = False
        self._state = IDLE
        self._result = OK
        self._capture = None
        self._push = False
        self._events.clear()
        self._transfer = None

    def _wakeup(self) -> float:
        with self._lock:
            if self._state in (READY, CAPTURING):
                return min(0.2, self.config.timing.status_interval / 2)
        return 0.2

    def _tick(self, stream: ByteStream) -> None:
        with self._lock:
            self._advance(time.monotonic())
            events, self._events = self._events, []
        if events:
            self._send(stream, events)

    def _on_frame(self, frame: HostFrame, stream: ByteStream) -> bool:
        """Handle one frame from the host; False once the cable has been pulled."""
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug(
                "sim <- %02x #%d %s%s",
                frame.code,
                frame.seq,
                frame.payload[:16].hex(" "),
                "" if frame.crc_ok else " (bad CRC)",
            )
        if not frame.crc_ok:
            with self._lock:
                self.counters["bad_frames"] += 1
            self._send(stream, [(NAK, frame.seq, bytes((BAD_FRAME,)))])
            return True
        if frame.code > MAX_COMMAND:
            wire_log.debug("sim: frame code %02x is not a command, ignored", frame.code)
            return True
        with self._lock:
            self.counters["commands"] += 1
        if self.faults.silent():
            wire_log.debug("sim: silent (fault), command %02x unanswered", frame.code)
            return True
        with self._lock:
            self._advance(time.monotonic())
            result, data, unplug_after = self._execute(frame.code, frame.payload)
            events, self._events = self._events, []
        payload = bytes((result,)) + (data if result == OK else b"")
        response = (frame.code | 0x80, frame.seq, payload)
        if unplug_after:
            # The cable comes out in the middle of this block.
            whole = build_frame(*response)
            stream.write(whole[: len(whole) // 2])
            log.info("simulated iris camera: cable pulled in the middle of an image")
            stream.unplug()
            return False
        self._send(stream, [response, *events])
        return True

    def _send(self, stream: ByteStream, frames: list[_Outgoing]) -> None:
        """Put frames on the line in this order (a response first, then status events).

        Faults apply in that order too: ``bad-crc`` damages the next frames that go out,
        ``garbage`` puts noise before them.
        """
        garbage = self.faults.garbage()
        noise = b""
        if garbage:
            noise = bytes(self._rng.randrange(0xA5) for _ in range(garbage)) + b"\xa5\x5a\x00"
        wire = [
            build_frame(code, seq, payload, corrupt=self.faults.corrupt_frame())
            for code, seq, payload in frames
        ]
        if wire_log.isEnabledFor(logging.DEBUG):
            for data in wire:
                wire_log.debug("sim -> %s", data[:24].hex(" "))
            if noise:
                wire_log.debug("sim: %d bytes of noise before them (fault)", len(noise))
        stream.write(noise + b"".join(wire))

    # --- the state machine --------------------------------------------------------------

    def _changed(self) -> None:
        """The status changed: queue a status event if the host asked for them."""
        if not self._push or self._stream is None:
            return
        if self._capture is not None:
            self._capture.last_event = time.monotonic()
        if self.faults.drop_event():
            wire_log.debug("sim: status event dropped (fault)")
            return
        self._events.append((STATUS_EVENT, self._event_seq, self._status_record()))
        self._event_seq = (self._event_seq + 1) & 0xFF
        self.counters["events"] += 1

    def _advance(self, now: float) -> None:
        """Move the capture along its timeline up to ``now`` (caller holds the lock)."""
        capture = self._capture
        if capture is None:
            return
        if self._state == READY and not capture.awaiting_trigger:
            self._look_for_eyes(capture, now)
        if self._state == CAPTURING and capture.ends_at is not None:
            assert capture.capturing_since is not None
            elapsed = max(0.0, now - capture.capturing_since)  # the render may end after now
            total = max(capture.ends_at - capture.capturing_since, 1e-6)
            capture.frames = int(elapsed * self.config.timing.frame_rate)
            if now >= capture.ends_at:
                self._finish(capture)
                return
            capture.progress = min(99, int(100 * elapsed / total))
            if now - capture.last_event >= self.config.timing.status_interval:
                self._changed()

    def _look_for_eyes(self, capture: _Capture, now: float) -> None:
        sitting = None if capture.no_eye else self._presenter.in_view()
        visible = 0 if sitting is None else sitting.open_mask() & capture.eyes
        if sitting is None or not visible:
            capture.seen_since = None
            if capture.timeout is not None and now >= capture.started + capture.timeout:
                self._abort(NO_FRAME_AVAILABLE)
            return
        if capture.seen_since is None:
            capture.seen_since = now
            self._changed()  # eyes found: in view
        if now >= capture.seen_since + capture.find_delay:
            self._begin(capture, sitting, visible)

    def _begin(self, capture: _Capture, sitting: Sitting, visible: int) -> None:
        """An eye has been in view for the find time: capture it (render, score, time)."""
        capture.presented = sitting
        if capture.occlusion or capture.blur:
            forced = {}
            if capture.occlusion:
                forced["occlusion"] = 0.7
            if capture.blur:
                forced["blur"] = 4.0
            sitting = replace(
                sitting,
                left=replace(sitting.left, **forced),  # type: ignore[arg-type]
                right=replace(sitting.right, **forced),  # type: ignore[arg-type]
            )
        capture.sitting = sitting
        capture.found = visible
        threshold = THRESHOLDS[capture.quality]
        if not capture.sensor_fault:
            for eye in (LEFT, RIGHT):
                if visible & eye:
                    side = _SIDES[eye]
                    identity = IrisIdentity(sitting.person, side, self.config.seed)
                    seed = _seed_for(self.config.seed, sitting.person, side.value, capture.number)
                    rendered = render_eye(identity, sitting.eye(side), seed)
                    capture.rendered[eye] = rendered
                    if rendered.scores.total >= threshold:
                        capture.qualified |= eye
        duration = capture.duration
        if capture.sensor_fault:
            duration *= 0.3
        elif capture.mode == 1 and capture.qualified == capture.eyes:
            duration = min(duration, capture.count / self.config.timing.frame_rate)
        now = time.monotonic()  # after the render: the capture's own time starts now
        capture.capturing_since = now
        capture.ends_at = now + duration
        self._state = CAPTURING
        self._changed()

    def _finish(self, capture: _Capture) -> None:
        if capture.sensor_fault:
            self._abort(SENSOR_FAULT)
            return
        capture.progress = 100
        if capture.qualified == capture.eyes:
            self._result = OK
        elif not capture.qualified:
            self._result = NO_QUALIFIED_FRAME
        elif capture.qualified == RIGHT:
            self._result = LEFT_FRAME_UNQUALIFIED
        else:
            self._result = RIGHT_FRAME_UNQUALIFIED
        self._state = COMPLETE
        self.counters["captures"] += 1
        if capture.presented is not None:
            self._presenter.completed(capture.presented)
        self._changed()

    def _abort(self, result: int) -> None:
        self._state = ABORT
        self._result = result
        self._changed()

    def _status_record(self) -> bytes:
        capture = self._capture
        flags = (
            (0x01 if self._initialised else 0)
            | (0x02 if self._push else 0)
            | (
                0x04
                if capture is not None and capture.awaiting_trigger and self._state == READY
                else 0
            )
        )
        requested = found = qualified = progress = frames = 0
        if capture is not None:
            requested = capture.eyes
            if self._state == READY and capture.seen_since is not None:
                sitting = self._presenter.in_view()
                found = 0 if sitting is None else sitting.open_mask() & capture.eyes
            elif self._state in (CAPTURING, COMPLETE):
                found = capture.found
            if self._state == COMPLETE:
                qualified = capture.qualified
            if self._state in (CAPTURING, COMPLETE):
                progress, frames = capture.progress, capture.frames
        return struct.pack(
            ">BBBBBBBH",
            self._state,
            self._result,
            flags,
            requested,
            found,
            qualified,
            progress,
            min(frames, 0xFFFF),
        )

    # --- commands -----------------------------------------------------------------------

    def _execute(self, command: int, payload: bytes) -> tuple[int, bytes, bool]:
        """Result code, data and whether to pull the cable in the middle of the answer."""
        expected = _PARAMETER_SIZES.get(command)
        if expected is None:
            return UNKNOWN_COMMAND, b"", False
        if len(payload) != expected:
            return INVALID_PARAMETER, b"", False
        if command not in _WITHOUT_INIT and not self._initialised:
            return NOT_INITIALISED, b"", False
        forced = self.faults.forced_code(command)
        if forced:
            wire_log.debug("sim: forced code %02x for %s", forced, COMMAND_NAMES[command])
            return forced, b"", False
        if command not in (GET_STATUS, GET_INFO) and self.faults.busy():
            return DEVICE_BUSY, b"", False
        if command == GET_RESULT_IMAGE:
            return self._result_image(payload)
        handlers = {
            INIT: self._do_init,
            GET_INFO: self._do_get_info,
            START_CAPTURE: self._do_start_capture,
            GET_STATUS: self._do_get_status,
            TRIGGER: self._do_trigger,
            STOP_CAPTURE: self._do_stop_capture,
            GET_RESULT_QUALITY: self._do_result_quality,
            CLEAR: self._do_clear,
        }
        result, data = handlers[command](payload)
        return result, data, False

    def _do_init(self, _: bytes) -> tuple[int, bytes]:
        self._initialised = True
        return OK, struct.pack(">HH", WIDTH, HEIGHT)

    def _do_get_info(self, _: bytes) -> tuple[int, bytes]:
        config = self.config
        head = struct.pack(
            ">BHHBBBHHH", 1, WIDTH, HEIGHT, 8, BOTH, 0b11, MAX_BLOCK, config.vid, config.pid
        )
        strings = b""
        for text in (config.model, config.serial_number or "", config.firmware):
            raw = text.encode("ascii")
            strings += bytes((len(raw),)) + raw
        return OK, head + strings

    def _do_get_status(self, _: bytes) -> tuple[int, bytes]:
        return OK, self._status_record()

    def _do_start_capture(self, payload: bytes) -> tuple[int, bytes]:
        if self._state in (READY, CAPTURING):
            return DEVICE_BUSY, b""
        eyes, mode, count, quality, operation, flags, timeout_ds = struct.unpack(
            ">BBBBBBH", payload
        )
        valid = (
            eyes in (LEFT, RIGHT, BOTH)
            and mode in (0, 1)
            and (1 <= count <= 20 if mode == 1 else count == 0)
            and quality in (0, 1, 2)
            and operation in (0, 1)
            and not flags & ~0x01
        )
        if not valid:
            return INVALID_PARAMETER, b""
        timing = self.config.timing
        self._captures += 1
        self._capture = _Capture(
            eyes=eyes,
            mode=mode,
            count=count,
            quality=quality,
            operation=operation,
            timeout=timeout_ds / 10 if timeout_ds else None,
            started=time.monotonic(),
            find_delay=self._rng.uniform(*timing.find),
            duration=self._rng.uniform(*timing.capture),
            awaiting_trigger=operation == 1,
            no_eye=self.faults.no_eye(),
            occlusion=self.faults.occlusion(),
            blur=self.faults.blur(),
            sensor_fault=self.faults.sensor_fault(),
            number=self._captures,
        )
        self._transfer = None
        self._push = bool(flags & 0x01)
        self._state = READY
        self._result = OK
        self._changed()
        return OK, b""

    def _do_trigger(self, _: bytes) -> tuple[int, bytes]:
        capture = self._capture
        if self._state != READY or capture is None or not capture.awaiting_trigger:
            return INVALID_STATE, b""
        capture.awaiting_trigger = False
        capture.started = time.monotonic()
        self._changed()
        return OK, b""

    def _do_stop_capture(self, _: bytes) -> tuple[int, bytes]:
        if self._state in (READY, CAPTURING):
            self._abort(CAPTURE_ABORTED)
        return OK, b""

    def _do_clear(self, _: bytes) -> tuple[int, bytes]:
        if self._state in (READY, CAPTURING):
            return DEVICE_BUSY, b""
        changed = self._state != IDLE
        self._state = IDLE
        self._result = OK
        self._capture = None
        self._transfer = None
        if changed:
            self._changed()
        return OK, b""

    def _result_for(self, eye: int) -> tuple[int, RenderedEye | None]:
        """The rendered eye behind a result request, or the result code refusing it."""
        if self._state == IDLE or self._capture is None:
            return NO_FRAME_AVAILABLE, None
        if self._state in (READY, CAPTURING):
            return DEVICE_BUSY, None
        if self._state == ABORT:
            return self._result or NO_FRAME_AVAILABLE, None
        rendered = self._capture.rendered.get(eye)
        if rendered is None:
            return NO_FRAME_AVAILABLE, None
        return OK, rendered

    def _do_result_quality(self, payload: bytes) -> tuple[int, bytes]:
        eye = payload[0]
        if eye not in (LEFT, RIGHT):
            return INVALID_PARAMETER, b""
        result, rendered = self._result_for(eye)
        if rendered is None:
            return result, b""
        assert self._capture is not None
        scores = rendered.scores
        return OK, struct.pack(
            ">BBBBBBHHHH",
            eye,
            1 if self._capture.qualified & eye else 0,
            scores.total,
            scores.usable_area,
            scores.focus,
            scores.contrast,
            rendered.iris_x,
            rendered.iris_y,
            rendered.iris_radius,
            rendered.pupil_radius,
        )

    def _result_image(self, payload: bytes) -> tuple[int, bytes, bool]:
        eye, fmt, flags, offset, max_length = struct.unpack(">BBBIH", payload)
        if eye not in (LEFT, RIGHT) or fmt not in (0, 1) or flags & ~0x01:
            return INVALID_PARAMETER, b"", False
        if not 1 <= max_length <= MAX_BLOCK:
            return INVALID_PARAMETER, b"", False
        result, rendered = self._result_for(eye)
        if rendered is None:
            return result, b"", False
        capture = self._capture
        assert capture is not None
        if not capture.qualified & eye and not flags & 0x01:
            return (LEFT_FRAME_UNQUALIFIED if eye == LEFT else RIGHT_FRAME_UNQUALIFIED), b"", False
        data = rendered.pixels if fmt == 0 else self._png(capture, eye, rendered)
        if offset >= len(data):
            return INVALID_PARAMETER, b"", False
        transfer = self._transfer
        if offset == 0 or transfer is None or (transfer.eye, transfer.fmt) != (eye, fmt):
            transfer = self._transfer = _Transfer(eye, fmt, unplug_at=self.faults.unplug_after())
        if transfer.unplug_at is not None and transfer.blocks >= transfer.unplug_at:
            return OK, b"", True
        transfer.blocks += 1
        block = data[offset : offset + max_length]
        if offset + len(block) == len(data):
            self.counters["images_sent"] += 1
        head = struct.pack(">BBII", eye, fmt, len(data), offset)
        return OK, head + block, False

    @staticmethod
    def _png(capture: _Capture, eye: int, rendered: RenderedEye) -> bytes:
        if eye not in capture.png:
            from PIL import Image

            buffer = io.BytesIO()
            Image.frombytes("L", (WIDTH, HEIGHT), rendered.pixels).save(buffer, format="PNG")
            capture.png[eye] = buffer.getvalue()
        return capture.png[eye]


# --- serving one for a test or a demo ------------------------------------------------------


class RunningIrisSimulator(RunningSimulator[SimulatedIrisCamera]):
    """A simulated camera behind an endpoint: ``url`` for the host, ``camera`` to control it."""

    @property
    def camera(self) -> SimulatedIrisCamera:
        return self.device


def start_iris_simulator(
    config: CameraConfig | None = None,
    *,
    transport: Transport = "tcp",
    host: str = "127.0.0.1",
    port: int = 0,
) -> RunningIrisSimulator:
    """Serve a simulated iris camera in this process (one thread); pass ``.url`` to pyserial.

    ``transport="tcp"`` gives ``socket://HOST:PORT`` (port 0 picks a free one); ``"pty"`` gives
    a ``/dev/pts/N`` path that pyserial opens like a USB CDC device.
    """
    return RunningIrisSimulator.start(SimulatedIrisCamera(config), transport, host, port)


__all__ = [
    "DEFAULT_TIMING",
    "FAST_TIMING",
    "HEIGHT",
    "WIDTH",
    "AutoApplicant",
    "CameraConfig",
    "EyeConditions",
    "HostFrame",
    "HostFrameScanner",
    "ManualPresenter",
    "RunningIrisSimulator",
    "SimulatedIrisCamera",
    "Sitting",
    "Timing",
    "build_frame",
    "crc16_ccitt",
    "start_iris_simulator",
]
