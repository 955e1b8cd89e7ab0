"""ISO/IEC 19794-6:2011 iris records: eye labels, size and lossless image as captured, read by
fixed offsets written out from the standard's table and by Pillow; strict refusals."""

from __future__ import annotations

import contextlib
import io
import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edge.agent.biometric_records import iris_record, png_compress
from edge.agent.quality.iris_quality import iris_quality
from protocol.iso19794 import EWP_VENDOR_ID, QUALITY_ALGORITHM_IDS, RecordError
from protocol.iso19794_6 import (
    EyeLabel,
    ImageFormat,
    ImageType,
    IrisImage,
    IrisImageRecord,
    decode_iris_record,
    encode_iris_record,
)
from simulators.synthetic_eyes import HEIGHT, WIDTH, EyeScene, render_eye
from tests.independent_readers import iris_fields

CAPTURED = datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=UTC)


@pytest.fixture(scope="module")
def eye_pixels() -> bytes:
    return render_eye(EyeScene(seed=7))


@pytest.mark.parametrize(("eye", "label"), [("right-eye", 1), ("left-eye", 2)])
def test_record_carries_eye_label_size_and_the_lossless_image(
    eye_pixels: bytes, eye: str, label: int
) -> None:
    quality = iris_quality(eye_pixels, WIDTH, HEIGHT)
    data = iris_record(
        eye_pixels, WIDTH, HEIGHT, eye=eye, captured_at=CAPTURED, quality=quality
    ).data
    fields = iris_fields(data)
    assert fields["record_length"] == len(data) == fields["end"]
    assert (fields["representations"], fields["certification"], fields["eyes"]) == (1, 0, 1)
    assert fields["representation_length"] == len(data) - 16
    assert fields["captured"] == (2026, 3, 4, 5, 6, 7, 891)
    assert fields["eye_label"] == label
    assert (fields["width"], fields["height"], fields["bit_depth"]) == (640, 480, 8)
    assert fields["image_type"] == 2  # VGA
    assert fields["image_format"] == 14  # monochrome PNG
    assert fields["properties"] >> 6 == 1  # compression history: lossless
    assert fields["quality"] == [(quality.score, EWP_VENDOR_ID, QUALITY_ALGORITHM_IDS["ewp-iq-1"])]
    small, large = fields["iris_diameter"]
    assert small <= 230 <= large  # the synthetic iris is 230 px across
    png = Image.open(io.BytesIO(fields["image"]))
    assert png.format == "PNG" and png.mode == "L" and png.size == (640, 480)
    assert png.tobytes() == eye_pixels, "lossless"


def test_round_trip_with_both_eyes(eye_pixels: bytes) -> None:
    png = png_compress(eye_pixels, WIDTH, HEIGHT)
    record = IrisImageRecord(
        tuple(
            IrisImage(
                eye=label,
                width=WIDTH,
                height=HEIGHT,
                image_data=png,
                captured_at=CAPTURED,
                number=n,
            )
            for n, label in enumerate((EyeLabel.RIGHT, EyeLabel.LEFT), start=1)
        )
    )
    data = encode_iris_record(record)
    assert decode_iris_record(data) == record
    assert data[15] == 2  # two eyes represented
    assert decode_iris_record(data).eyes == [EyeLabel.RIGHT, EyeLabel.LEFT]


def _damaged(record: bytes, offset: int, value: bytes) -> bytes:
    return record[:offset] + value + record[offset + len(value) :]


# Offsets with one quality block: representation at 16, image information at 16 + 24.
INFO = 16 + 24


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: b"FIR\x00" + r[4:], "format identifier"),
        (lambda r: r[:-3], "record length"),
        (lambda r: _damaged(r, 14, b"\x01"), "certification flag must be 0"),
        (lambda r: _damaged(r, 15, b"\x02"), "counts 2 eyes"),
        (lambda r: _damaged(r, INFO + 2, b"\x03"), "eye label 3"),
        (lambda r: _damaged(r, INFO + 3, b"\x05"), "image type 5"),
        (lambda r: _damaged(r, INFO + 4, b"\x0b"), "image format 11"),
        (lambda r: _damaged(r, INFO + 5, b"\x10"), "reserved bits"),
        (lambda r: _damaged(r, INFO + 6, b"\x02\x81"), "641x480"),
        (lambda r: _damaged(r, INFO + 10, b"\x10"), "16 bits"),
        (lambda r: _damaged(r, INFO + 33 + 20, b"\x07"), "IHDR CRC"),
        (lambda r: _damaged(r, INFO + 33, b"GIF8"), "not a PNG"),
    ],
)
def test_damaged_records_are_refused_with_a_reason(eye_pixels: bytes, change, message) -> None:  # type: ignore[no-untyped-def]
    record = iris_record(
        eye_pixels,
        WIDTH,
        HEIGHT,
        eye="left-eye",
        captured_at=CAPTURED,
        quality=iris_quality(eye_pixels, WIDTH, HEIGHT),
    ).data
    assert struct.unpack(">HB", record[INFO : INFO + 3]) == (1, 2)
    with pytest.raises(RecordError, match=message):
        decode_iris_record(change(record))


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_damage_gives_a_record_error_or_a_valid_record(data: st.DataObject) -> None:
    png = png_compress(bytes(64 * 48), 64, 48)
    record = encode_iris_record(
        IrisImageRecord(
            (IrisImage(EyeLabel.RIGHT, 64, 48, png, CAPTURED, image_type=ImageType.CROPPED),)
        )
    )
    offset = data.draw(st.integers(0, 100))
    value = data.draw(st.binary(min_size=1, max_size=4))
    damaged = record[:offset] if data.draw(st.booleans()) else _damaged(record, offset, value)
    with contextlib.suppress(RecordError):
        decode_iris_record(damaged)


def test_encoder_refuses_a_header_that_disagrees_with_its_image(eye_pixels: bytes) -> None:
    png = png_compress(eye_pixels, WIDTH, HEIGHT)
    with pytest.raises(RecordError, match="the record header says 320x240"):
        encode_iris_record(IrisImageRecord((IrisImage(EyeLabel.LEFT, 320, 240, png, CAPTURED),)))
    with pytest.raises(RecordError, match="raw pixels"):
        encode_iris_record(
            IrisImageRecord(
                (
                    IrisImage(
                        EyeLabel.LEFT, 64, 48, b"\x00", CAPTURED, image_format=ImageFormat.MONO_RAW
                    ),
                )
            )
        )
    with pytest.raises(ValueError, match="unknown eye"):
        iris_record(eye_pixels, WIDTH, HEIGHT, eye="third-eye", captured_at=CAPTURED)
