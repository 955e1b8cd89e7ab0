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

The jobs, one module each: the frame codec and protocol numbers (``iris_codec``), who is in
front of the camera (``iris_sittings``), the timing, configuration and timeline of a capture
(``iris_capture``), the commands (``iris_commands``); this module is the camera on its line.
"""

from __future__ import annotations

import logging
import random
import time

from simulators.applicants import manual_only
from simulators.host_frames import serve_frames
from simulators.iris_capture import (
    DEFAULT_TIMING,
    FAST_TIMING,
    SIDES,
    CameraConfig,
    Capture,
    Timing,
    Transfer,
    seed_for,
)
from simulators.iris_codec import (
    BAD_FRAME,
    CAPTURING,
    IDLE,
    MAX_COMMAND,
    NAK,
    OK,
    READY,
    STATE_NAMES,
    HostFrame,
    HostFrameScanner,
    Outgoing,
    build_frame,
    crc16_ccitt,
)
from simulators.iris_commands import CommandSet
from simulators.iris_faults import Fault, FaultPlan
from simulators.iris_images import HEIGHT, WIDTH, EyeConditions, EyeSide
from simulators.iris_sittings import (
    EyePresenter,
    OpenEyes,
    Sitting,
    eye_conditions,
    iris_applicant,
    tester_person,
)
from simulators.serial_endpoints import ByteStream, Transport
from simulators.simulated_device import Mode, RunningSimulator, SimulatedDevice

log = logging.getLogger(__name__)
wire_log = logging.getLogger("ewp.wire.sim.iris")
_USB_FULL_SPEED = 10_000_000  # paced "baud": 1 MB/s, what a CDC device does on full-speed USB


class SimulatedIrisCamera(CommandSet, SimulatedDevice[Fault, EyePresenter]):
    """One simulated camera; serve :meth:`session` with ``serve_tcp`` or ``serve_pty``.

    The control methods (:meth:`present`, :meth:`withdraw`, :meth:`inject`, ...) may be called
    from any thread while a host talks to the camera.
    """

    faults: FaultPlan  # the device's own plan, with its own kinds

    def __init__(self, config: CameraConfig | None = None) -> None:
        self.config = config = config or CameraConfig()
        super().__init__(FaultPlan(config.faults))
        self._presenter = self._make_presenter(config.mode)
        self._rng = random.Random(seed_for("timing", config.seed, config.index))
        self._initialised = False
        self._state = IDLE
        self._result = OK
        self._capture: Capture | None = None
        self._push = False
        self._event_seq = 0
        self._events: list[Outgoing] = []  # status events waiting to go out
        self._transfer: Transfer | None = None
        self._captures = 0
        self.counters: dict[str, int] = {
            "commands": 0,
            "bad_frames": 0,
            "captures": 0,
            "images_sent": 0,
            "events": 0,
        }

    def _make_presenter(self, mode: Mode) -> EyePresenter:
        if mode == "manual":
            return tester_person()
        return iris_applicant(
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
            eye_conditions(left, base[EyeSide.LEFT]),
            eye_conditions(right, base[EyeSide.RIGHT]),
        )
        with self._lock:
            manual_only(self._presenter, "camera").present(sitting)
        return sitting

    def withdraw(self) -> None:
        """Nobody in front of the camera (manual mode)."""
        with self._lock:
            manual_only(self._presenter, "camera").withdraw()

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
                        SIDES[eye].value: vars(rendered.scores)
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
        with self._plugged_in(stream):
            serve_frames(
                stream,
                HostFrameScanner(),
                lambda frame: self._on_frame(frame, stream),
                wakeup=self._wakeup,
                tick=lambda: self._tick(stream),
            )

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

    def _send(self, stream: ByteStream, frames: list[Outgoing]) -> None:
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
    """A simulated camera with ``config``, served as ``RunningSimulator.start`` says."""
    return RunningIrisSimulator.start(SimulatedIrisCamera(config), transport, host, port)


__all__ = [
    "DEFAULT_TIMING",
    "FAST_TIMING",
    "HEIGHT",
    "WIDTH",
    "CameraConfig",
    "EyeConditions",
    "RunningIrisSimulator",
    "SimulatedIrisCamera",
    "Sitting",
    "Timing",
    "build_frame",
    "crc16_ccitt",
    "start_iris_simulator",
]
