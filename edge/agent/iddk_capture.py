"""Irises through an IriShield camera driven by IriTech's IDDK 2000 library (``[sensors.iris]
backend = "iddk"``), behind the same capture boundary as the ewp-serial camera.

One :meth:`IddkIrisCapturer.capture` is one look at the camera: a binocular camera captures
the eyes asked for at once, a monocular one each eye in turn. Each image the camera qualifies
comes back with our ``ewp-iq-1`` score computed on it (the workflow's threshold is ours) and
the camera's own total score and usable area (recorded in the ISO record's quality blocks as
the camera's). What the camera does not qualify is "no usable image" for that eye this time,
and the workflow asks the applicant to look again.

Hot-plug: the camera is opened when first needed and found again by ``Iddk_ScanDevices``.
When it disappears mid-capture (unplugged, an I/O failure or timeout) the operator is told
(``iris-camera-lost``), the dead handle is closed, and the capturer looks for the camera for
up to ``reconnect_s``; if it comes back the same look is retried once, otherwise the look
gives nothing and the next attempt looks for the camera again. Failures that no wait cures
(no library, no permission, a wedged library) raise :class:`IddkError` to the caller.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from edge.agent.capture_console import Guidance
from edge.agent.capture_devices import IrisSample
from edge.agent.quality.iris_quality import iris_quality
from edge.drivers.iddk2000 import (
    CaptureStatus,
    DeviceInfo,
    EyeQuality,
    EyeSubtype,
    IddkCamera,
    IddkError,
    IddkLibrary,
    QualityMode,
)

log = logging.getLogger(__name__)

SCAN_INTERVAL_S = 0.5
_SUBTYPES = {"right-eye": EyeSubtype.RIGHT, "left-eye": EyeSubtype.LEFT}


class IddkIrisCapturer:
    """The IDDK backend of the workflow's ``IrisCapturer``."""

    def __init__(
        self,
        library: str | Path = "libIddk2000.so",
        *,
        device: str | None = None,
        call_timeout_s: float = 5.0,
        capture_timeout_s: float = 30.0,
        capture_seconds: int = 3,
        reconnect_s: float = 10.0,
        quality_mode: QualityMode = QualityMode.NORMAL,
        poll_s: float = 0.01,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.library_path = str(library)
        self.device = device
        self.call_timeout_s = call_timeout_s
        self.capture_timeout_s = capture_timeout_s
        self.capture_seconds = capture_seconds
        self.reconnect_s = reconnect_s
        self.quality_mode = quality_mode
        self.poll_s = poll_s
        self._clock = clock
        self._sleep = sleep
        self.camera: IddkCamera | None = None
        self.device_seconds = 0.0  # from each start of capture to the camera cleared (bench)
        self.reconnects = 0

    @property
    def library(self) -> IddkLibrary:
        return IddkLibrary.load(self.library_path)

    def open(self) -> IddkCamera:
        """The camera, opened if it is not (raises IddkError when none is plugged in)."""
        if self.camera is None:
            self.camera = IddkCamera.open(self.library, self.device, timeout=self.call_timeout_s)
        return self.camera

    def info(self) -> DeviceInfo:
        return self.open().info

    def close(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            camera.close()

    def capture(self, eyes: list[str], guide: Callable[[Guidance], None]) -> dict[str, IrisSample]:
        if self.camera is None and not self._find(guide, lost=False):
            return {}
        for retry in (False, True):  # a camera lost and found again: the same look, once more
            try:
                return self._look(eyes, guide)
            except IddkError as exc:
                if not exc.device_lost:
                    raise
                when = "again" if retry else "during a capture"
                log.warning("iris camera lost %s: %s", when, exc)
                self.close()
                if retry or not self._find(guide, lost=True):
                    return {}
                guide(Guidance("iris-camera-back", "info"))
        return {}

    def _find(self, guide: Callable[[Guidance], None], *, lost: bool) -> bool:
        """Scan for the camera for up to ``reconnect_s``; True once it is open."""
        deadline = self._clock() + self.reconnect_s
        told = lost
        if lost:
            guide(Guidance("iris-camera-lost", "error"))
        while True:
            try:
                self.open()
                if told or lost:
                    self.reconnects += 1
                return True
            except IddkError as exc:
                if not exc.device_lost:
                    raise
                if not told:
                    told = True
                    seconds = round(self.reconnect_s)
                    guide(Guidance("iris-camera-missing", "error", {"seconds": seconds}))
                    log.warning("%s", exc)
            if self._clock() >= deadline:
                return False
            self._sleep(SCAN_INTERVAL_S)

    def _look(self, eyes: list[str], guide: Callable[[Guidance], None]) -> dict[str, IrisSample]:
        camera = self.open()
        if camera.info.binocular:
            subtype = _SUBTYPES[eyes[0]] if len(eyes) == 1 else EyeSubtype.BOTH
            return self._one_capture(camera, subtype, eyes)
        samples: dict[str, IrisSample] = {}
        for eye in eyes:
            if len(eyes) > 1:  # a one-eye camera: the operator holds it to each eye in turn
                guide(Guidance("iris-one-eye", "capturing", {"eye": eye}))
            samples.update(self._one_capture(camera, _SUBTYPES[eye], [eye]))
        return samples

    def _one_capture(
        self, camera: IddkCamera, subtype: EyeSubtype, eyes: list[str]
    ) -> dict[str, IrisSample]:
        started = time.monotonic()
        try:
            camera.start_capture(subtype, quality=self.quality_mode, seconds=self.capture_seconds)
            try:
                camera.wait_for_result(self.capture_timeout_s, poll=self.poll_s)
                qualities = camera.result_quality()
                images = camera.result_images()
            except IddkError as exc:
                if not exc.retryable:
                    raise
                log.info("iris capture of %s: %s", ", ".join(eyes), exc)
                return {}
            finally:
                _clear_quietly(camera)
        finally:
            self.device_seconds += time.monotonic() - started
        samples: dict[str, IrisSample] = {}
        for side, image in images.items():
            eye = f"{side}-eye" if side != "unknown" else eyes[0]
            if eye not in eyes:
                continue
            vendor = qualities.get(side, EyeQuality(0, 0))
            samples[eye] = IrisSample(
                eye,
                image.pixels,
                image.width,
                image.height,
                iris_quality(image.pixels, image.width, image.height),
                camera_quality=vendor.total_score,
                camera_usable_area=vendor.usable_area,
            )
        return samples


def _clear_quietly(camera: IddkCamera) -> None:
    """Leave the camera idle for the next look, whatever happened to this one."""
    try:
        if camera.status() in (CaptureStatus.READY, CaptureStatus.CAPTURING):
            camera.stop()
        camera.clear()
    except IddkError as exc:
        log.debug("clearing the iris camera: %s", exc)
