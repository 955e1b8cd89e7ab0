"""The enrolment workflow against the simulated fingerprint module (manual mode): a scripted
applicant presses what the script says when the workflow asks."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import serial

from edge.agent.autopilot import synthetic_application
from edge.agent.capture import EnrolmentWorkflow
from edge.agent.capture_console import Declared, Guidance, KeepBest, Resolution
from edge.agent.capture_devices import FingerCapturer
from edge.agent.i18n import render
from edge.drivers.fingerprint_r30x import FingerprintError, FingerprintSensor
from edge.drivers.fingerprint_r30x_errors import DISCONNECTED
from protocol.iso19794_4 import FINGER_POSITIONS, decode_finger_record
from protocol.station_config import ALL_FINGERS, CapturePolicy
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)

SUBJECT = 4242


class ScriptedApplicant:
    """Presses, for each finger the workflow asks for, the next (finger, quality) scripted;
    by default the right finger, well pressed. Records everything shown, in Thai too."""

    def __init__(
        self,
        sim: RunningFingerprintSimulator,
        script: dict[str, list[tuple[str, str]]] | None = None,
        resolution: Resolution | None = None,
    ) -> None:
        self.sim = sim
        self.script = defaultdict(deque, {k: deque(v) for k, v in (script or {}).items()})
        self.resolution = resolution or KeepBest()
        self.shown: list[Guidance] = []
        self.thai: list[str] = []
        self.resolved: list[tuple[str, int | None]] = []
        self.eyes: list[dict[str, object]] = []  # per iris attempt: present() arguments
        self.camera: object = None

    def guide(self, guidance: Guidance) -> None:
        self.shown.append(guidance)
        self.thai.append(render(guidance.key, "th", **guidance.params))
        if guidance.key == "look-at-camera" and self.camera is not None:
            sitting = self.eyes.pop(0) if self.eyes else {}
            self.camera.camera.present(SUBJECT, **sitting)  # type: ignore[attr-defined]
        if guidance.key == "place-finger":
            asked = str(guidance.params["finger"])
            finger, quality = (
                self.script[asked].popleft() if self.script[asked] else (asked, "good")
            )
            self.sim.sensor.place(SUBJECT, finger, quality)  # type: ignore[arg-type]
        elif guidance.key == "lift-finger":
            self.sim.sensor.lift()

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        self.resolved.append((position, best_quality))
        return self.resolution

    def keys(self, position: str) -> list[str]:
        return [g.key for g in self.shown if g.params.get("finger") == position]


@pytest.fixture
def sim() -> Iterator[RunningFingerprintSimulator]:
    with start_fingerprint_simulator(SensorConfig(mode="manual")) as running:
        yield running


@pytest.fixture
def sensor(sim: RunningFingerprintSimulator) -> Iterator[FingerprintSensor]:
    port = serial.serial_for_url(sim.url, timeout=0.05)
    yield FingerprintSensor(port, timeout=1.0)
    port.close()


def application() -> object:
    import random

    return synthetic_application(random.Random(1), 1, "ct-01")


def workflow(
    sensor: FingerprintSensor, console: ScriptedApplicant, **policy: object
) -> EnrolmentWorkflow:
    return EnrolmentWorkflow(
        CapturePolicy.model_validate({"eyes": [], **policy}),
        console,
        fingers=FingerCapturer(sensor, timeout_s=5),
    )


def test_ten_fingers_with_a_recapture_an_amputation_and_a_refused_duplicate(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    applicant = ScriptedApplicant(
        sim,
        {
            "right-middle": [("right-middle", "poor"), ("right-middle", "good")],
            "left-index": [("right-index", "good"), ("left-index", "good")],
        },
    )
    result = workflow(sensor, applicant).run(
        application(),  # type: ignore[arg-type]
        operator_id="op-1",
        declared={"left-little": Declared("amputated", "old injury")},
    )
    enrolment = result.enrolment
    images = {r.entry.position: r for r in enrolment.records if r.entry.kind == "image"}
    assert list(images) == [f for f in ALL_FINGERS if f != "left-little"]
    assert [(e.position, e.reason, e.note) for e in enrolment.exceptions] == [
        ("left-little", "amputated", "old injury")
    ]
    # The poor first press was captured again and the good one kept.
    assert applicant.keys("right-middle") == [
        "place-finger",
        "finger-low-quality",
        "place-finger",
        "finger-good",
    ]
    assert images["right-middle"].entry.attempts == 2
    assert (
        images["right-middle"].entry.quality is not None
        and images["right-middle"].entry.quality >= 40
    )
    # The right index presented again as the left index was refused by the module's match.
    assert "duplicate-finger" in applicant.keys("left-index")
    assert result.stats.duplicates_refused == 1
    assert images["left-index"].entry.attempts == 2
    # Every finger record is a real ISO 19794-4 record of the position it claims.
    for position, record in images.items():
        (finger,) = decode_finger_record(record.data).representations
        assert (finger.width, finger.height, finger.position) == (
            256,
            288,
            FINGER_POSITIONS[position],
        )
        assert record.entry.name == f"finger/{position}.fir"
    assert all(r.entry.quality is not None and r.entry.quality >= 40 for r in images.values())
    assert any("นิ้วกลางขวา" in line for line in applicant.thai), "guidance renders in Thai"
    assert result.stats.average_attempts("finger") == pytest.approx(11 / 9)


def test_when_no_press_is_good_enough_the_operator_decides(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    poor = [("right-thumb", "poor")] * 3
    keep = ScriptedApplicant(sim, {"right-thumb": poor})
    kept = workflow(sensor, keep, fingers=["right-thumb"]).run(application(), operator_id="op")  # type: ignore[arg-type]
    assert keep.resolved and keep.resolved[0][0] == "right-thumb"
    (record,) = [r for r in kept.enrolment.records if r.entry.kind == "image"]
    assert (
        record.entry.quality is not None
        and record.entry.quality < 40
        and record.entry.attempts == 3
    )
    refuse = ScriptedApplicant(
        sim, {"right-thumb": poor}, resolution=Declared("unusable", "scarred")
    )
    refused = workflow(sensor, refuse, fingers=["right-thumb"]).run(application(), operator_id="op")  # type: ignore[arg-type]
    assert refused.enrolment.records == []
    assert refused.enrolment.exceptions[0].reason == "unusable"


def test_an_unreadable_press_is_retried_and_a_pulled_cable_is_an_error(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    applicant = ScriptedApplicant(sim)
    sim.sensor.inject("messy-image:1")
    result = workflow(sensor, applicant, fingers=["left-thumb"]).run(
        application(), operator_id="op"
    )  # type: ignore[arg-type]
    assert "finger-unreadable" in applicant.keys("left-thumb")
    assert result.stats.attempts["left-thumb"] == 2
    sim.sensor.inject("unplug-mid-image:5")
    with pytest.raises(FingerprintError) as caught:
        workflow(sensor, ScriptedApplicant(sim), fingers=["left-ring"]).run(
            application(),
            operator_id="op",  # type: ignore[arg-type]
        )
    assert caught.value.code == DISCONNECTED


def test_no_sensor_records_exceptions_rather_than_inventing_data() -> None:
    flow = EnrolmentWorkflow(
        CapturePolicy(fingers=["right-index"], eyes=["left"]), ScriptedApplicant(None), fingers=None
    )  # type: ignore[arg-type]
    result = flow.run(application(), operator_id="op")  # type: ignore[arg-type]
    assert result.enrolment.records == []
    assert [(e.position, e.reason) for e in result.enrolment.exceptions] == [
        ("right-index", "other"),
        ("left-eye", "other"),
    ]
    assert date.fromisoformat(result.enrolment.captured_at[:10]) <= datetime.now(UTC).date()


def test_a_full_enrolment_ten_fingers_and_both_irises_from_both_simulators(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    """The issue's must-show: 10 fingers and 2 irises, a poor first press re-captured, an
    amputated finger recorded as an exception, a duplicate finger refused."""
    from edge.agent.capture_devices import CameraIrisCapturer
    from edge.drivers.iris_camera import IrisCamera
    from protocol.iso19794_6 import EyeLabel, decode_iris_record
    from simulators.iris import FAST_TIMING, CameraConfig, start_iris_simulator

    with start_iris_simulator(CameraConfig(timing=FAST_TIMING)) as iris_sim:
        port = serial.serial_for_url(iris_sim.url, timeout=0.05)
        camera = IrisCamera(port)
        applicant = ScriptedApplicant(
            sim,
            {
                "right-thumb": [("right-thumb", "poor"), ("right-thumb", "good")],
                "right-ring": [("right-middle", "good"), ("right-ring", "good")],
            },
        )
        applicant.camera = iris_sim
        # The first look: the left eyelid droops over most of the iris; then both open.
        applicant.eyes = [{"left": {"occlusion": 0.85}}, {}]
        flow = EnrolmentWorkflow(
            CapturePolicy(),
            applicant,
            fingers=FingerCapturer(sensor, timeout_s=5),
            irises=CameraIrisCapturer(camera, timeout_s=10),
        )
        result = flow.run(
            application(),
            operator_id="op-1",  # type: ignore[arg-type]
            declared={"left-thumb": Declared("amputated")},
        )
        port.close()
    images = {r.entry.position: r for r in result.enrolment.records if r.entry.kind == "image"}
    assert set(images) == {*ALL_FINGERS, "left-eye", "right-eye"} - {"left-thumb"}
    assert [(e.position, e.reason) for e in result.enrolment.exceptions] == [
        ("left-thumb", "amputated")
    ]
    assert images["right-thumb"].entry.attempts == 2 and result.stats.duplicates_refused == 1
    assert images["left-eye"].entry.attempts == 2 and images["right-eye"].entry.attempts == 1
    for eye, label in (("left-eye", EyeLabel.LEFT), ("right-eye", EyeLabel.RIGHT)):
        (representation,) = decode_iris_record(images[eye].data).representations
        assert representation.eye == label
        assert (representation.width, representation.height) == (640, 480)
        assert images[eye].entry.quality is not None and images[eye].entry.quality >= 60
    assert "iris-low-quality" in [g.key for g in applicant.shown]
