"""Driver for IriShield USB iris cameras through IriTech's IDDK 2000 C library (ctypes).

The vendor's ``libIddk2000.so`` talks to the camera over USB; this module binds the calls the
station needs (declared from the public headers: ``edge.drivers.iddk2000_defs``):

* :class:`IddkLibrary` loads the library **once per path** per process and runs every call on
  one worker thread, so each call is bounded by a timeout (a USB stack that hangs cannot hang
  the station) and the SDK is never entered from two threads at once. A call that overruns
  raises ``EWP_CALL_TIMED_OUT``; the next call waits for the overrunning one (up to its own
  timeout) and raises ``EWP_LIBRARY_WEDGED`` if it still has not returned.
* :class:`IddkCamera` is one opened camera: :meth:`~IddkCamera.open` scans
  (``Iddk_ScanDevices``), opens, reads the device information and initialises the camera, and
  closes it again if any of that fails; :meth:`~IddkCamera.close` de-initialises and closes
  and is safe to call twice and after the camera vanished. Use it as a context manager.

Every ``IddkResult`` other than success becomes :class:`IddkError` carrying the code, with the
meaning and the operator's advice from ``IDDK_ERRORS``; ``error.retryable`` (look again) and
``error.device_lost`` (unplugged: close and scan again) are what callers branch on.

Result arrays follow the SDK: a binocular camera answers ``[right, left]``, a monocular one
``[the eye captured]``. Images are asked for as ``K1`` (the full 640x480 frame) ``MONO_RAW``.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from edge.drivers.device_handle import DeviceHandle
from edge.drivers.iddk2000_defs import (
    CALL_TIMED_OUT,
    CAPTURE_ABORTED,
    CAPTURE_TIMED_OUT,
    HIRICAMM,
    IDDKCAPTUREPROC,
    LIBRARY_NOT_LOADED,
    LIBRARY_WEDGED,
    CaptureMode,
    CaptureStatus,
    EyeSubtype,
    IddkDataBuffer,
    IddkDeviceInfo,
    IddkError,
    IddkImage,
    IddkIrisQuality,
    ImageFormat,
    ImageKind,
    IsoRevision,
    LedId,
    OperationMode,
    QualityMode,
)

__all__ = [
    "CaptureStatus",
    "DeviceInfo",
    "EyeImage",
    "EyeQuality",
    "EyeSubtype",
    "IddkCamera",
    "IddkError",
    "IddkLibrary",
    "LedId",
    "QualityMode",
]

log = logging.getLogger(__name__)

_Job = concurrent.futures.Future[int]

OK = 0
RIGHT_UNQUALIFIED = 0x3007
LEFT_UNQUALIFIED = 0x3008
CLOSE_TIMEOUT = 5.0

_p = ctypes.POINTER
_int = ctypes.c_int
_Record = TypeVar("_Record", bound=ctypes.Structure)

# name -> (restype, argtypes), as Iddk2000Apis.h declares them.
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "Iddk_GetSdkVersion": (ctypes.c_uint, []),
    "Iddk_ScanDevices": (_int, [_p(_p(ctypes.c_char_p)), _p(_int)]),
    "Iddk_OpenDevice": (_int, [ctypes.c_char_p, _p(HIRICAMM)]),
    "Iddk_CloseDevice": (_int, [HIRICAMM]),
    "Iddk_GetDeviceInfo": (_int, [HIRICAMM, _p(IddkDeviceInfo)]),
    "Iddk_InitCamera": (_int, [HIRICAMM, _p(_int), _p(_int)]),
    "Iddk_DeinitCamera": (_int, [HIRICAMM]),
    "Iddk_StartCapture": (
        _int,
        [HIRICAMM, _int, _int, _int, _int, _int, ctypes.c_ubyte, IDDKCAPTUREPROC, ctypes.c_void_p],
    ),
    "Iddk_StopCapture": (_int, [HIRICAMM]),
    "Iddk_ClearCapture": (_int, [HIRICAMM, _int]),
    "Iddk_GetCaptureStatus": (_int, [HIRICAMM, _p(_int)]),
    "Iddk_GetResultImage": (
        _int,
        [HIRICAMM, _int, _int, ctypes.c_ubyte, _p(_p(IddkImage)), _p(_int)],
    ),
    "Iddk_GetResultQuality": (_int, [HIRICAMM, _p(_p(IddkIrisQuality)), _p(_int)]),
    "Iddk_GetResultIsoImage": (
        _int,
        [HIRICAMM, _int, _int, _int, ctypes.c_ubyte, _int, _p(IddkDataBuffer)],
    ),
    "Iddk_ControlLed": (_int, [HIRICAMM, _int, ctypes.c_ubyte, ctypes.c_uint]),
}


class IddkLibrary:
    """``libIddk2000.so``, loaded once; its calls, each on the worker thread with a timeout."""

    _loaded: ClassVar[dict[str, IddkLibrary]] = {}
    _loading: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._cdll = ctypes.CDLL(path)
            for name, (restype, argtypes) in _SIGNATURES.items():
                function = getattr(self._cdll, name)
                function.restype = restype
                function.argtypes = argtypes
        except (OSError, AttributeError) as exc:
            raise IddkError(LIBRARY_NOT_LOADED, detail=f"{path}: {exc}") from exc
        # A daemon thread of our own (not a ThreadPoolExecutor, whose thread is joined at
        # exit): a call hung in the vendor's code must not keep the agent from exiting.
        self._jobs: queue.SimpleQueue[tuple[Callable[..., int], tuple[Any, ...], _Job]] = (
            queue.SimpleQueue()
        )
        self._worker = threading.Thread(target=self._work, name="iddk", daemon=True)
        self._worker.start()
        self._overrun: _Job | None = None
        self._lock = threading.Lock()

    def _work(self) -> None:
        while True:
            function, args, job = self._jobs.get()
            if job.set_running_or_notify_cancel():
                try:
                    job.set_result(function(*args))
                except BaseException as exc:  # ctypes raises ArgumentError for a bad argument
                    job.set_exception(exc)

    @classmethod
    def load(cls, path: str | Path = "libIddk2000.so") -> IddkLibrary:
        """The library at ``path`` (a bare name is looked up by the dynamic loader)."""
        key = str(path)
        with cls._loading:
            library = cls._loaded.get(key)
            if library is None:
                library = cls(key)
                cls._loaded[key] = library
            return library

    def call(self, name: str, *args: Any, timeout: float) -> int:
        """Run ``name(*args)`` on the worker thread; its raw result code."""
        function: Callable[..., int] = getattr(self._cdll, name)
        with self._lock:
            if self._overrun is not None:
                try:
                    self._overrun.result(timeout)
                except concurrent.futures.TimeoutError:
                    raise IddkError(LIBRARY_WEDGED, call=name) from None
                self._overrun = None
            future: _Job = concurrent.futures.Future()
            self._jobs.put((function, args, future))
            try:
                return future.result(timeout)
            except concurrent.futures.TimeoutError:
                self._overrun = future
                raise IddkError(CALL_TIMED_OUT, call=name, detail=f"{timeout:g} s") from None

    def check(self, name: str, *args: Any, timeout: float, accept: tuple[int, ...] = ()) -> int:
        """:meth:`call`, raising :class:`IddkError` unless the result is OK or in ``accept``."""
        code = self.call(name, *args, timeout=timeout)
        if code != OK and code not in accept:
            raise IddkError(code, call=name)
        return code

    def sdk_version(self, timeout: float = 2.0) -> str:
        value = self.call("Iddk_GetSdkVersion", timeout=timeout)
        return f"{value >> 16 & 0xFF}.{value >> 8 & 0xFF}.{value & 0xFF}"

    def scan(self, timeout: float = 5.0) -> list[str]:
        """The descriptors of the cameras plugged in now (empty: none found)."""
        descs = _p(ctypes.c_char_p)()
        count = _int(0)
        code = self.check(
            "Iddk_ScanDevices",
            ctypes.byref(descs),
            ctypes.byref(count),
            timeout=timeout,
            accept=(2,),
        )
        if code != OK or not descs:
            return []
        if not 0 <= count.value <= 64:
            raise IddkError(10, call="Iddk_ScanDevices", detail=f"{count.value} devices")
        return [(descs[i] or b"").decode("utf-8", "replace") for i in range(count.value)]


@dataclass(frozen=True)
class DeviceInfo:
    descriptor: str
    product: str
    serial_number: str
    binocular: bool
    kernel_version: int
    kernel_revision: int
    features: int
    image_width: int
    image_height: int


@dataclass(frozen=True)
class EyeQuality:
    """The camera's own quality of one eye: total score and usable iris area, 0-100."""

    total_score: int
    usable_area: int


