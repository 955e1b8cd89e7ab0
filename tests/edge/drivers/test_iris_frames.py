"""Property tests of the iris driver's pure codec: frames, records and PNG decoding raise
nothing but the driver's own errors on any bytes, and what is encoded reads back."""

from __future__ import annotations

import contextlib
import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from edge.drivers.iris_frames import (
    FRAME_OVERHEAD,
    MAX_PAYLOAD,
    SYNC,
    CaptureState,
    CaptureStatus,
    Eye,
    Frame,
    FrameReader,
    ImageBlock,
    ImageFormat,
    IrisCameraError,
    IrisCrcError,
    IrisDeviceInfo,
    IrisFrameError,
    IrisImageError,
    IrisQuality,
    crc16,
    decode_image_block,
    decode_info,
    decode_png_grey,
    decode_quality,
    decode_status,
    encode_frame,
    encode_image_block,
    encode_info,
    encode_quality,
    encode_status,
    length_check,
)
from simulators.iris import build_frame, crc16_ccitt

BYTE = st.integers(0, 255)
PAYLOAD = st.binary(max_size=300)
# Line noise that cannot hide a sync (it has no 0xA5 byte).
NOISE = st.binary(max_size=64).map(lambda b: b.replace(b"\xa5", b"\x00"))
SINGLE_EYES = st.sampled_from([Eye.LEFT, Eye.RIGHT])
EYE_TUPLES = st.sampled_from([(), (Eye.LEFT,), (Eye.RIGHT,), (Eye.LEFT, Eye.RIGHT)])


def drain(reader: FrameReader) -> tuple[list[Frame], int]:
    """Every frame the reader can produce now, and how many CRC errors it reported."""
    frames: list[Frame] = []
    errors = 0
    while True:
        try:
            frame = reader.next_frame()
        except IrisCrcError:
            errors += 1
            continue
        if frame is None:
            return frames, errors
        frames.append(frame)


# --- CRC and frames -------------------------------------------------------------------------


def test_crc_is_ccitt_false_and_frames_are_as_documented() -> None:
    assert crc16(b"123456789") == 0x29B1  # the catalogue's check value
    assert crc16_ccitt(b"123456789") == 0x29B1  # the simulator's own
    frame = encode_frame(0x04, 7)
    assert frame[:7] == SYNC + bytes.fromhex("0000000407")
    assert frame[7:] == crc16(bytes.fromhex("0000000407")).to_bytes(2, "big")
    assert length_check(0x1234) == (-(0x12 + 0x34)) & 0xFF
    assert encode_frame(0x84, 7, bytes(10))[4] == 0xF6  # 0x00 + 0x0A + 0xF6 = 0x100


@given(code=BYTE, seq=BYTE, payload=PAYLOAD)
def test_driver_and_simulator_build_the_same_frames(code: int, seq: int, payload: bytes) -> None:
    assert encode_frame(code, seq, payload) == build_frame(code, seq, payload)


@settings(max_examples=300)
@given(data=st.binary(max_size=800), chunk=st.integers(min_value=1, max_value=64))
def test_reader_raises_only_its_own_errors_on_arbitrary_bytes(data: bytes, chunk: int) -> None:
    reader = FrameReader()
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])
        drain(reader)  # IrisCrcError is caught there; anything else fails the test
        assert reader.bytes_needed >= 1


@settings(max_examples=300)
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_after_a_sync_are_survived_too(data: bytes) -> None:
    reader = FrameReader()
    reader.feed(SYNC + data)
    drain(reader)
    reader.feed(encode_frame(0x84, 1, b"\x00"))
    frames, _ = drain(reader)
    # A frame after noise is found, unless the noise announced a frame that swallowed it.
    assert len(frames) <= 2


@settings(max_examples=300)
@given(
    frames=st.lists(st.tuples(BYTE, BYTE, PAYLOAD), min_size=1, max_size=5),
    noise=NOISE,
    chunk=st.integers(min_value=1, max_value=400),
)
def test_frames_round_trip_through_noise_and_any_chunking(
    frames: list[tuple[int, int, bytes]], noise: bytes, chunk: int
) -> None:
    wire = noise + b"".join(encode_frame(code, seq, payload) for code, seq, payload in frames)
    reader = FrameReader()
    received: list[Frame] = []
    for i in range(0, len(wire), chunk):
        reader.feed(wire[i : i + chunk])
        got, errors = drain(reader)
        assert errors == 0
        received += got
    assert [(f.code, f.seq, f.payload) for f in received] == frames
    assert reader.skipped == len(noise)


