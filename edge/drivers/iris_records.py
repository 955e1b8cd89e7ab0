"""Record codecs of the ewp iris camera protocol (docs/iris-protocol.md): what travels in a
frame's payload — the capture status, the device information, an eye's quality, an image
block — and the PNG images the camera sends.

Pure functions: they raise only :class:`IrisCameraError` subclasses on what a camera sent (or
``ValueError`` for a caller's mistake when *encoding*), which is what the property tests check.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass

from PIL import Image

from edge.drivers.iris_protocol import (
    IMAGE_FLAG_UNQUALIFIED,
    MAX_BLOCK,
    START_FLAG_PUSH_STATUS,
    STATUS_FLAG_AWAITING_TRIGGER,
    STATUS_FLAG_INITIALISED,
    STATUS_FLAG_PUSH,
    CaptureMode,
    CaptureState,
    Eye,
    ImageFormat,
    IrisFrameError,
    IrisImageError,
    Operation,
    QualityMode,
    eyes_in_mask,
)

# --- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureStatus:
    """What GET_STATUS answers and a status event carries.

    ``result`` is the capture's result code (0 while it runs and on success). ``pushed`` says
    whether the status came as an event rather than as an answer to GET_STATUS.
    """

    state: CaptureState
    result: int
    initialised: bool
    push_enabled: bool
    awaiting_trigger: bool
    eyes_requested: tuple[Eye, ...]
    eyes_found: tuple[Eye, ...]
    eyes_qualified: tuple[Eye, ...]
    progress: int
    frames: int
    pushed: bool = False

    @property
    def done(self) -> bool:
        """COMPLETE or ABORT: the capture is over."""
        return self.state in (CaptureState.COMPLETE, CaptureState.ABORT)

    def same_as(self, other: CaptureStatus | None) -> bool:
        """Equal but for how it arrived (pushed or polled)."""
        return other is not None and _status_fields(self) == _status_fields(other)

    def describe(self) -> dict[str, object]:
        """For JSON output and logs."""
        return {
            "state": self.state.name,
            "result": self.result,
            "eyes_requested": [eye.value for eye in self.eyes_requested],
            "eyes_found": [eye.value for eye in self.eyes_found],
            "eyes_qualified": [eye.value for eye in self.eyes_qualified],
            "progress": self.progress,
            "frames": self.frames,
            "awaiting_trigger": self.awaiting_trigger,
        }


def _status_fields(status: CaptureStatus) -> tuple[object, ...]:
    return (
        status.state,
        status.result,
        status.initialised,
        status.push_enabled,
        status.awaiting_trigger,
        status.eyes_requested,
        status.eyes_found,
        status.eyes_qualified,
        status.progress,
        status.frames,
    )


STATUS_SIZE = 9
_STATUS = struct.Struct(">BBBBBBBH")


def decode_status(data: bytes, *, pushed: bool = False) -> CaptureStatus:
    if len(data) != STATUS_SIZE:
        raise IrisFrameError(
            f"a status record has {STATUS_SIZE} bytes, the camera sent {len(data)}"
        )
    state, result, flags, requested, found, qualified, progress, frames = _STATUS.unpack(data)
    try:
        capture_state = CaptureState(state)
    except ValueError:
        raise IrisFrameError(f"the camera reported an unknown state {state}") from None
    if progress > 100:
        raise IrisFrameError(f"the camera reported progress {progress} %")
    return CaptureStatus(
        state=capture_state,
        result=result,
        initialised=bool(flags & STATUS_FLAG_INITIALISED),
        push_enabled=bool(flags & STATUS_FLAG_PUSH),
        awaiting_trigger=bool(flags & STATUS_FLAG_AWAITING_TRIGGER),
        eyes_requested=eyes_in_mask(requested),
        eyes_found=eyes_in_mask(found),
        eyes_qualified=eyes_in_mask(qualified),
        progress=progress,
        frames=frames,
        pushed=pushed,
    )


def encode_status(status: CaptureStatus) -> bytes:
    """The inverse of :func:`decode_status` (tests use it; the camera has its own)."""
    flags = (
        (STATUS_FLAG_INITIALISED if status.initialised else 0)
        | (STATUS_FLAG_PUSH if status.push_enabled else 0)
        | (STATUS_FLAG_AWAITING_TRIGGER if status.awaiting_trigger else 0)
    )

    def mask(eyes: tuple[Eye, ...]) -> int:
        return sum(eye.mask for eye in eyes)

    return _STATUS.pack(
        status.state,
        status.result,
        flags,
        mask(status.eyes_requested),
        mask(status.eyes_found),
        mask(status.eyes_qualified),
        status.progress,
        status.frames,
    )


@dataclass(frozen=True)
class IrisDeviceInfo:
    protocol: int
    width: int
    height: int
    bits_per_pixel: int
    eyes: tuple[Eye, ...]
    formats: tuple[ImageFormat, ...]
    max_block: int
    vid: int
    pid: int
    model: str
    serial_number: str
    firmware: str


_INFO_HEAD = struct.Struct(">BHHBBBHHH")


def _take_string(data: bytes, offset: int, what: str) -> tuple[str, int]:
    if offset >= len(data):
        raise IrisFrameError(f"the camera's info record ends before its {what}")
    length = data[offset]
    end = offset + 1 + length
    if end > len(data):
        raise IrisFrameError(f"the camera's info record ends inside its {what}")
    raw = data[offset + 1 : end]
    if not raw.isascii():
        raise IrisFrameError(f"the camera's {what} is not ASCII")
    return raw.decode("ascii"), end


def decode_info(data: bytes) -> IrisDeviceInfo:
    if len(data) < _INFO_HEAD.size:
        raise IrisFrameError(f"the camera's info record has only {len(data)} bytes")
    protocol, width, height, bpp, eyes, formats, max_block, vid, pid = _INFO_HEAD.unpack_from(data)
    model, offset = _take_string(data, _INFO_HEAD.size, "model")
    serial_number, offset = _take_string(data, offset, "serial number")
    firmware, offset = _take_string(data, offset, "firmware version")
    if offset != len(data):
        raise IrisFrameError("the camera's info record has bytes after its firmware version")
    if not width or not height or bpp != 8 or not 1 <= max_block <= MAX_BLOCK:
        raise IrisFrameError(
            f"the camera describes images of {width}x{height} at {bpp} bits and blocks of "
            f"{max_block} bytes, which this driver cannot take"
        )
    return IrisDeviceInfo(
        protocol=protocol,
        width=width,
        height=height,
        bits_per_pixel=bpp,
        eyes=eyes_in_mask(eyes),
        formats=tuple(f for f in ImageFormat if formats & (1 << f)),
        max_block=max_block,
        vid=vid,
        pid=pid,
        model=model,
        serial_number=serial_number,
        firmware=firmware,
    )


def encode_info(info: IrisDeviceInfo) -> bytes:
    head = _INFO_HEAD.pack(
        info.protocol,
        info.width,
        info.height,
        info.bits_per_pixel,
        sum(eye.mask for eye in info.eyes),
        sum(1 << f for f in info.formats),
        info.max_block,
        info.vid,
        info.pid,
    )
    strings = b""
    for text in (info.model, info.serial_number, info.firmware):
        raw = text.encode("ascii")
        if len(raw) > 255:
            raise ValueError("strings in the info record have at most 255 bytes")
        strings += bytes([len(raw)]) + raw
    return head + strings


@dataclass(frozen=True)
class IrisQuality:
    """The camera's quality of its best frame of one eye (0..100 scores, pixel geometry)."""

    eye: Eye
    qualified: bool
    total_score: int
    usable_area: int
    focus: int
    pupil_iris_contrast: int
    iris_x: int
    iris_y: int
    iris_radius: int
    pupil_radius: int

    def describe(self) -> dict[str, object]:
        return {
            "qualified": self.qualified,
            "total_score": self.total_score,
            "usable_area": self.usable_area,
            "focus": self.focus,
            "pupil_iris_contrast": self.pupil_iris_contrast,
            "iris_centre": [self.iris_x, self.iris_y],
            "iris_radius": self.iris_radius,
            "pupil_radius": self.pupil_radius,
        }


