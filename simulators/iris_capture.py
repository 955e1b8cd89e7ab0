"""A capture of the simulated iris camera: its timing, its configuration, its timeline.

Once READY, an eye must be in view for a *find time* before CAPTURING; the capture then lasts
a *capture time* (both drawn per capture from :class:`Timing`), frames counted at the frame
rate; status events go out on every state change and every status interval while capturing,
when the host asked for them. :class:`CaptureTimeline` moves a capture along (mixed into
``iris.SimulatedIrisCamera``); the commands that start, stop and read captures are in
``iris_commands``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import struct
import time
from dataclasses import dataclass, field, replace

from simulators.iris_codec import (
    ABORT,
    CAPTURING,
    COMPLETE,
    LEFT,
    LEFT_FRAME_UNQUALIFIED,
    NO_FRAME_AVAILABLE,
    NO_QUALIFIED_FRAME,
    OK,
    READY,
    RIGHT,
    RIGHT_FRAME_UNQUALIFIED,
    SENSOR_FAULT,
    STATUS_EVENT,
    Outgoing,
)
from simulators.iris_faults import Fault, FaultPlan
from simulators.iris_images import EyeSide, IrisIdentity, RenderedEye, render_eye
from simulators.iris_sittings import EyePresenter, Sitting
from simulators.serial_endpoints import ByteStream
from simulators.simulated_device import DeviceConfig

wire_log = logging.getLogger("ewp.wire.sim.iris")

SIDES = {LEFT: EyeSide.LEFT, RIGHT: EyeSide.RIGHT}
THRESHOLDS = (40, 60, 75)  # total score to qualify: normal, high, very high


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


@dataclass(kw_only=True)
class CameraConfig(DeviceConfig[Fault]):
    """Everything a simulated camera is configured with (the command line maps onto this)."""

    captures_per_person: int = 2
    timing: Timing = DEFAULT_TIMING
    model: str = "ewp-sim iris camera"
    serial_number: str | None = None  # default SIM-IRIS-<seed>-<index>
    firmware: str = "1.0.0"
    vid: int = 0x1209
    pid: int = 0x0001

    def problems(self) -> list[str]:
        problems = super().problems()
        if self.captures_per_person < 1:
            problems.append("captures per person must be at least 1")
        if not 0 <= self.vid <= 0xFFFF or not 0 <= self.pid <= 0xFFFF:
            problems.append("USB vendor and product ids are 16 bits")
        for name in ("model", "firmware", "serial_number"):
            value = getattr(self, name)
            if value is not None and (not value.isascii() or len(value) > 64):
                problems.append(f"{name} must be ASCII of at most 64 characters")
        return problems

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.serial_number is None:
            self.serial_number = f"SIM-IRIS-{self.seed:04d}-{self.index:02d}"


@dataclass
class Capture:
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
class Transfer:
    """The image transfer under way, for the unplug-mid-image fault."""

    eye: int
    fmt: int
    blocks: int = 0
    unplug_at: int | None = None


def seed_for(*parts: object) -> int:
    text = ":".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class CaptureTimeline:
    """The camera's state and a capture's timeline (the caller holds the camera's lock)."""

    config: CameraConfig
    faults: FaultPlan
    counters: dict[str, int]
    _stream: ByteStream | None
    _presenter: EyePresenter
    _rng: random.Random
    _initialised: bool
    _state: int
    _result: int
    _capture: Capture | None
    _push: bool
    _event_seq: int
    _events: list[Outgoing]
    _transfer: Transfer | None
    _captures: int

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

    def _look_for_eyes(self, capture: Capture, now: float) -> None:
        sitting = None if capture.no_eye else self._presenter.current()
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

    def _begin(self, capture: Capture, sitting: Sitting, visible: int) -> None:
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
                    side = SIDES[eye]
                    identity = IrisIdentity(sitting.person, side, self.config.seed)
                    seed = seed_for(self.config.seed, sitting.person, side.value, capture.number)
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

    def _finish(self, capture: Capture) -> None:
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
            self._presenter.taken(capture.presented)
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
                sitting = self._presenter.current()
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