@given(
    code=BYTE,
    seq=BYTE,
    payload=PAYLOAD,
    flip=st.integers(min_value=0),
    bit=st.integers(0, 7),
)
def test_any_damaged_byte_is_detected_or_skipped(
    code: int, seq: int, payload: bytes, flip: int, bit: int
) -> None:
    wire = bytearray(encode_frame(code, seq, payload))
    index = 2 + flip % (len(wire) - 2)  # damage anything after the sync
    wire[index] ^= 1 << bit
    reader = FrameReader()
    reader.feed(bytes(wire))
    frames, errors = drain(reader)
    assert (code, seq, payload) not in [(f.code, f.seq, f.payload) for f in frames]
    assert errors + len(frames) <= 1


def test_a_crc_error_names_the_damaged_frame_and_the_next_frame_still_comes() -> None:
    reader = FrameReader()
    reader.feed(build_frame(0x84, 9, b"\x00" * 10, corrupt=True) + encode_frame(0xE0, 3, b"x"))
    with pytest.raises(IrisCrcError, match="CRC") as caught:
        reader.next_frame()
    assert (caught.value.frame_code, caught.value.frame_seq) == (0x84, 9)
    assert reader.next_frame() == Frame(0xE0, 3, b"x")


def test_a_false_sync_is_rejected_by_the_length_check_at_once() -> None:
    reader = FrameReader()
    reader.feed(b"\x13\xa5\x5a\x10\x00\x00" + encode_frame(0x81, 1, b"\x00\x02\x80\x01\xe0"))
    frames, errors = drain(reader)
    assert [f.payload for f in frames] == [b"\x00\x02\x80\x01\xe0"] and errors == 0


def test_a_length_beyond_the_maximum_is_noise() -> None:
    length = MAX_PAYLOAD + 1
    reader = FrameReader()
    reader.feed(SYNC + length.to_bytes(2, "big") + bytes([length_check(length)]) + bytes(5))
    assert reader.next_frame() is None
    assert reader.bytes_needed == FRAME_OVERHEAD  # the false sync was stepped over


def test_encoding_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError):
        encode_frame(0x100, 0)
    with pytest.raises(ValueError):
        encode_frame(0x01, 0, bytes(MAX_PAYLOAD + 1))


# --- records --------------------------------------------------------------------------------


STATUSES = st.builds(
    CaptureStatus,
    state=st.sampled_from(list(CaptureState)),
    result=BYTE,
    initialised=st.booleans(),
    push_enabled=st.booleans(),
    awaiting_trigger=st.booleans(),
    eyes_requested=EYE_TUPLES,
    eyes_found=EYE_TUPLES,
    eyes_qualified=EYE_TUPLES,
    progress=st.integers(0, 100),
    frames=st.integers(0, 0xFFFF),
)
QUALITIES = st.builds(
    IrisQuality,
    eye=SINGLE_EYES,
    qualified=st.booleans(),
    total_score=st.integers(0, 100),
    usable_area=st.integers(0, 100),
    focus=st.integers(0, 100),
    pupil_iris_contrast=st.integers(0, 100),
    iris_x=st.integers(0, 0xFFFF),
    iris_y=st.integers(0, 0xFFFF),
    iris_radius=st.integers(0, 0xFFFF),
    pupil_radius=st.integers(0, 0xFFFF),
)
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
INFOS = st.builds(
    IrisDeviceInfo,
    protocol=BYTE,
    width=st.integers(1, 0xFFFF),
    height=st.integers(1, 0xFFFF),
    bits_per_pixel=st.just(8),
    eyes=EYE_TUPLES,
    formats=st.sampled_from([(), (ImageFormat.RAW,), (ImageFormat.RAW, ImageFormat.PNG)]),
    max_block=st.integers(1, 4096),
    vid=st.integers(0, 0xFFFF),
    pid=st.integers(0, 0xFFFF),
    model=ASCII,
    serial_number=ASCII,
    firmware=ASCII,
)