QUALITY_SIZE = 14
_QUALITY = struct.Struct(">BBBBBBHHHH")


def decode_quality(data: bytes) -> IrisQuality:
    if len(data) != QUALITY_SIZE:
        raise IrisFrameError(
            f"a quality record has {QUALITY_SIZE} bytes, the camera sent {len(data)}"
        )
    eye, qualified, total, usable, focus, contrast, x, y, iris_r, pupil_r = _QUALITY.unpack(data)
    scores = (total, usable, focus, contrast)
    if max(scores) > 100:
        raise IrisFrameError(f"the camera sent quality scores above 100: {scores}")
    single = Eye.from_mask(eye)
    if single is Eye.BOTH:
        raise IrisFrameError("the camera sent one quality record for both eyes")
    return IrisQuality(
        eye=single,
        qualified=bool(qualified),
        total_score=total,
        usable_area=usable,
        focus=focus,
        pupil_iris_contrast=contrast,
        iris_x=x,
        iris_y=y,
        iris_radius=iris_r,
        pupil_radius=pupil_r,
    )


def encode_quality(quality: IrisQuality) -> bytes:
    return _QUALITY.pack(
        quality.eye.mask,
        int(quality.qualified),
        quality.total_score,
        quality.usable_area,
        quality.focus,
        quality.pupil_iris_contrast,
        quality.iris_x,
        quality.iris_y,
        quality.iris_radius,
        quality.pupil_radius,
    )


