"""ISO/IEC 19794-4:2011 finger records: ours read by the iso19794 plugin and NBIS WSQ, theirs
read by ours, and strict refusal of damaged records."""

from __future__ import annotations

import contextlib
import io
import struct
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edge.agent.biometric_records import finger_record, wsq_compress
from edge.agent.quality.finger_quality import finger_quality
from protocol.iso19794 import EWP_VENDOR_ID, QUALITY_ALGORITHM_IDS, QualityBlock, RecordError
from protocol.iso19794_4 import (
    FINGER_POSITIONS,
    Compression,
    FingerImage,
    FingerImageRecord,
    decode_finger_record,
    encode_finger_record,
)
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerIdentity,
    FingerPosition,
    PressConditions,
    render_press,
)
from tests.independent_readers import FIR, decode_wsq, open_fir

CAPTURED = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


def press(finger: FingerPosition = FingerPosition.LEFT_RING, seed: int = 1) -> bytes:
    conditions = PressConditions.draw(np.random.default_rng(seed), poor=False)
    return render_press(FingerIdentity(seed, finger), conditions, seed)


@pytest.fixture(scope="module")
def record_bytes() -> bytes:
    pixels = press()
    quality = finger_quality(pixels, WIDTH, HEIGHT)
    record = finger_record(
        pixels,
        WIDTH,
        HEIGHT,
        position="left-ring",
        captured_at=CAPTURED,
        quality=quality,
        device_technology=1,
        device_vendor=0x1234,
        device_type=0x0307,
    )
    return record.data


@pytest.mark.parametrize("finger", list(FingerPosition), ids=lambda f: f.value)
def test_the_iso19794_plugin_reads_position_size_and_resolution(finger: FingerPosition) -> None:
    pixels = press(finger, seed=3)
    data = finger_record(pixels, WIDTH, HEIGHT, position=finger.value, captured_at=CAPTURED).data
    image = open_fir(data)
    assert image.info["nb_representation"] == 1 and image.info["nb_position"] == 1
    assert image.size == (WIDTH, HEIGHT) and image.mode == "L"
    header = image.header
    assert FIR.POSITION[header["position"]] == finger.code == FINGER_POSITIONS[finger.value]
    assert header["scale_units"] == "PPI"
    for rate in ("horizontal", "vertical"):
        assert header[f"{rate}_scan_sampling_rate"] == 500
        assert header[f"{rate}_image_sampling_rate"] == 500
    assert header["image_compression_algo"] == "WSQ"
    assert header["impression_type"] == "LIVESCAN_PLAIN"


def test_the_plugin_reads_capture_time_device_and_quality(record_bytes: bytes) -> None:
    header = open_fir(record_bytes).header
    moment = header["capture_datetime"]
    # The plugin puts the milliseconds field in datetime's microseconds (its own quirk).
    assert (moment.year, moment.month, moment.day) == (2026, 3, 4)
    assert (moment.hour, moment.minute, moment.second, moment.microsecond) == (5, 6, 7, 891)
    assert header["capture_device_technology_id"] == b"\x01"
    assert header["capture_device_vendor_id"] == b"\x12\x34"
    assert header["capture_device_type_id"] == b"\x03\x07"
    [quality] = header["quality_records"]
    assert quality.algo_vendor_id == EWP_VENDOR_ID.to_bytes(2, "big")
    assert quality.algo_id == QUALITY_ALGORITHM_IDS["ewp-fq-1"].to_bytes(2, "big")
    assert quality.score == decode_finger_record(record_bytes).representations[0].quality[0].score
    assert quality.score > 40


def test_the_plugin_decodes_the_wsq_image_close_to_the_capture(record_bytes: bytes) -> None:
    original = np.frombuffer(press(), dtype=np.uint8).reshape(HEIGHT, WIDTH).astype(float)
    image = open_fir(record_bytes)
    image.load()  # the plugin hands its tile to the WSQ decoder
    decoded = np.asarray(image, dtype=float)
    assert decoded.shape == (HEIGHT, WIDTH)
    # Lossy at 15:1 (sensor noise goes first), but the same print: strongly correlated, and
    # still a good print by our own measure.
    correlation = float(np.corrcoef(decoded.ravel(), original.ravel())[0, 1])
    assert correlation > 0.9, correlation
    assert finger_quality(decoded.astype(np.uint8).tobytes(), WIDTH, HEIGHT).score > 40
    # The same pixels through NBIS directly on the payload, without any record parser.
    payload = decode_finger_record(record_bytes).representations[0].image_data
    direct = decode_wsq(payload)
    assert direct.size == (WIDTH, HEIGHT)
    assert np.array_equal(np.asarray(direct), np.asarray(image))


def test_wsq_compresses_about_15_to_1() -> None:
    ratios = [WIDTH * HEIGHT / len(wsq_compress(press(seed=s), WIDTH, HEIGHT)) for s in range(4)]
    assert all(12 <= r <= 18 for r in ratios), ratios


