"""The IDDK iris backend behind the workflow's capture boundary, against the fake library:
the same workflow (thresholds, best of three, exceptions), the camera's quality recorded as
the camera's, our ewp-iq-1 on the image, and hot-plug (unplugged mid-capture, plugged later)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from edge.agent.biometric_records import CAMERA_QUALITY_ALGORITHM_IDS, iris_record
from edge.agent.capture import EnrolmentWorkflow
from edge.agent.capture_console import Declared, Guidance, KeepBest, Resolution
from edge.agent.i18n import render
from edge.agent.iddk_capture import IddkIrisCapturer
from edge.agent.settings import IrisCameraSettings
from edge.drivers.iddk2000 import EyeSubtype, IddkCamera, IddkError, IddkLibrary
from protocol.iso19794 import EWP_VENDOR_ID
from protocol.iso19794_6 import EyeLabel, decode_iris_record
from protocol.station_config import CapturePolicy
from simulators.fake_iddk2000 import FakeFault, FakeIddk
from simulators.synthetic_eyes import EyeScene, render_eye
from tests.edge.agent.test_capture import application

RIGHT = EyeScene(seed=31)
LEFT = EyeScene(seed=32, centre_x=300)
DROOPING = EyeScene(seed=32, centre_x=300, occlusion=0.85)


class Applicant:
    """Looks at the camera when asked: per look, what each eye shows (scene, scores)."""

    def __init__(self, fake: FakeIddk, looks: list[dict[str, dict[str, object]]] | None = None):
        self.fake = fake
        self.looks = list(looks or [])
        self.shown: list[Guidance] = []
        self.resolution: Resolution = KeepBest()

    def guide(self, guidance: Guidance) -> None:
        self.shown.append(guidance)
        render(guidance.key, "th", **guidance.params)  # every key has its Thai
        if guidance.key == "look-at-camera" and self.looks:
            for side, sitting in self.looks.pop(0).items():
                self.fake.eye(side, **sitting)  # type: ignore[arg-type]

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        return self.resolution

    def said(self) -> list[str]:
        return [g.key for g in self.shown]


@pytest.fixture
def eyes(fake_iddk: FakeIddk) -> FakeIddk:
    fake_iddk.timing(5, 20)
    fake_iddk.eye("right", total=88, usable=81, scene=RIGHT)
    fake_iddk.eye("left", total=76, usable=69, scene=LEFT)
    return fake_iddk


@pytest.fixture
def capturer(fake_iddk_library: Path, eyes: FakeIddk) -> Iterator[IddkIrisCapturer]:
    capturer = IddkIrisCapturer(fake_iddk_library, reconnect_s=2.0, call_timeout_s=2.0)
    yield capturer
    capturer.close()
    assert eyes.open_handles() == 0


def run(capturer: IddkIrisCapturer, applicant: Applicant, **policy: object) -> object:
    flow = EnrolmentWorkflow(
        CapturePolicy.model_validate({"fingers": [], **policy}),
        applicant,
        fingers=None,
        irises=capturer,
    )
    return flow.run(application(), operator_id="op")  # type: ignore[arg-type]


def test_both_eyes_in_one_look_with_the_cameras_quality_and_ours(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    samples = capturer.capture(["right-eye", "left-eye"], lambda g: None)
    assert set(samples) == {"right-eye", "left-eye"}
    right = samples["right-eye"]
    assert right.pixels == render_eye(RIGHT)
    assert (right.camera_quality, right.camera_usable_area) == (88, 81)
    assert right.quality.algorithm == "ewp-iq-1" and right.quality.score >= 60
    assert eyes.calls("Iddk_StartCapture") == 1 and eyes.calls("Iddk_ClearCapture") == 1


def test_the_workflow_records_our_score_first_and_the_cameras_after(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    result = run(capturer, Applicant(eyes))
    records = {r.entry.position: r for r in result.enrolment.records}  # type: ignore[attr-defined]
    assert set(records) == {"left-eye", "right-eye"}
    (image,) = decode_iris_record(records["right-eye"].data).representations
    ours, total, usable = image.quality
    assert (ours.vendor_id, ours.score) == (EWP_VENDOR_ID, records["right-eye"].entry.quality)
    assert (total.score, total.algorithm_id) == (
        88,
        CAMERA_QUALITY_ALGORITHM_IDS["camera-total-score"],
    )
    assert (usable.score, usable.algorithm_id) == (
        81,
        CAMERA_QUALITY_ALGORITHM_IDS["camera-usable-area"],
    )
    assert image.eye == EyeLabel.RIGHT and (image.width, image.height) == (640, 480)


def test_our_threshold_decides_and_the_best_of_three_is_kept(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    # The camera qualifies the drooping left eye (its bar is lower), our ewp-iq-1 does not;
    # the second look is open, and only the left eye is asked for again.
    applicant = Applicant(
        eyes, [{"left": {"scene": DROOPING, "total": 45}}, {"left": {"scene": LEFT}}]
    )
    result = run(capturer, applicant)
    records = {r.entry.position: r for r in result.enrolment.records}  # type: ignore[attr-defined]
    assert records["left-eye"].entry.attempts == 2 and records["right-eye"].entry.attempts == 1
    assert "iris-low-quality" in applicant.said()
    assert eyes.captures() == 2


def test_one_eye_unqualified_by_the_camera_is_looked_at_again(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    eyes.inject(FakeFault.RIGHT_UNQUALIFIED)
    applicant = Applicant(eyes)
    result = run(capturer, applicant)
    records = {r.entry.position: r for r in result.enrolment.records}  # type: ignore[attr-defined]
    assert records["right-eye"].entry.attempts == 2 and records["left-eye"].entry.attempts == 1
    not_found = [g.params["eye"] for g in applicant.shown if g.key == "iris-not-found"]
    assert not_found == ["right-eye"]


def test_no_qualified_frame_three_times_becomes_an_exception(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    eyes.eye("right", total=10, scene=RIGHT)  # below the camera's normal bar every time
    applicant = Applicant(eyes)
    result = run(capturer, applicant, eyes=["right"])
    assert result.enrolment.records == []  # type: ignore[attr-defined]
    [(position, reason)] = [(e.position, e.reason) for e in result.enrolment.exceptions]  # type: ignore[attr-defined]
    assert (position, reason) == ("right-eye", "unusable")
    assert eyes.captures() == 3


def test_a_declared_eye_is_not_captured(capturer: IddkIrisCapturer, eyes: FakeIddk) -> None:
    flow = EnrolmentWorkflow(
        CapturePolicy(fingers=[]), Applicant(eyes), fingers=None, irises=capturer
    )
    result = flow.run(application(), operator_id="op", declared={"left-eye": Declared("missing")})  # type: ignore[arg-type]
    assert [r.entry.position for r in result.enrolment.records] == ["right-eye"]
    assert eyes.calls("Iddk_StartCapture") == 1


def test_a_monocular_camera_captures_each_eye_in_turn(
    fake_iddk_library: Path, eyes: FakeIddk
) -> None:
    eyes.binocular(False)
    with_one = IddkIrisCapturer(fake_iddk_library)
    shown: list[Guidance] = []
    try:
        samples = with_one.capture(["right-eye", "left-eye"], shown.append)
    finally:
        with_one.close()
    assert set(samples) == {"right-eye", "left-eye"}
    assert [(g.key, g.params["eye"]) for g in shown] == [
        ("iris-one-eye", "right-eye"),
        ("iris-one-eye", "left-eye"),
    ]
    assert render("iris-one-eye", "th", **shown[0].params) == "ถือกล้องไว้ที่ตาขวา"
    assert samples["left-eye"].pixels == render_eye(LEFT)
    assert eyes.calls("Iddk_StartCapture") == 2


def test_unplugged_mid_capture_retries_once_it_is_back(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    eyes.timing(5, 200)
    eyes.inject(FakeFault.UNPLUG_MID_CAPTURE)
    back = threading.Timer(0.4, eyes.plug)
    back.start()
    shown: list[Guidance] = []
    samples = capturer.capture(["right-eye", "left-eye"], shown.append)
    back.join()
    assert set(samples) == {"right-eye", "left-eye"}
    assert [g.key for g in shown] == ["iris-camera-lost", "iris-camera-back"]
    assert "USB" in render("iris-camera-lost", "en")
    assert capturer.reconnects == 1 and eyes.calls("Iddk_OpenDevice") == 2


def test_unplugged_and_not_back_gives_nothing_then_is_found_later(
    fake_iddk_library: Path, eyes: FakeIddk
) -> None:
    capturer = IddkIrisCapturer(fake_iddk_library, reconnect_s=0.3)
    try:
        eyes.timing(5, 200)
        eyes.inject(FakeFault.UNPLUG_MID_CAPTURE)
        shown: list[Guidance] = []
        assert capturer.capture(["right-eye"], shown.append) == {}
        assert [g.key for g in shown] == ["iris-camera-lost"]
        assert capturer.camera is None and eyes.open_handles() == 0
        eyes.plug()  # plugged in later: ScanDevices finds it on the next look
        assert set(capturer.capture(["right-eye"], shown.append)) == {"right-eye"}
    finally:
        capturer.close()


def test_an_io_timeout_mid_capture_reopens_and_retries(
    capturer: IddkIrisCapturer, eyes: FakeIddk
) -> None:
    eyes.timing(5, 200)
    eyes.inject(FakeFault.IO_TIMEOUT_MID_CAPTURE)
    shown: list[Guidance] = []
    samples = capturer.capture(["right-eye", "left-eye"], shown.append)
    assert set(samples) == {"right-eye", "left-eye"}
    assert [g.key for g in shown] == ["iris-camera-lost", "iris-camera-back"]


def test_no_camera_at_the_start_is_said_and_waited_for(
    fake_iddk_library: Path, eyes: FakeIddk
) -> None:
    eyes.unplug()
    capturer = IddkIrisCapturer(fake_iddk_library, reconnect_s=2.0)
    threading.Timer(0.3, eyes.plug).start()
    shown: list[Guidance] = []
    try:
        assert set(capturer.capture(["left-eye"], shown.append)) == {"left-eye"}
    finally:
        capturer.close()
    assert [g.key for g in shown] == ["iris-camera-missing"]
    assert "2 s" in render("iris-camera-missing", "en", **shown[0].params)


def test_failures_no_wait_cures_reach_the_caller(tmp_path: Path) -> None:
    capturer = IddkIrisCapturer(tmp_path / "libIddk2000.so")
    with pytest.raises(IddkError) as caught:
        capturer.capture(["right-eye"], lambda g: None)
    assert caught.value.name == "EWP_LIBRARY_NOT_LOADED"


def test_our_record_and_the_cameras_own_iso_record_agree(
    capturer: IddkIrisCapturer, eyes: FakeIddk, fake_iddk_library: Path
) -> None:
    """The vendor's ISO image is only a cross-check: same eye, size and pixels as ours."""
    sample = capturer.capture(["left-eye"], lambda g: None)["left-eye"]
    ours = iris_record(
        sample.pixels,
        640,
        480,
        eye="left-eye",
        captured_at=datetime.now(UTC),
        quality=sample.quality,
    )
    capturer.close()
    with IddkCamera.open(IddkLibrary.load(fake_iddk_library)) as camera:
        camera.start_capture(EyeSubtype.LEFT)
        camera.wait_for_result(2.0)
        theirs = camera.result_iso_image(EyeSubtype.LEFT)
    (mine,) = decode_iris_record(ours.data).representations
    (vendor,) = decode_iris_record(theirs).representations
    assert (mine.eye, mine.width, mine.height) == (vendor.eye, vendor.width, vendor.height)
    decoded = np.asarray(Image.open(BytesIO(mine.image_data)), dtype=np.uint8).tobytes()
    assert decoded == vendor.image_data
    assert vendor.quality[0].score == 76 == sample.camera_quality


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"backend": "iddk", "port": "/dev/ttyACM0"}, "port: not a setting of backend 'iddk'"),
        ({"port": "/dev/ttyACM0", "library": "/opt/x.so"}, "library: not a setting"),
        ({}, "needs port"),
        ({"backend": "iddk", "quality_mode": "best"}, "quality_mode"),
    ],
)
def test_iris_settings_refuse_keys_of_the_other_backend(
    values: dict[str, object], error: str
) -> None:
    with pytest.raises(ValidationError, match=error):
        IrisCameraSettings.model_validate(values)


def test_iddk_settings_defaults() -> None:
    cfg = IrisCameraSettings.model_validate(
        {"backend": "iddk", "library": "/opt/iritech/lib/libIddk2000.so"}
    )
    assert (cfg.reconnect_s, cfg.quality_mode, cfg.device, cfg.port) == (10.0, "normal", None, None)
