"""Driver for IriShield-style USB iris cameras speaking the ewp iris protocol.

No iris camera vendor publishes a wire protocol, so the camera (or a bridge around the vendor
SDK) speaks the framed protocol of ``docs/iris-protocol.md`` over USB CDC serial. The driver
receives an **open** port (``serial.serial_for_url(url, timeout=...)``): ``/dev/ttyACM0``,
``socket://127.0.0.1:7101`` or a simulator's pty all work the same. :meth:`IrisCamera.open` is
a separate convenience for command lines.

Public methods speak the SDK's language: :meth:`~IrisCamera.init`,
:meth:`~IrisCamera.device_info`, :meth:`~IrisCamera.start_capture`,
:meth:`~IrisCamera.status`, :meth:`~IrisCamera.wait_for_result`, :meth:`~IrisCamera.stop`,
:meth:`~IrisCamera.result_quality`, :meth:`~IrisCamera.result_image`,
:meth:`~IrisCamera.clear`. Every result code the camera can send is an
:class:`IrisResultError` carrying the code, whose message (from the one table of
``iris_camera_errors``) tells the operator what to do; silence and a pulled cable are the same
error with ewp's own codes, damaged frames the frame codec's errors (all :class:`IrisCameraError`).

What the driver does when the line misbehaves (noise, silence, NAKs, damaged and stale
answers, a pulled cable, a re-plugged camera) is described in ``iris_camera_exchange``.

Wire traffic is logged at DEBUG to ``ewp.wire.iris``.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from edge.drivers.iris_camera_errors import (
    CAPTURE_TIMED_OUT,
    IRIS_ERRORS,
    IrisResultError,
    IrisRetryCaptureError,
    iris_error,
)
from edge.drivers.iris_camera_exchange import DEFAULT_BAUD_RATE, IrisExchange
from edge.drivers.iris_discovery import (
    FoundCamera,
    HotplugEvent,
    IrisCameraWatcher,
    find_iris_cameras,
)
from edge.drivers.iris_frames import (
    MAX_BLOCK,
    CaptureMode,
    CaptureState,
    CaptureStatus,
    Command,
    Eye,
    ImageFormat,
    IrisCameraError,
    IrisDeviceInfo,
    IrisFrameError,
    IrisQuality,
    Operation,
    QualityMode,
    ResultCode,
    decode_image_block,
    decode_info,
    decode_png_grey,
    decode_quality,
    decode_status,
    encode_image_request,
    encode_start_capture,
)

__all__ = [
    "DEFAULT_BAUD_RATE",
    "IRIS_ERRORS",
    "CaptureMode",
    "CaptureState",
    "CaptureStatus",
    "Eye",
    "FoundCamera",
    "HotplugEvent",
    "ImageFormat",
    "IrisCamera",
    "IrisCameraError",
    "IrisCameraWatcher",
    "IrisDeviceInfo",
    "IrisImage",
    "IrisQuality",
    "IrisResultError",
    "IrisRetryCaptureError",
    "Operation",
    "QualityMode",
    "ResultCode",
    "find_iris_cameras",
    "iris_error",
]

log = logging.getLogger(__name__)

_MAX_IMAGE_BYTES = 8 * 1024 * 1024


# --- data the driver returns --------------------------------------------------------------


@dataclass(frozen=True)
class IrisImage:
    """One eye's image: ``height`` rows of ``width`` 8-bit grey pixels (near infrared).

    ``format`` is how it came over the wire; ``encoded`` holds the PNG bytes as the camera sent
    them when that was PNG (lossless: they decode to ``pixels``).
    """

    width: int
    height: int
    pixels: bytes
    eye: Eye
    format: ImageFormat = ImageFormat.RAW
    encoded: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.pixels) != self.width * self.height:
            raise ValueError(
                f"{len(self.pixels)} pixels do not make a {self.width}x{self.height} image"
            )


_E = TypeVar("_E", bound=enum.Enum)


def _choice(kind: type[_E], value: _E | str, what: str) -> _E:
    """An enum member from itself or its name as a command line writes it (``very-high``)."""
    if isinstance(value, kind):
        return value
    key = str(value).strip().upper().replace("-", "_")
    try:
        return kind[key]
    except KeyError:
        names = ", ".join(member.name.lower().replace("_", "-") for member in kind)
        raise ValueError(f"{what} must be one of {names}, got {value!r}") from None


# --- the camera ---------------------------------------------------------------------------


class IrisCamera(IrisExchange):
    """One iris camera on an open serial port.

    ::

        port = serial.serial_for_url("/dev/ttyACM0", baudrate=115200, timeout=0.05)
        camera = IrisCamera(port, timeout=2.0)
        camera.init()
        camera.start_capture(Eye.BOTH, quality=QualityMode.HIGH)
        status = camera.wait_for_result(30, on_status=show_progress)
        quality = camera.result_quality(Eye.LEFT)
        image = camera.result_image(Eye.LEFT, "png")
        camera.clear()

    The driver sets the port's read timeout to a short poll interval (50 ms); ``timeout`` is
    how long it waits for each answer. One thread at a time: the driver holds no lock.
    """

    # --- device ---------------------------------------------------------------------------

    def init(self) -> tuple[int, int]:
        """INIT: power the sensor up; the image width and height (640, 480)."""
        data = self._request(Command.INIT, idempotent=True)
        if len(data) != 4:
            raise IrisFrameError(f"the camera's answer to INIT has {len(data)} bytes, expected 4")
        width, height = struct.unpack(">HH", data)
        if not width or not height:
            raise IrisFrameError(f"the camera reports images of {width}x{height}")
        self._size = (width, height)
        return width, height

    def device_info(self) -> IrisDeviceInfo:
        """GET_INFO: model, serial number, firmware, image size, formats, USB ids."""
        info = decode_info(self._request(Command.GET_INFO, idempotent=True))
        self._info = info
        self._size = (info.width, info.height)
        return info

    # --- capture --------------------------------------------------------------------------

    def start_capture(
        self,
        eye: Eye | str = Eye.BOTH,
        *,
        mode: CaptureMode | str = CaptureMode.TIME_BASED,
        count: int | None = None,
        quality: QualityMode | str = QualityMode.NORMAL,
        operation: Operation | str = Operation.AUTO,
        push_status: bool = True,
        timeout: float | None = 10.0,
    ) -> None:
        """START_CAPTURE: the camera goes to READY and looks for the eye(s).

        ``mode`` time-based keeps the best frame seen in the camera's capture time;
        frame-based stops once ``count`` frames (1..20, default 3) of each eye qualified.
        ``quality`` sets the total score a frame needs to qualify (normal 40, high 60, very
        high 75). ``operation`` operator-initiated makes the camera wait for :meth:`trigger`.
        ``push_status`` asks for status events; ``timeout`` is how long the camera looks for
        an eye before it gives up (``None``: until :meth:`stop`).
        """
        chosen_eye = Eye.parse(eye)
        chosen_mode = _choice(CaptureMode, mode, "capture mode")
        if chosen_mode is CaptureMode.FRAME_BASED:
            count = 3 if count is None else count
            if not 1 <= count <= 20:
                raise ValueError(f"a frame-based capture counts 1..20 frames, got {count}")
        elif count not in (None, 0):
            raise ValueError("count is for frame-based captures only")
        if timeout is not None and not 0.1 <= timeout <= 6553.5:
            raise ValueError(f"the capture timeout must be 0.1..6553.5 s, got {timeout}")
        payload = encode_start_capture(
            chosen_eye,
            chosen_mode,
            count or 0,
            _choice(QualityMode, quality, "quality mode"),
            _choice(Operation, operation, "operation"),
            push_status,
            0 if timeout is None else round(timeout * 10),
        )
        self._request(Command.START_CAPTURE, payload)
        # Events queued until now belong to the previous capture.
        self._events.clear()
        self._push = push_status

    def trigger(self) -> None:
        """TRIGGER: the operator starts an operator-initiated capture."""
        self._request(Command.TRIGGER)

    def status(self) -> CaptureStatus:
        """GET_STATUS: the camera's state now."""
        status = decode_status(self._request(Command.GET_STATUS, idempotent=True))
        self._last_status = status
        return status

    def wait_for_result(
        self,
        timeout: float = 30.0,
        on_status: Callable[[CaptureStatus], None] | None = None,
        *,
        poll_interval: float = 0.2,
        accept_unqualified: bool = False,
    ) -> CaptureStatus:
        """Wait until the capture is COMPLETE or ABORT; the final status.

        Status events (when the capture pushes them) are taken as they come; when none came
        for four poll intervals, or when the capture does not push them, GET_STATUS is asked
        every ``poll_interval``. ``on_status`` is called with every status that differs from
        the one before (state, progress, eyes found, ...).

        An ABORT raises its result's error (NO_FRAME_AVAILABLE, CAPTURE_ABORTED,
        SENSOR_FAULT); a COMPLETE whose eyes did not all qualify raises NO_QUALIFIED_FRAME,
        LEFT_FRAME_UNQUALIFIED or RIGHT_FRAME_UNQUALIFIED unless ``accept_unqualified`` (then
        the status says which eyes qualified). The error's ``status`` is the final status.
        After ``timeout`` the capture is stopped and ``CAPTURE_TIMED_OUT`` raised (retryable,
        as the unqualified ones: :class:`IrisRetryCaptureError`).
        """
        if timeout <= 0 or poll_interval <= 0:
            raise ValueError("timeout and poll interval must be positive")
        deadline = time.monotonic() + timeout
        reported: CaptureStatus | None = None
        while True:
            status = self._events.popleft() if self._events else None
            if status is None:
                window = 4 * poll_interval if self._push else poll_interval
                status = self._wait_for_event(min(time.monotonic() + window, deadline))
            if status is None:
                status = self.status()
                # Events that arrived while GET_STATUS was on its way are older than its answer.
                self._events.clear()
            if not status.same_as(reported):
                reported = status
                if on_status is not None:
                    on_status(status)
            if status.done:
                return self._outcome(status, accept_unqualified)
            if time.monotonic() >= deadline:
                with contextlib.suppress(IrisCameraError):
                    self.stop()
                raise iris_error(
                    CAPTURE_TIMED_OUT,
                    detail=f"within {timeout:g} s, the camera was {status.state.name}",
                )

    def _outcome(self, status: CaptureStatus, accept_unqualified: bool) -> CaptureStatus:
        if status.state is CaptureState.ABORT:
            error = iris_error(status.result or ResultCode.CAPTURE_ABORTED)
        elif status.result and not accept_unqualified:
            error = iris_error(status.result)
        else:
            return status
        error.status = status
        raise error

    def stop(self) -> None:
        """STOP_CAPTURE: a capture in READY or CAPTURING ends in ABORT (CAPTURE_ABORTED)."""
        self._request(Command.STOP_CAPTURE)

    def clear(self) -> None:
        """CLEAR: erase the result from the camera; back to IDLE."""
        self._request(Command.CLEAR)

    # --- results --------------------------------------------------------------------------

    def result_quality(self, eye: Eye | str) -> IrisQuality:
        """GET_RESULT_QUALITY: the camera's scores of its best frame of ``eye``."""
        single = self._single_eye(eye)
        data = self._request(Command.GET_RESULT_QUALITY, bytes([single.mask]), idempotent=True)
        quality = decode_quality(data)
        if quality.eye is not single:
            raise IrisFrameError(
                f"the camera sent the quality of the {quality.eye.value} eye, not the "
                f"{single.value}"
            )
        return quality

    def result_image(
        self,
        eye: Eye | str,
        fmt: ImageFormat | str = ImageFormat.RAW,
        *,
        unqualified: bool = False,
    ) -> IrisImage:
        """GET_RESULT_IMAGE, block after block: the best frame of ``eye``, 640 x 480 8-bit.

        ``fmt`` raw or png is how it travels (a PNG is decoded here, and kept in
        ``encoded``). ``unqualified`` asks for the frame even if it did not qualify.
        """
        single = self._single_eye(eye)
        image_format = _choice(ImageFormat, fmt, "image format")
        block_size = self._info.max_block if self._info is not None else MAX_BLOCK
        data = bytearray()
        total: int | None = None
        while total is None or len(data) < total:
            request = encode_image_request(single, image_format, unqualified, len(data), block_size)
            block = decode_image_block(
                self._request(Command.GET_RESULT_IMAGE, request, idempotent=True)
            )
            if (block.eye, block.format, block.offset) != (single, image_format, len(data)):
                raise IrisFrameError(
                    f"the camera sent bytes at {block.offset} of a {block.format.name} image of "
                    f"the {block.eye.value} eye, asked for {len(data)} of "
                    f"{image_format.name} of the {single.value} eye"
                )
            if total is None:
                if not 0 < block.total <= _MAX_IMAGE_BYTES:
                    raise IrisFrameError(f"the camera announces an image of {block.total} bytes")
                total = block.total
            elif block.total != total:
                raise IrisFrameError("the camera changed the image's size in mid-transfer")
            if not block.data:
                raise IrisFrameError(f"the camera sent an empty block at {len(data)} of {total}")
            data += block.data
        if image_format is ImageFormat.PNG:
            width, height, pixels = decode_png_grey(bytes(data))
            return IrisImage(width, height, pixels, single, image_format, bytes(data))
        width, height = self._image_size()
        if len(data) != width * height:
            raise IrisFrameError(
                f"the camera sent a raw image of {len(data)} bytes, expected {width}x{height}"
            )
        return IrisImage(width, height, bytes(data), single, image_format)

    def _image_size(self) -> tuple[int, int]:
        if self._size is None:
            self.device_info()
        assert self._size is not None
        return self._size

    @staticmethod
    def _single_eye(eye: Eye | str) -> Eye:
        single = Eye.parse(eye)
        if single is Eye.BOTH:
            raise ValueError("results are per eye: ask for the left or the right eye")
        return single
