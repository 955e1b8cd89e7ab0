"""The commands of the simulated iris camera: what each does, and the result code it gets.

From ``docs/iris-protocol.md``: every command answers with a result code (and data when it
is OK); a command the camera does not know, a payload of the wrong size, a command before
INIT, a forced code and a busy camera are refused before any handler runs. Mixed into
``iris.SimulatedIrisCamera`` over the capture timeline (``iris_capture``).
"""

from __future__ import annotations

import io
import logging
import struct
import time

from simulators.iris_capture import Capture, CaptureTimeline, Transfer
from simulators.iris_codec import (
    ABORT,
    BOTH,
    CAPTURE_ABORTED,
    CAPTURING,
    CLEAR,
    DEVICE_BUSY,
    GET_INFO,
    GET_RESULT_IMAGE,
    GET_RESULT_QUALITY,
    GET_STATUS,
    IDLE,
    INIT,
    INVALID_PARAMETER,
    INVALID_STATE,
    LEFT,
    LEFT_FRAME_UNQUALIFIED,
    MAX_BLOCK,
    NO_FRAME_AVAILABLE,
    NOT_INITIALISED,
    OK,
    READY,
    RIGHT,
    RIGHT_FRAME_UNQUALIFIED,
    START_CAPTURE,
    STOP_CAPTURE,
    TRIGGER,
    UNKNOWN_COMMAND,
)
from simulators.iris_faults import COMMAND_NAMES
from simulators.iris_images import HEIGHT, WIDTH, RenderedEye

wire_log = logging.getLogger("ewp.wire.sim.iris")

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


class CommandSet(CaptureTimeline):
    """The camera's commands over its capture timeline."""

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
        self._capture = Capture(
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
            transfer = self._transfer = Transfer(eye, fmt, unplug_at=self.faults.unplug_after())
        if transfer.unplug_at is not None and transfer.blocks >= transfer.unplug_at:
            return OK, b"", True
        transfer.blocks += 1
        block = data[offset : offset + max_length]
        if offset + len(block) == len(data):
            self.counters["images_sent"] += 1
        head = struct.pack(">BBII", eye, fmt, len(data), offset)
        return OK, head + block, False

    @staticmethod
    def _png(capture: Capture, eye: int, rendered: RenderedEye) -> bytes:
        if eye not in capture.png:
            from PIL import Image

            buffer = io.BytesIO()
            Image.frombytes("L", (WIDTH, HEIGHT), rendered.pixels).save(buffer, format="PNG")
            capture.png[eye] = buffer.getvalue()
        return capture.png[eye]
