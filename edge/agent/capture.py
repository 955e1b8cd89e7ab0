"""The enrolment workflow: the capture plan, finger by finger and eye by eye, with retries,
quality, exceptions and the duplicate-finger check, into standard records.

For each position of the plan (``protocol.station_config.CapturePolicy``):

- a position the operator declared missing, amputated or bandaged is recorded as an exception
  and not captured;
- up to ``attempts`` captures, keeping the best; a capture at or above the quality threshold
  ends the position early; each shortfall tells the operator why (ewp-fq-1 / ewp-iq-1 components);
- a finger whose template the module matches to a finger already captured in this enrolment is
  refused ("the same finger presented as two different fingers") and counts as an attempt;
- when no attempt reached the threshold, the operator decides: keep the best capture (its low
  quality is recorded) or record the position as unusable with a reason.

Images go straight into ISO 19794-4 (WSQ) and 19794-6 (PNG) records, in memory, as each
position is accepted. What the operator sees is said through a ``Console`` in message keys
(edge/agent/i18n.py), so any screen (terminal, kiosk, autopilot log) can render it in Thai or
English.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

from edge.agent.biometric_records import CameraQuality, finger_record, iris_record
from edge.agent.packet_builder import CapturedRecord, Enrolment
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
from protocol.enrolment import Application, BiometricException
from protocol.envelope import utc_timestamp
from protocol.station_config import CapturePolicy

log = logging.getLogger(__name__)

Level = Literal["info", "capturing", "good", "retry", "error"]
ExceptionReason = Literal["missing", "amputated", "bandaged", "unusable", "other"]
# The module's Match score above which two templates are the same finger (R30x: ~50 at
# security level 3). Deliberately a little lower, to catch a duplicate rather than miss it.
DUPLICATE_SCORE = 40


@dataclass(frozen=True)
class Guidance:
    """One thing to tell the operator: a message key of edge/agent/i18n.py and its values."""

    key: str
    level: Level = "info"
    params: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Declared:
    """A position the operator says cannot be captured, before capture starts."""

    reason: ExceptionReason
    note: str = ""


@dataclass(frozen=True)
class KeepBest:
    """After failed attempts: keep the best capture below the threshold."""


Resolution = KeepBest | Declared


@dataclass(frozen=True)
class ShownCapture:
    """One capture as a screen may show it (8-bit grey pixels, in memory only) with its score."""

    position: str
    attempt: int
    quality: int
    width: int
    height: int
    pixels: bytes


class Console(Protocol):
    """The operator's side of the workflow (terminal, kiosk, autopilot, test script)."""

    def guide(self, guidance: Guidance) -> None: ...

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        """No attempt reached the threshold: keep the best, or record an exception."""
        ...


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


@dataclass
class WorkflowStats:
    attempts: dict[str, int] = field(default_factory=dict)  # position -> attempts used
    duplicates_refused: int = 0
    seconds: float = 0.0

    def average_attempts(self, modality: str) -> float | None:
        values = [n for p, n in self.attempts.items() if p.endswith("-eye") == (modality == "iris")]
        return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class WorkflowResult:
    enrolment: Enrolment
    stats: WorkflowStats