def encode_start_capture(
    eye: Eye,
    mode: CaptureMode,
    count: int,
    quality: QualityMode,
    operation: Operation,
    push_status: bool,
    timeout_ds: int,
) -> bytes:
    if not 0 <= count <= 255 or not 0 <= timeout_ds <= 0xFFFF:
        raise ValueError("count is one byte and the timeout two")
    flags = START_FLAG_PUSH_STATUS if push_status else 0
    return struct.pack(">BBBBBBH", eye.mask, mode, count, quality, operation, flags, timeout_ds)


def encode_image_request(
    eye: Eye, fmt: ImageFormat, unqualified: bool, offset: int, max_length: int
) -> bytes:
    if eye is Eye.BOTH:
        raise ValueError("images are per eye: ask for left or right")
    if not 1 <= max_length <= MAX_BLOCK or not 0 <= offset <= 0xFFFFFFFF:
        raise ValueError(f"blocks are 1..{MAX_BLOCK} bytes at an offset that fits 32 bits")
    flags = IMAGE_FLAG_UNQUALIFIED if unqualified else 0
    return struct.pack(">BBBIH", eye.mask, fmt, flags, offset, max_length)


@dataclass(frozen=True)
class ImageBlock:
    eye: Eye
    format: ImageFormat
    total: int
    offset: int
    data: bytes


_BLOCK_HEAD = struct.Struct(">BBII")


def decode_image_block(data: bytes) -> ImageBlock:
    if len(data) < _BLOCK_HEAD.size:
        raise IrisFrameError(f"an image block has at least {_BLOCK_HEAD.size} bytes")
    eye, fmt, total, offset = _BLOCK_HEAD.unpack_from(data)
    try:
        image_format = ImageFormat(fmt)
    except ValueError:
        raise IrisFrameError(f"the camera sent an image in unknown format {fmt}") from None
    block = data[_BLOCK_HEAD.size :]
    if offset + len(block) > total:
        raise IrisFrameError(
            f"the camera sent image bytes {offset}..{offset + len(block)} of only {total}"
        )
    return ImageBlock(Eye.from_mask(eye), image_format, total, offset, bytes(block))