@given(status=STATUSES)
def test_status_records_round_trip(status: CaptureStatus) -> None:
    decoded = decode_status(encode_status(status))
    assert decoded == status and decoded.same_as(status)
    assert decoded.done == (status.state in (CaptureState.COMPLETE, CaptureState.ABORT))


@given(quality=QUALITIES)
def test_quality_records_round_trip(quality: IrisQuality) -> None:
    assert decode_quality(encode_quality(quality)) == quality


@given(info=INFOS)
def test_info_records_round_trip(info: IrisDeviceInfo) -> None:
    assert decode_info(encode_info(info)) == info


@given(
    eye=SINGLE_EYES,
    fmt=st.sampled_from(list(ImageFormat)),
    data=st.binary(max_size=64),
    offset=st.integers(0, 1000),
    extra=st.integers(0, 1000),
)
def test_image_blocks_round_trip(
    eye: Eye, fmt: ImageFormat, data: bytes, offset: int, extra: int
) -> None:
    block = ImageBlock(eye, fmt, offset + len(data) + extra, offset, data)
    assert decode_image_block(encode_image_block(block)) == block


@settings(max_examples=300)
@given(data=st.binary(max_size=120))
def test_record_decoders_raise_only_frame_errors(data: bytes) -> None:
    for decode in (decode_status, decode_quality, decode_info, decode_image_block):
        with contextlib.suppress(IrisFrameError):
            decode(data)  # type: ignore[operator]


# --- PNG ------------------------------------------------------------------------------------


def png_of(width: int, height: int, pixels: bytes, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("L", (width, height), pixels).save(buffer, format="PNG", **options)
    return buffer.getvalue()


@settings(max_examples=60, deadline=None)
@given(
    size=st.tuples(st.integers(1, 40), st.integers(1, 30)),
    seed=st.binary(min_size=1, max_size=64),
    optimize=st.booleans(),
)
def test_png_decoding_gives_back_the_pixels(
    size: tuple[int, int], seed: bytes, optimize: bool
) -> None:
    width, height = size
    # Smooth ramps and noise both, so that Pillow picks every row filter along the way.
    pixels = bytes(
        (x * 7 + y * 3 + seed[(x * y) % len(seed)] * (y % 3)) & 0xFF
        for y in range(height)
        for x in range(width)
    )
    assert decode_png_grey(png_of(width, height, pixels, optimize=optimize)) == (
        width,
        height,
        pixels,
    )


def test_png_of_a_full_size_iris_image_decodes() -> None:
    pixels = bytes((x ^ y) & 0xFF for y in range(480) for x in range(640))
    assert decode_png_grey(png_of(640, 480, pixels))[2] == pixels


@settings(max_examples=300)
@given(data=st.binary(max_size=300))
def test_png_decoder_raises_only_image_errors_on_arbitrary_bytes(data: bytes) -> None:
    for candidate in (data, b"\x89PNG\r\n\x1a\n" + data):
        with pytest.raises(IrisImageError):
            decode_png_grey(candidate)


@given(flip=st.integers(min_value=8), bit=st.integers(0, 7))
def test_a_damaged_png_is_refused_not_misread(flip: int, bit: int) -> None:
    png = bytearray(png_of(8, 4, bytes(range(32))))
    png[flip % len(png)] ^= 1 << bit
    try:
        width, height, pixels = decode_png_grey(bytes(png))
    except IrisCameraError:
        return
    # A flip that survives every chunk CRC can only be in a chunk we do not read.
    assert (width, height, pixels) == (8, 4, bytes(range(32)))


def test_png_that_is_not_8_bit_grey_is_refused() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    with pytest.raises(IrisImageError, match="8-bit greyscale"):
        decode_png_grey(buffer.getvalue())


def test_a_png_bomb_is_refused() -> None:
    header = (4).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    rows = zlib.compress(bytes(10_000_000))

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body).to_bytes(4, "big")
        return len(body).to_bytes(4, "big") + kind + body + crc

    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )
    with pytest.raises(IrisImageError, match="expected 20"):
        decode_png_grey(bomb)