class EnrolmentWorkflow:
    def __init__(
        self,
        policy: CapturePolicy,
        console: Console,
        *,
        fingers: FingerCapturer | None,
        irises: IrisCapturer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_capture: Callable[[ShownCapture], None] | None = None,
    ) -> None:
        self.policy = policy
        self.console = console
        self.fingers = fingers
        self.irises = irises
        self._clock = clock
        self._on_capture = on_capture or (lambda shown: None)

    def run(
        self,
        application: Application,
        *,
        operator_id: str,
        declared: dict[str, Declared] | None = None,
        source: str = "operator",
    ) -> WorkflowResult:
        declared = declared or {}
        started = time.monotonic()
        stats = WorkflowStats()
        records: list[CapturedRecord] = []
        exceptions: list[BiometricException] = []
        templates: dict[str, bytes] = {}
        for position in self.policy.fingers:
            if position in declared:
                exceptions.append(self._exception("finger", position, declared[position]))
                continue
            if self.fingers is None:
                exceptions.append(
                    self._exception(
                        "finger",
                        position,
                        Declared("other", "no fingerprint sensor at this station"),
                    )
                )
                continue
            records.extend(self._finger(position, templates, stats, exceptions))
        eyes = [f"{eye}-eye" for eye in self.policy.eyes]
        capturable = [eye for eye in eyes if eye not in declared]
        for eye in eyes:
            if eye in declared:
                exceptions.append(self._exception("iris", eye, declared[eye]))
        if capturable:
            if self.irises is None:
                for eye in capturable:
                    exceptions.append(
                        self._exception(
                            "iris", eye, Declared("other", "no iris camera at this station")
                        )
                    )
            else:
                records.extend(self._irises(capturable, stats, exceptions))
        stats.seconds = time.monotonic() - started
        enrolment = Enrolment(
            application=application,
            operator_id=operator_id,
            captured_at=utc_timestamp(self._clock()),
            records=records,
            exceptions=exceptions,
            source=source,
        )
        return WorkflowResult(enrolment, stats)

    # -- fingers -------------------------------------------------------------------------------

    def _finger(
        self,
        position: str,
        templates: dict[str, bytes],
        stats: WorkflowStats,
        exceptions: list[BiometricException],
    ) -> list[CapturedRecord]:
        assert self.fingers is not None
        guide = self.console.guide
        threshold = self.policy.finger_quality_min
        best: FingerSample | None = None
        attempts = self.policy.attempts
        used = 0
        for attempt in range(1, attempts + 1):
            used = attempt
            try:
                sample = self.fingers.capture(guide, position, attempt, attempts)
            except RetryCaptureError as exc:
                log.info("%s attempt %d: %s", position, attempt, exc)
                guide(
                    Guidance(
                        "finger-unreadable", "retry", {"finger": position, "advice": "press-again"}
                    )
                )
                self.fingers.lift(guide)
                continue
            if self.policy.duplicate_check and templates:
                duplicate = self.fingers.duplicate_of(templates)
                if duplicate is not None:
                    stats.duplicates_refused += 1
                    log.warning("%s refused: matches %s (score %d)", position, *duplicate)
                    guide(
                        Guidance(
                            "duplicate-finger", "error", {"finger": position, "other": duplicate[0]}
                        )
                    )
                    self.fingers.lift(guide)
                    continue
            image = sample.image  # shown (with its score) while the finger is lifted
            self._on_capture(
                ShownCapture(
                    position, attempt, sample.quality.score, image.width, image.height, image.pixels
                )
            )
            self.fingers.lift(guide)
            if best is None or sample.quality.score > best.quality.score:
                best = sample
            if sample.quality.score >= threshold:
                guide(
                    Guidance(
                        "finger-good", "good", {"finger": position, "quality": sample.quality.score}
                    )
                )
                break
            guide(
                Guidance(
                    "finger-low-quality",
                    "retry",
                    {
                        "finger": position,
                        "quality": sample.quality.score,
                        "threshold": threshold,
                        "advice": _weakest(sample.quality.components, "press-again"),
                    },
                )
            )
        stats.attempts[position] = used
        if best is None or best.quality.score < threshold:
            resolution = self.console.resolve(position, best.quality.score if best else None)
            if isinstance(resolution, Declared) or best is None:
                why = resolution if isinstance(resolution, Declared) else Declared("unusable")
                exceptions.append(self._exception("finger", position, why))
                return []
            guide(
                Guidance(
                    "finger-accepted-low",
                    "info",
                    {"finger": position, "quality": best.quality.score, "threshold": threshold},
                )
            )
        templates[position] = best.template
        now = self._clock()
        image = best.image
        return [
            finger_record(
                image.pixels,
                image.width,
                image.height,
                position=position,
                captured_at=now,
                quality=best.quality,
                attempts=used,
            ),
            CapturedRecord(
                name=f"finger/{position}.template",
                data=best.template,
                modality="finger",
                kind="template",
                format="r30x-char-512",
                position=position,
                attempts=used,
            ),
        ]

    # -- irises --------------------------------------------------------------------------------

    def _irises(
        self, eyes: list[str], stats: WorkflowStats, exceptions: list[BiometricException]
    ) -> list[CapturedRecord]:
        assert self.irises is not None
        guide = self.console.guide
        threshold = self.policy.iris_quality_min
        best: dict[str, IrisSample] = {}
        used: dict[str, int] = {}
        pending = list(eyes)
        for attempt in range(1, self.policy.attempts + 1):
            if not pending:
                break
            label = pending[0] if len(pending) == 1 else "both-eyes"
            guide(
                Guidance(
                    "look-at-camera",
                    "capturing",
                    {"eye": label, "attempt": attempt, "attempts": self.policy.attempts},
                )
            )
            got = self.irises.capture(pending, guide)
            for eye in list(pending):
                used[eye] = attempt
                sample = got.get(eye)
                if sample is None:
                    guide(Guidance("iris-not-found", "retry", {"eye": eye, "advice": "look-again"}))
                    continue
                self._on_capture(
                    ShownCapture(
                        eye,
                        attempt,
                        sample.quality.score,
                        sample.width,
                        sample.height,
                        sample.pixels,
                    )
                )
                if eye not in best or sample.quality.score > best[eye].quality.score:
                    best[eye] = sample
                if sample.quality.score >= threshold:
                    guide(
                        Guidance("iris-good", "good", {"eye": eye, "quality": sample.quality.score})
                    )
                    pending.remove(eye)
                else:
                    guide(
                        Guidance(
                            "iris-low-quality",
                            "retry",
                            {
                                "eye": eye,
                                "quality": sample.quality.score,
                                "threshold": threshold,
                                "advice": _weakest(sample.quality.components, "look-again"),
                            },
                        )
                    )
        records: list[CapturedRecord] = []
        now = self._clock()
        for eye in eyes:
            stats.attempts[eye] = used.get(eye, 0)
            sample = best.get(eye)
            if sample is None or sample.quality.score < threshold:
                resolution = self.console.resolve(eye, sample.quality.score if sample else None)
                if isinstance(resolution, Declared) or sample is None:
                    why = resolution if isinstance(resolution, Declared) else Declared("unusable")
                    exceptions.append(self._exception("iris", eye, why))
                    continue
                guide(
                    Guidance(
                        "iris-accepted-low",
                        "info",
                        {"eye": eye, "quality": sample.quality.score, "threshold": threshold},
                    )
                )
            records.append(
                iris_record(
                    sample.pixels,
                    sample.width,
                    sample.height,
                    eye=eye,
                    captured_at=now,
                    quality=sample.quality,
                    attempts=used.get(eye, 1),
                    camera_quality=_camera_quality(sample),
                )
            )
        return records

    @staticmethod
    def _exception(modality: str, position: str, why: Declared) -> BiometricException:
        log.info("%s %s: exception %s %s", modality, position, why.reason, why.note)
        return BiometricException.model_validate(
            {"modality": modality, "position": position, "reason": why.reason, "note": why.note}
        )


def _camera_quality(sample: IrisSample) -> CameraQuality | None:
    if sample.camera_quality is None or sample.camera_usable_area is None:
        return None
    return CameraQuality(sample.camera_quality, sample.camera_usable_area)


def _weakest(components: dict[str, float], default: str) -> str:
    """The component to advise on: the weakest one below 0.75, else ``default``."""
    weak = sorted((value, name) for name, value in components.items() if value < 0.75)
    return weak[0][1] if weak else default
