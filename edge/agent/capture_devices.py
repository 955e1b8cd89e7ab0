"""The devices behind the enrolment workflow: one capture of a finger or of the eyes, scored.

``FingerCapturer`` drives the R30x module (image, the module's template, our ``ewp-fq-1``
score, the module's match for the duplicate-finger check); ``CameraIrisCapturer`` drives the
ewp-serial iris camera (edge/agent/iddk_capture.py is the IDDK 2000 backend of the same
``IrisCapturer``). Each keeps ``device_seconds``, the time spent waiting on its device, for the
workflow benchmark (bench/enrolment_workflow.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from edge.agent.biometric_records import CameraQuality
from edge.agent.capture_console import Guidance
from edge.agent.quality.finger_quality import FingerQuality, finger_quality
from edge.agent.quality.iris_quality import IrisQuality, iris_quality
from edge.drivers.fingerprint_r30x import (
    FingerprintImage,
    FingerprintSensor,
    NoMatchError,
    RetryCaptureError,
)
from edge.drivers.iris_camera import IrisCamera, IrisImage, IrisRetryCaptureError
from edge.drivers.iris_camera import IrisQuality as CameraReport

log = logging.getLogger(__name__)

# The module's Match score above which two templates are the same finger (R30x: ~50 at
# security level 3). Deliberately a little lower, to catch a duplicate rather than miss it.
DUPLICATE_SCORE = 40


@dataclass(frozen=True)
class FingerSample:
    image: FingerprintImage
    template: bytes
    quality: FingerQuality


@dataclass(frozen=True)
class IrisSample:
    eye: str  # "left-eye" | "right-eye"
    pixels: bytes
    width: int
    height: int
    quality: IrisQuality
    camera_quality: int | None = None  # the camera's own total score, 0-100
    camera_usable_area: int | None = None  # the camera's own usable iris area, 0-100

    def camera(self) -> CameraQuality | None:
        """The camera's own figures for the ISO record, when the camera gave both."""
        if self.camera_quality is None or self.camera_usable_area is None:
            return None
        return CameraQuality(self.camera_quality, self.camera_usable_area)


class IrisCapturer(Protocol):
    def capture(self, eyes: list[str], guide: Callable[[Guidance], None]) -> dict[str, IrisSample]:
        """One capture of the given eyes ("left-eye", "right-eye"); the eyes it got."""
        ...


class FingerCapturer:
    """Fingers through the R30x module: image, module template, our quality score."""

    def __init__(self, sensor: FingerprintSensor, *, timeout_s: float) -> None:
        self.sensor = sensor
        self.timeout_s = timeout_s
        self.device_seconds = 0.0  # time spent waiting on the module (for the benchmark)

    def capture(
        self, guide: Callable[[Guidance], None], position: str, attempt: int, attempts: int
    ) -> FingerSample:
        guide(
            Guidance(
                "place-finger",
                "capturing",
                {"finger": position, "attempt": attempt, "attempts": attempts},
            )
        )
        started = time.monotonic()
        try:
            self.sensor.wait_for_finger(self.timeout_s)
            image = self.sensor.read_image()
            self.sensor.image_to_template(1)
            template = self.sensor.read_template(1)
        finally:
            self.device_seconds += time.monotonic() - started
        return FingerSample(
            image, template, finger_quality(image.pixels, image.width, image.height)
        )

    def lift(self, guide: Callable[[Guidance], None]) -> None:
        guide(Guidance("lift-finger"))
        started = time.monotonic()
        try:
            self.sensor.wait_for_finger_removed(self.timeout_s)
        except RetryCaptureError:
            log.info("finger not lifted within %.0f s; continuing", self.timeout_s)
        finally:
            self.device_seconds += time.monotonic() - started

    def duplicate_of(self, accepted: dict[str, bytes]) -> tuple[str, int] | None:
        """Which accepted finger the template in char buffer 1 matches, if any (on the module).

        Each accepted template is written to buffer 2 and matched against buffer 1.
        """
        started = time.monotonic()
        try:
            for position, template in accepted.items():
                self.sensor.write_template(2, template)
                try:
                    score = self.sensor.match()
                except NoMatchError:
                    continue
                if score >= DUPLICATE_SCORE:
                    return position, score
            return None
        finally:
            self.device_seconds += time.monotonic() - started


class CameraIrisCapturer:
    """Irises through the iris camera: one capture of the eyes asked for, our quality score
    on each image the camera found (qualified or not: the threshold is ours)."""

    def __init__(self, camera: IrisCamera, *, timeout_s: float = 30.0) -> None:
        self.camera = camera
        self.timeout_s = timeout_s
        self.device_seconds = 0.0

    def capture(self, eyes: list[str], guide: Callable[[Guidance], None]) -> dict[str, IrisSample]:
        sides = [eye.removesuffix("-eye") for eye in eyes]
        started = time.monotonic()
        try:
            self.camera.start_capture(sides[0] if len(sides) == 1 else "both")
            try:
                status = self.camera.wait_for_result(self.timeout_s, accept_unqualified=True)
            except IrisRetryCaptureError as exc:
                log.info("iris capture of %s: %s", ", ".join(eyes), exc)
                return {}
            found = {eye.value for eye in status.eyes_found}
            images: dict[str, tuple[IrisImage, CameraReport]] = {}
            for side in sides:
                if side not in found:
                    continue
                image = self.camera.result_image(side, unqualified=True)
                camera_score = self.camera.result_quality(side)
                images[f"{side}-eye"] = (image, camera_score)
            self.camera.clear()
        finally:
            self.device_seconds += time.monotonic() - started
        return {
            eye: IrisSample(
                eye,
                image.pixels,
                image.width,
                image.height,
                iris_quality(image.pixels, image.width, image.height),
                camera_score.total_score,
                camera_score.usable_area,
            )
            for eye, (image, camera_score) in images.items()
        }
