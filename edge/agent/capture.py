"""Fingerprint capture for an enrolment: one finger after another from the capture plan.

For each finger: wait for it on the glass, take the image (UpImage), have the module extract
its template (Img2Tz, UpChar), then wait for the finger to be lifted. A press the module cannot
use (too messy, too few features, ...) is retried up to ``attempts`` times; everything stays in
memory: images are PNG-encoded for the packet, never written to disk.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from edge.agent.errors import CaptureError
from edge.agent.packet_builder import CapturedRecord
from edge.drivers.fingerprint_r30x import (
    FingerprintError,
    FingerprintImage,
    FingerprintSensor,
    RetryCaptureError,
    TransportError,
)

log = logging.getLogger(__name__)

RESOLUTION_PPI = 500


@dataclass(frozen=True)
class FingerCapture:
    position: str
    image: FingerprintImage
    template: bytes
    attempts: int
    seconds: float


def encode_png(image: FingerprintImage) -> bytes:
    buffer = io.BytesIO()
    picture = Image.frombytes("L", (image.width, image.height), image.pixels)
    picture.save(buffer, format="PNG", dpi=(RESOLUTION_PPI, RESOLUTION_PPI), optimize=False)
    return buffer.getvalue()


class FingerprintCapture:
    def __init__(
        self,
        sensor: FingerprintSensor,
        *,
        finger_timeout_s: float = 20.0,
        attempts: int = 3,
        prompt: Callable[[str], None] = lambda message: None,
        on_state: Callable[[str], None] = lambda state: None,
    ) -> None:
        self.sensor = sensor
        self.finger_timeout_s = finger_timeout_s
        self.attempts = attempts
        self._prompt = prompt
        self._on_state = on_state  # capturing | good | retry: for the station's panel

    def capture(self, position: str) -> FingerCapture:
        """Capture one finger; CaptureError when every attempt failed."""
        started = time.monotonic()
        last_error: FingerprintError | None = None
        for attempt in range(1, self.attempts + 1):
            self._prompt(f"place {position} (attempt {attempt} of {self.attempts})")
            self._on_state("capturing")
            try:
                self.sensor.wait_for_finger(self.finger_timeout_s)
                image = self.sensor.read_image()
                self.sensor.image_to_template(1)
                template = self.sensor.read_template(1)
            except TransportError:
                raise  # the sensor itself is gone: not the applicant's fault
            except RetryCaptureError as exc:
                last_error = exc
                log.info("capture of %s, attempt %d: %s", position, attempt, exc)
                self._on_state("retry")
                self._wait_for_lift()
                continue
            self._on_state("good")
            self._wait_for_lift()
            return FingerCapture(position, image, template, attempt, time.monotonic() - started)
        raise CaptureError(
            f"{position}: no usable print after {self.attempts} attempts ({last_error}); "
            "record an exception for this finger or try again"
        )

    def _wait_for_lift(self) -> None:
        self._prompt("lift the finger")
        try:
            self.sensor.wait_for_finger_removed(self.finger_timeout_s)
        except RetryCaptureError:
            log.info("finger not lifted within %.0f s; continuing", self.finger_timeout_s)

    @staticmethod
    def records(capture: FingerCapture) -> list[CapturedRecord]:
        """The packet records of one captured finger: its image and its module template."""
        png = encode_png(capture.image)
        return [
            CapturedRecord(
                name=f"finger/{capture.position}.png",
                data=png,
                modality="finger",
                kind="image",
                format="image/png",
                position=capture.position,
                attempts=capture.attempts,
                width=capture.image.width,
                height=capture.image.height,
                resolution_ppi=RESOLUTION_PPI,
            ),
            CapturedRecord(
                name=f"finger/{capture.position}.template",
                data=capture.template,
                modality="finger",
                kind="template",
                format="r30x-char-512",
                position=capture.position,
                attempts=capture.attempts,
            ),
        ]
