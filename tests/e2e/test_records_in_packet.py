"""Must show: the records in a sealed packet, decoded by independent readers, have the
dimensions, resolution, finger positions and eye labels they were captured with.

Ten fingers come from the simulated R30x sensor through the real driver (4 bits a pixel on
the wire), two eyes from the synthetic eye generator; the station turns them into ISO/IEC
19794-4 (WSQ) and 19794-6 (PNG) records with their quality scores, the packet builder seals
and signs, the central side opens the packet, and then:

* every finger record is opened by the ``iso19794`` Pillow plugin and its WSQ image decoded
  by NBIS (``wsq``);
* every iris record is read at the standard's fixed offsets and its PNG decoded by Pillow;
* the ANSI/NIST-ITL export of the opened packet is parsed by ``nistitl``, and its Type-14 and
  Type-17 images decoded again.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import nistitl
import numpy as np
import pytest
import serial
from PIL import Image

from edge.agent.biometric_records import finger_record, iris_record
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.quality.finger_quality import finger_quality
from edge.agent.quality.iris_quality import iris_quality
from edge.drivers.fingerprint_r30x import FingerprintSensor
from fleet.central import open_and_check
from fleet.nist_export import export_transaction
from protocol.envelope import utc_timestamp
from protocol.iso19794_4 import FINGER_POSITIONS
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.fingerprint_images import FingerPosition
from simulators.synthetic_eyes import EyeScene, render_eye
from tests.edge.agent.helpers import make_builder, make_enrolment
from tests.independent_readers import FIR, decode_wsq, iris_fields, open_fir

EYES = {"right-eye": (1, EyeScene(seed=21)), "left-eye": (2, EyeScene(seed=22, centre_x=300))}


@pytest.fixture(scope="module")
def captured() -> Iterator[dict[str, tuple[bytes, int, int]]]:
    """Pixels as the station captured them, by position."""
    images: dict[str, tuple[bytes, int, int]] = {}
    with start_fingerprint_simulator(SensorConfig(mode="manual", seed=5)) as sim:
        port = serial.serial_for_url(sim.url, timeout=0.05)
        try:
            sensor = FingerprintSensor(port, timeout=2.0)
            for finger in FingerPosition:
                sim.sensor.place(42, finger.value, "good")
                sensor.capture_image()
                image = sensor.read_image()
                sim.sensor.lift()
                images[finger.value] = (image.pixels, image.width, image.height)
        finally:
            port.close()
    for eye, (_, scene) in EYES.items():
        images[eye] = (render_eye(scene), 640, 480)
    yield images


@pytest.fixture(scope="module")
def opened(captured: dict[str, tuple[bytes, int, int]]):  # type: ignore[no-untyped-def]
    moment = datetime(2026, 5, 6, 7, 8, 9, 250000, tzinfo=UTC)
    records: list[CapturedRecord] = []
    for position, (pixels, width, height) in captured.items():
        if position in EYES:
            quality = iris_quality(pixels, width, height)
            records.append(
                iris_record(
                    pixels, width, height, eye=position, captured_at=moment, quality=quality
                )
            )
        else:
            finger = finger_quality(pixels, width, height)
            records.append(
                finger_record(
                    pixels, width, height, position=position, captured_at=moment, quality=finger
                )
            )
    builder, central, signing_key = make_builder("mu-07")
    template = make_enrolment(1)
    enrolment = Enrolment(
        application=template.application,
        operator_id="op-7",
        captured_at=utc_timestamp(),
        records=records,
    )
    packet = builder.seal(enrolment, seq=1, packet_id="c" * 32)
    result = open_and_check(packet, central, signing_key.public_key())
    assert len(packet.to_bytes()) < 1_000_000
    return result


def test_finger_records_read_by_the_iso19794_plugin(opened, captured) -> None:  # type: ignore[no-untyped-def]
    fingers = [r for r in opened.manifest.records if r.modality == "finger"]
    assert sorted(r.position for r in fingers) == sorted(f.value for f in FingerPosition)
    for entry in fingers:
        assert entry.format == "iso19794-4:2011" and entry.name.endswith(".fir")
        pixels, width, height = captured[entry.position]
        image = open_fir(opened.files[entry.name])
        header = image.header
        assert FIR.POSITION[header["position"]] == FINGER_POSITIONS[entry.position]
        assert image.size == (width, height) == (entry.width, entry.height) == (256, 288)
        assert header["scale_units"] == "PPI"
        assert header["horizontal_image_sampling_rate"] == 500 == entry.resolution_ppi
        assert header["vertical_image_sampling_rate"] == 500
        assert header["image_compression_algo"] == "WSQ"
        assert header["impression_type"] == "LIVESCAN_PLAIN"
        [quality] = header["quality_records"]
        assert quality.score == entry.quality and entry.quality_algorithm == "ewp-fq-1"
        image.load()  # WSQ decoded by NBIS through the plugin
        decoded = np.asarray(image, dtype=float).ravel()
        original = np.frombuffer(pixels, dtype=np.uint8).astype(float)
        assert np.corrcoef(decoded, original)[0, 1] > 0.9


def test_iris_records_read_at_the_standard_offsets(opened, captured) -> None:  # type: ignore[no-untyped-def]
    irises = [r for r in opened.manifest.records if r.modality == "iris"]
    assert sorted(r.position for r in irises) == ["left-eye", "right-eye"]
    for entry in irises:
        fields = iris_fields(opened.files[entry.name])
        assert fields["eye_label"] == EYES[entry.position][0]
        assert (fields["width"], fields["height"]) == (640, 480) == (entry.width, entry.height)
        assert fields["bit_depth"] == 8
        assert fields["quality"][0][0] == entry.quality
        png = Image.open(io.BytesIO(fields["image"]))
        assert png.size == (640, 480) and png.mode == "L"
        assert png.tobytes() == captured[entry.position][0], "lossless"


def test_nist_export_read_by_nistitl(opened, captured) -> None:  # type: ignore[no-untyped-def]
    data = export_transaction(opened.manifest, opened.files)
    message = nistitl.Message()
    message.parse(data)  # checks every LEN and the CNT list
    assert message[0]["VER"].value == "0500"
    assert message[0][9].value == "c" * 32
    types = [record.type for record in message]
    assert types == [1, 2] + [14] * 10 + [17] * 2
    positions = {}
    for record in message:
        if record.type == 14:
            assert (record[6].value, record[7].value) == ("256", "288")
            assert (record[8].value, record[9].value, record[10].value) == ("1", "500", "500")
            assert record[11].value == "WSQ20"
            image = decode_wsq(record[999].value)
            assert image.size == (256, 288)
            positions[int(record[13].value)] = image
        if record.type == 17:
            eye = int(record[3].value)
            png = Image.open(io.BytesIO(record[999].value))
            assert png.size == (640, 480)
            assert (record[6].value, record[7].value, record[11].value) == ("640", "480", "PNG")
            wanted = next(p for p, (label, _) in EYES.items() if label == eye)
            assert png.tobytes() == captured[wanted][0]
    assert sorted(positions) == list(range(1, 11))
    for finger in FingerPosition:
        decoded = np.asarray(positions[finger.code], dtype=float).ravel()
        original = np.frombuffer(captured[finger.value][0], dtype=np.uint8).astype(float)
        assert np.corrcoef(decoded, original)[0, 1] > 0.9, f"{finger.value} is in its place"
