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
(edge/agent/i18n.py, edge/agent/capture_console.py), so any screen (terminal, kiosk, autopilot
log) can render it in Thai or English; the devices are behind edge/agent/capture_devices.py.
The result is an ``Enrolment`` of ``CapturedRecord``s (edge/agent/captured.py) for the packet
builder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from edge.agent.biometric_records import finger_record, iris_record
from edge.agent.capture_console import Console, Declared, Guidance, ShownCapture
from edge.agent.capture_devices import FingerCapturer, FingerSample, IrisCapturer, IrisSample
from edge.agent.captured import CapturedRecord, Enrolment
from edge.drivers.fingerprint_r30x import RetryCaptureError
from protocol.enrolment import Application, BiometricException
from protocol.envelope import utc_timestamp
from protocol.station_config import CapturePolicy

log = logging.getLogger(__name__)


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
            CapturedRecord.of(
                f"finger/{position}.template",
                best.template,
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
                    camera_quality=sample.camera(),
                )
            )
        return records

    @staticmethod
    def _exception(modality: str, position: str, why: Declared) -> BiometricException:
        log.info("%s %s: exception %s %s", modality, position, why.reason, why.note)
        return BiometricException.model_validate(
            {"modality": modality, "position": position, "reason": why.reason, "note": why.note}
        )


def _weakest(components: dict[str, float], default: str) -> str:
    """The component to advise on: the weakest one below 0.75, else ``default``."""
    weak = sorted((value, name) for name, value in components.items() if value < 0.75)
    return weak[0][1] if weak else default
