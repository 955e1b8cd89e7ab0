"""Must show: a full enrolment with real-camera drivers on both sides of the simulation line.

Ten fingers come from the simulated R30x through its driver, two irises from the fake
libIddk2000.so through the IDDK binding and the ``iddk`` backend; the workflow builds the
records, the packet builder seals and signs, the packet is written to a file, ``ewp central
open`` (the command, in its own process) opens it, and the iris records it extracts are read
by the independent reader at the standard's offsets and by our strict decoder: the eye labels,
the 640x480 images pixel for pixel, our quality block and the camera's two.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from PIL import Image

from edge.agent.biometric_records import CAMERA_QUALITY_ALGORITHM_IDS
from edge.agent.capture import EnrolmentWorkflow
from edge.agent.capture_devices import FingerCapturer
from edge.agent.iddk_capture import IddkIrisCapturer
from edge.drivers.fingerprint_r30x import FingerprintSensor
from protocol.iso19794 import EWP_VENDOR_ID
from protocol.iso19794_4 import decode_finger_record
from protocol.iso19794_6 import EyeLabel, decode_iris_record
from protocol.station_config import ALL_FINGERS, CapturePolicy
from simulators.fake_iddk2000 import FakeIddk
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.synthetic_eyes import EyeScene, render_eye
from tests.edge.agent.helpers import make_builder
from tests.edge.agent.test_capture import ScriptedApplicant, application
from tests.independent_readers import iris_fields

EWP = str(Path(sys.executable).with_name("ewp"))
SCENES = {"right": EyeScene(seed=71), "left": EyeScene(seed=72, centre_x=296)}
CAMERA = {"right": (93, 84), "left": (79, 72)}


@pytest.fixture(scope="module")
def opened(
    tmp_path_factory: pytest.TempPathFactory, fake_iddk_library: Path
) -> Iterator[tuple[Path, dict[str, object]]]:
    """One enrolment for the module's tests (it takes a while: ten paced finger images)."""
    tmp_path = tmp_path_factory.mktemp("iddk-enrolment")
    fake_iddk = FakeIddk(fake_iddk_library)
    fake_iddk.reset()
    fake_iddk.timing(10, 40)
    for side, scene in SCENES.items():
        total, usable = CAMERA[side]
        fake_iddk.eye(side, total=total, usable=usable, scene=scene)
    irises = IddkIrisCapturer(fake_iddk.path, reconnect_s=2.0)
    with start_fingerprint_simulator(SensorConfig(mode="manual", seed=9)) as sim:
        port = serial.serial_for_url(sim.url, timeout=0.05)
        try:
            flow = EnrolmentWorkflow(
                CapturePolicy(),
                ScriptedApplicant(sim),
                fingers=FingerCapturer(FingerprintSensor(port, timeout=5.0), timeout_s=10),
                irises=irises,
            )
            result = flow.run(application(), operator_id="op-9")  # type: ignore[arg-type]
        finally:
            port.close()
            irises.close()
    assert fake_iddk.open_handles() == 0
    builder, central, _ = make_builder("mu-13")
    packet = builder.seal(result.enrolment, seq=1, packet_id="d" * 32)
    (tmp_path / "packet.ewp").write_bytes(packet.to_bytes())
    central.save(tmp_path / "central.key")
    done = subprocess.run(
        [
            EWP,
            "central",
            "open",
            "--key",
            str(tmp_path / "central.key"),
            "--file",
            str(tmp_path / "packet.ewp"),
            "--out",
            str(tmp_path / "opened"),
            "--nist",
            str(tmp_path / "nist"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[-1] == {"opened": 1, "failed": 0}
    yield tmp_path / "opened" / ("d" * 32), lines[0]


def test_ten_fingers_and_two_irises_open_at_central(opened: tuple[Path, dict[str, object]]) -> None:
    folder, summary = opened
    assert summary["ok"] is True
    fingers = sorted((folder / "finger").glob("*.fir"))
    assert sorted(p.stem for p in fingers) == sorted(ALL_FINGERS)
    for path in fingers:
        (image,) = decode_finger_record(path.read_bytes()).representations
        assert (image.width, image.height) == (256, 288)
    assert sorted(p.name for p in (folder / "iris").glob("*.iir")) == [
        "left-eye.iir",
        "right-eye.iir",
    ]
    # The ANSI/NIST-ITL export carries the camera's figures after ours in each Type-17 IQS
    # (items: quality, vendor id in hex, algorithm id).
    (transaction,) = (folder.parent.parent / "nist").glob("*.an2")
    data = transaction.read_bytes()
    ids = CAMERA_QUALITY_ALGORITHM_IDS
    for total, usable in CAMERA.values():
        assert f"{total}\x1f0000\x1f{ids['camera-total-score']}".encode() in data
        assert f"{usable}\x1f0000\x1f{ids['camera-usable-area']}".encode() in data


@pytest.mark.parametrize(("side", "label"), [("right", EyeLabel.RIGHT), ("left", EyeLabel.LEFT)])
def test_iris_records_read_back_by_the_existing_readers(
    opened: tuple[Path, dict[str, object]], side: str, label: EyeLabel
) -> None:
    folder, _ = opened
    data = (folder / "iris" / f"{side}-eye.iir").read_bytes()
    fields = iris_fields(data)  # the independent reader, at the standard's offsets
    assert fields["eye_label"] == label
    assert (fields["width"], fields["height"], fields["bit_depth"]) == (640, 480, 8)
    png = Image.open(io.BytesIO(fields["image"]))
    assert png.mode == "L" and png.tobytes() == render_eye(SCENES[side]), "lossless"
    ours, total, usable = fields["quality"]
    assert ours[1] == EWP_VENDOR_ID and ours[0] >= 60
    total_score, usable_area = CAMERA[side]
    assert total == (total_score, 0, CAMERA_QUALITY_ALGORITHM_IDS["camera-total-score"])
    assert usable == (usable_area, 0, CAMERA_QUALITY_ALGORITHM_IDS["camera-usable-area"])
    (representation,) = decode_iris_record(data).representations  # the strict decoder agrees
    assert representation.eye == label and len(representation.quality) == 3