def test_our_decoder_reads_a_record_written_by_the_plugin() -> None:
    picture = Image.frombytes("L", (WIDTH, HEIGHT), press())
    picture.header = {  # type: ignore[attr-defined]
        "capture_datetime": datetime(2025, 12, 31, 23, 59, 58),
        "capture_device_technology_id": b"\x0d",
        "capture_device_vendor_id": b"\x00\x2a",
        "capture_device_type_id": b"\x00\x01",
        "quality_records": [FIR.FIRQualityRecord(77, b"\x00\x0f", b"\x00\x02")],
        "certification_records": [],
        "position": "RIGHT_THUMB",
        "number": 1,
        "scale_units": "PPI",
        "horizontal_scan_sampling_rate": 500,
        "vertical_scan_sampling_rate": 500,
        "horizontal_image_sampling_rate": 500,
        "vertical_image_sampling_rate": 500,
        "image_compression_algo": "RAW",
        "impression_type": "LIVESCAN_PLAIN",
    }
    buffer = io.BytesIO()
    picture.save(buffer, "FIR")
    [image] = decode_finger_record(buffer.getvalue()).representations
    assert image.position == 1 and image.position_name == "right-thumb"
    assert (image.width, image.height, image.resolution) == (WIDTH, HEIGHT, 500)
    assert image.compression == Compression.UNCOMPRESSED
    assert image.image_data == picture.tobytes()
    assert image.quality == (QualityBlock(77, 0x000F, 0x0002),)
    assert image.device_technology == 13 and image.device_vendor == 42
    assert image.captured_at == datetime(2025, 12, 31, 23, 59, 58, tzinfo=UTC)


def test_round_trip_of_a_multi_finger_record() -> None:
    images = tuple(
        FingerImage(
            position=code,
            width=WIDTH,
            height=HEIGHT,
            image_data=wsq_compress(press(finger, seed=2), WIDTH, HEIGHT),
            captured_at=CAPTURED,
            quality=(QualityBlock.ours(50 + code, "ewp-fq-1"),),
            number=index + 1,
        )
        for index, (code, finger) in enumerate(
            [(2, FingerPosition.RIGHT_INDEX), (7, FingerPosition.LEFT_INDEX)]
        )
    )
    data = encode_finger_record(FingerImageRecord(images))
    assert decode_finger_record(data) == FingerImageRecord(images)
    assert open_fir(data).info["nb_representation"] == 2


def _damaged(record: bytes, offset: int, value: bytes) -> bytes:
    return record[:offset] + value + record[offset + len(value) :]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: b"FIX\x00" + r[4:], "format identifier"),
        (lambda r: r[:4] + b"030\x00" + r[8:], "version"),
        (lambda r: r[:-1], "record length"),
        (lambda r: _damaged(r, 8, struct.pack(">I", len(r) + 1)) + b"\x00", "after its repr"),
        (lambda r: _damaged(r, 12, b"\x00\x00"), "at least one"),
        (lambda r: _damaged(r, 12, b"\x00\x02"), "missing"),
        (lambda r: _damaged(r, 15, b"\x02"), "finger positions"),
        (lambda r: _damaged(r, 16 + 4 + 2, b"\x0d"), "not a valid date"),
        (lambda r: _damaged(r, 16 + 24, b"\x63"), "position code 99"),
        (lambda r: _damaged(r, 16 + 26, b"\x03"), "scale units"),
        (lambda r: _damaged(r, 16 + 36, b"\x07"), "compression code 7"),
        (lambda r: _damaged(r, 16 + 38, b"\x01\x01"), "the record header says 257x288"),
        (lambda r: _damaged(r, 16 + 46, b"\x00"), "not a WSQ stream"),
    ],
)
def test_damaged_records_are_refused_with_a_reason(record_bytes: bytes, change, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RecordError, match=message):
        decode_finger_record(change(record_bytes))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_damage_gives_a_record_error_or_a_valid_record(data: st.DataObject) -> None:
    record = finger_record(
        press(seed=1), WIDTH, HEIGHT, position="right-index", captured_at=CAPTURED
    ).data
    head = record[:120]
    offset = data.draw(st.integers(0, len(head) - 1))
    value = data.draw(st.binary(min_size=1, max_size=4))
    cut = data.draw(st.booleans())
    damaged = record[:offset] if cut else _damaged(record, offset, value)
    with contextlib.suppress(RecordError):
        decode_finger_record(damaged)


def test_encoder_refuses_what_the_format_cannot_carry() -> None:
    payload = wsq_compress(press(), WIDTH, HEIGHT)
    with pytest.raises(RecordError, match="257x288"):
        encode_finger_record(FingerImageRecord((FingerImage(2, 257, HEIGHT, payload, CAPTURED),)))
    with pytest.raises(RecordError, match="timezone"):
        encode_finger_record(
            FingerImageRecord((FingerImage(2, WIDTH, HEIGHT, payload, datetime(2026, 1, 1)),))
        )
    with pytest.raises(RecordError, match="0-100"):
        QualityBlock(101)
    with pytest.raises(ValueError, match="unknown finger position"):
        finger_record(press(), WIDTH, HEIGHT, position="right-toe", captured_at=CAPTURED)