def encode_image_block(block: ImageBlock) -> bytes:
    head = _BLOCK_HEAD.pack(block.eye.mask, block.format, block.total, block.offset)
    return head + block.data


# --- PNG (8-bit greyscale) ---------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_PIXELS = 4096 * 4096
_MAX_PNG_BYTES = 16 * 1024 * 1024  # a 640x480 image compresses to a few hundred KB


def decode_png_grey(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and row-major 8-bit pixels of an 8-bit greyscale, non-interlaced PNG.

    What an iris camera sends in PNG format; anything else raises :class:`IrisImageError`.
    The bytes are hostile until checked: the chunks are walked here first (every CRC, the
    header first and its format, the size bounded, the row data decompressed to no more than
    the header promises), and only then does Pillow undo the row filters.
    """
    width, height = _checked_png(data)
    try:
        with Image.open(io.BytesIO(data), formats=("PNG",)) as image:
            if image.mode != "L" or image.size != (width, height):
                raise IrisImageError(f"the camera's PNG image reads as {image.mode} {image.size}")
            pixels = image.tobytes()
    except (OSError, ValueError, SyntaxError, EOFError, zlib.error) as exc:
        raise IrisImageError(f"the camera's PNG image cannot be decoded: {exc}") from None
    return width, height, pixels


def _checked_png(data: bytes) -> tuple[int, int]:
    """The PNG's size, once its chunks, header and row data have passed the checks."""
    if not data.startswith(PNG_SIGNATURE):
        raise IrisImageError("the camera's PNG image does not start with the PNG signature")
    if len(data) > _MAX_PNG_BYTES:
        raise IrisImageError(f"the camera's PNG image is {len(data)} bytes long")
    offset = len(PNG_SIGNATURE)
    header: tuple[int, int] | None = None
    compressed = bytearray()
    while offset < len(data):
        if offset + 8 > len(data):
            raise IrisImageError("the camera's PNG image ends inside a chunk header")
        length, kind = struct.unpack_from(">I4s", data, offset)
        end = offset + 8 + length + 4
        if end > len(data):
            raise IrisImageError("the camera's PNG image ends inside a chunk")
        body = data[offset + 8 : end - 4]
        if zlib.crc32(kind + body) != int.from_bytes(data[end - 4 : end], "big"):
            raise IrisImageError(f"damaged chunk {kind!r} in the camera's PNG image")
        offset = end
        if header is None:
            header = _png_header(kind, body)
        elif kind == b"IHDR":
            raise IrisImageError("the camera's PNG image has two headers")
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            break
    else:
        raise IrisImageError("the camera's PNG image has no header or no end chunk")
    assert header is not None  # the loop ran and took the first chunk as the header
    width, height = header
    expected = (width + 1) * height  # a filter byte before each row
    try:
        rows = zlib.decompressobj().decompress(bytes(compressed), expected + 1)
    except zlib.error as exc:
        raise IrisImageError(f"the camera's PNG image data is damaged: {exc}") from None
    if len(rows) != expected:
        raise IrisImageError(
            f"the camera's PNG image holds {len(rows)} bytes of rows, expected {expected}"
        )
    return header


def _png_header(kind: bytes, body: bytes) -> tuple[int, int]:
    if kind != b"IHDR":
        raise IrisImageError("the camera's PNG image does not begin with its header")
    if len(body) != 13:
        raise IrisImageError("the camera's PNG header has the wrong size")
    width, height, depth, colour, method, filtering, interlace = struct.unpack(">IIBBBBB", body)
    if (depth, colour, method, filtering, interlace) != (8, 0, 0, 0, 0):
        raise IrisImageError(
            "the camera's PNG image is not 8-bit greyscale without interlacing "
            f"(depth {depth}, colour type {colour}, interlace {interlace})"
        )
    if not 0 < width * height <= _MAX_PNG_PIXELS:
        raise IrisImageError(f"the camera's PNG image is {width}x{height}")
    return width, height