@dataclass(frozen=True)
class EyeImage:
    eye: str  # "right", "left", "unknown"
    pixels: bytes
    width: int
    height: int


class IddkCamera(DeviceHandle):
    """One opened IriShield camera. Close it (or use ``with``) on every path."""

    def __init__(
        self, library: IddkLibrary, handle: ctypes.c_void_p, info: DeviceInfo, *, timeout: float
    ) -> None:
        self.library = library
        self.info = info
        self.timeout = timeout
        self._handle: ctypes.c_void_p | None = handle
        self._eyes: list[str] = ["right", "left"] if info.binocular else ["unknown"]

    @classmethod
    def open(
        cls, library: IddkLibrary, device: str | None = None, *, timeout: float = 5.0
    ) -> IddkCamera:
        """Scan, open the first camera (or the one whose descriptor contains ``device``),
        read its information and initialise it; closed again if any step fails."""
        found = library.scan(timeout)
        chosen = [d for d in found if device is None or device in d]
        if not chosen:
            detail = f"looking for {device!r} among {found}" if device else "ScanDevices found none"
            raise IddkError(2, call="Iddk_ScanDevices", detail=detail)
        handle = HIRICAMM()
        descriptor = chosen[0]
        library.check("Iddk_OpenDevice", descriptor.encode(), ctypes.byref(handle), timeout=timeout)
        try:
            raw = IddkDeviceInfo()
            library.check("Iddk_GetDeviceInfo", handle, ctypes.byref(raw), timeout=timeout)
            width, height = _int(0), _int(0)
            library.check(
                "Iddk_InitCamera",
                handle,
                ctypes.byref(width),
                ctypes.byref(height),
                timeout=timeout,
            )
        except BaseException:
            _close_quietly(library, handle, timeout)
            raise
        info = DeviceInfo(
            descriptor=descriptor,
            product=_text(bytes(raw.productName)),
            serial_number=_text(bytes(raw.serialNumber)),
            binocular=bool(raw.isBinocular),
            kernel_version=raw.kernelVersion,
            kernel_revision=raw.kernelRevision,
            features=raw.deviceFeatures,
            image_width=width.value,
            image_height=height.value,
        )
        log.info("iris camera %s (%s) opened: %s", info.product, info.serial_number, descriptor)
        return cls(library, handle, info, timeout=timeout)

    @property
    def is_open(self) -> bool:
        return self._handle is not None

    def _h(self) -> ctypes.c_void_p:
        if self._handle is None:
            raise IddkError(4, detail="closed")
        return self._handle

    # -- capture -------------------------------------------------------------------------------

    def start_capture(
        self,
        eyes: EyeSubtype,
        *,
        quality: QualityMode = QualityMode.NORMAL,
        seconds: int = 10,
        auto_leds: bool = True,
    ) -> None:
        """Start an automatic, time-based capture of ``eyes`` (at most ``seconds`` long)."""
        self.library.check(
            "Iddk_StartCapture",
            self._h(),
            CaptureMode.TIMEBASED,
            seconds,
            quality,
            OperationMode.AUTO_CAPTURE,
            eyes,
            int(auto_leds),
            IDDKCAPTUREPROC(),  # NULL: the status is polled
            None,
            timeout=self.timeout,
        )
        if not self.info.binocular:
            self._eyes = ["left" if eyes == EyeSubtype.LEFT else "right" if eyes else "unknown"]

    def status(self) -> CaptureStatus:
        value = _int(0)
        self.library.check(
            "Iddk_GetCaptureStatus", self._h(), ctypes.byref(value), timeout=self.timeout
        )
        try:
            return CaptureStatus(value.value)
        except ValueError:
            raise IddkError(
                10, call="Iddk_GetCaptureStatus", detail=f"state {value.value}"
            ) from None

    def wait_for_result(self, timeout: float, *, poll: float = 0.01) -> CaptureStatus:
        """Poll until COMPLETE; ABORT or ``timeout`` stop the capture and raise (retryable)."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.status()
            if state == CaptureStatus.COMPLETE:
                return state
            if state == CaptureStatus.ABORT:
                raise IddkError(CAPTURE_ABORTED, call="Iddk_GetCaptureStatus")
            if time.monotonic() >= deadline:
                self.stop()
                raise IddkError(
                    CAPTURE_TIMED_OUT, call="Iddk_GetCaptureStatus", detail=f"{timeout:g} s"
                )
            time.sleep(poll)

    def stop(self) -> None:
        self.library.check("Iddk_StopCapture", self._h(), timeout=self.timeout)

    def clear(self) -> None:
        self.library.check("Iddk_ClearCapture", self._h(), EyeSubtype.UNKNOWN, timeout=self.timeout)

    def result_images(self) -> dict[str, EyeImage]:
        """The qualified eyes' images; one eye unqualified gives the other alone, none raises."""
        found: dict[str, EyeImage] = {}
        for eye, image in self._per_eye(
            "Iddk_GetResultImage",
            IddkImage,
            ImageKind.K1,
            ImageFormat.MONO_RAW,
            1,
            accept=(RIGHT_UNQUALIFIED, LEFT_UNQUALIFIED),
        ):
            if not image.imageData:
                continue
            width, height = image.imageWidth, image.imageHeight
            if (
                not (0 < width <= 4096 and 0 < height <= 4096)
                or image.imageDataLen != width * height
            ):
                raise IddkError(
                    10,
                    call="Iddk_GetResultImage",
                    detail=f"{width}x{height} image of {image.imageDataLen} bytes",
                )
            pixels = ctypes.string_at(image.imageData, image.imageDataLen)
            found[eye] = EyeImage(eye, pixels, width, height)
        return found

    def result_quality(self) -> dict[str, EyeQuality]:
        """The camera's quality of each eye it saw (0, 0 for an eye it did not)."""
        result: dict[str, EyeQuality] = {}
        for eye, q in self._per_eye("Iddk_GetResultQuality", IddkIrisQuality):
            if q.totalScore > 100 or q.usableArea > 100:
                raise IddkError(
                    10, call="Iddk_GetResultQuality", detail=f"{q.totalScore}/{q.usableArea}"
                )
            result[eye] = EyeQuality(q.totalScore, q.usableArea)
        return result

    def _per_eye(
        self, call: str, kind: type[_Record], *args: object, accept: tuple[int, ...] = ()
    ) -> list[tuple[str, _Record]]:
        """A result call filling an array of ``kind`` (one per eye, at most two) and its
        count: each eye with its record."""
        records = _p(kind)()
        count = _int(0)
        self.library.check(
            call,
            self._h(),
            *args,
            ctypes.byref(records),
            ctypes.byref(count),
            timeout=self.timeout,
            accept=accept,
        )
        if not 0 <= count.value <= 2:
            raise IddkError(10, call=call, detail=f"{count.value} eyes")
        return [(self._eyes[index], records[index]) for index in range(count.value)]

    def result_iso_image(self, eye: EyeSubtype) -> bytes:
        """The camera's own ISO/IEC 19794-6:2011 record of ``eye`` (raw pixels)."""
        buffer = IddkDataBuffer()
        self.library.check(
            "Iddk_GetResultIsoImage",
            self._h(),
            IsoRevision.ISO_2011,
            ImageFormat.MONO_RAW,
            ImageKind.K1,
            1,
            eye,
            ctypes.byref(buffer),
            timeout=self.timeout,
        )
        if not buffer.data or not 0 < buffer.dataSize <= 16 * 1024 * 1024:
            raise IddkError(10, call="Iddk_GetResultIsoImage", detail=f"{buffer.dataSize} bytes")
        return ctypes.string_at(buffer.data, buffer.dataSize)

    def led(self, led: LedId, on: bool, duration_ms: int = 0) -> None:
        self.library.check(
            "Iddk_ControlLed", self._h(), led, int(on), duration_ms, timeout=self.timeout
        )

    def close(self) -> None:
        """De-initialise and close; quiet about a camera that is already gone."""
        handle, self._handle = self._handle, None
        if handle is not None:
            _close_quietly(self.library, handle, self.timeout)


def _close_quietly(library: IddkLibrary, handle: ctypes.c_void_p, timeout: float) -> None:
    # Closing waits longer than a call: it must outlast a call that overran just before.
    timeout = max(timeout, CLOSE_TIMEOUT)
    for name, args in (("Iddk_DeinitCamera", (handle,)), ("Iddk_CloseDevice", (handle,))):
        try:
            code = library.call(name, *args, timeout=timeout)
        except IddkError as exc:
            log.warning("closing the iris camera: %s", exc)
            return
        if code != OK:
            log.info("closing the iris camera: %s", IddkError(code, call=name))


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace").strip()
