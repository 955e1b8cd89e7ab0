"""Pure frame codec of the ewp iris camera protocol (docs/iris-protocol.md).

A frame, in both directions::

    A5 5A | LEN (2, big-endian) | LCS (1) | CODE (1) | SEQ (1) | PAYLOAD (LEN) | CRC-16 (2)

``LCS`` makes ``LEN_hi + LEN_lo + LCS`` a multiple of 256; the CRC is CRC-16/CCITT-FALSE of
everything after the sync. The host sends commands (``0x00..0x5F``); the camera answers with
``command | 0x80`` (a result code, then data), pushes status events (``0xE0``) and NAKs damaged
frames (``0xFF``).

Nothing here touches a port: :class:`FrameReader` is fed whatever bytes arrived and hands back
whole frames, skipping line noise. The record codecs (status, info, quality, image block) and
the PNG decoder are pure functions too. Everything here raises only :class:`IrisCameraError`
subclasses (or ``ValueError`` for a caller's mistake when *encoding*), which is what the
property tests check.
"""

from __future__ import annotations

import binascii
import enum
import struct
import zlib
from dataclasses import dataclass

SYNC = b"\xa5\x5a"
HEADER_SIZE = 7  # sync, LEN, LCS, CODE, SEQ
CRC_SIZE = 2
FRAME_OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_BLOCK = 4096  # the largest image block a camera sends
MAX_PAYLOAD = 4160  # an image block (11 bytes of header) with room to spare
PROTOCOL_VERSION = 1

IMAGE_WIDTH = 640
IMAGE_HEIGHT = 480

RESPONSE_BIT = 0x80
MAX_COMMAND = 0x5F  # commands 0x00..0x5F: their responses (0x80..0xDF) never look like
STATUS_EVENT = 0xE0  # a status event
NAK = 0xFF  # or a NAK


# --- errors -------------------------------------------------------------------------------


class IrisCameraError(Exception):
    """Base of every error the iris camera driver raises.

    ``code`` is the camera's result code when the camera itself reported the problem, ``None``
    for problems on the line (timeouts, a pulled cable, damaged frames).
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class IrisTransportError(IrisCameraError):
    """The line to the camera failed: nothing or something unreadable came back."""


class IrisFrameError(IrisTransportError):
    """A frame arrived that is well formed but not what the exchange expects."""


class IrisCrcError(IrisTransportError):
    """A frame arrived whose CRC does not match its content.

    ``frame_code`` and ``frame_seq`` are what the damaged frame's header said: unverified,
    but right in the common case of a damaged payload.
    """

    def __init__(self, message: str, *, frame_code: int, frame_seq: int) -> None:
        super().__init__(message)
        self.frame_code = frame_code
        self.frame_seq = frame_seq


class IrisImageError(IrisFrameError):
    """The image the camera sent cannot be decoded."""


# --- protocol constants -------------------------------------------------------------------


class Command(enum.IntEnum):
    INIT = 0x01
    GET_INFO = 0x02
    START_CAPTURE = 0x03
    GET_STATUS = 0x04
    TRIGGER = 0x05
    STOP_CAPTURE = 0x06
    GET_RESULT_QUALITY = 0x07
    GET_RESULT_IMAGE = 0x08
    CLEAR = 0x09


class ResultCode(enum.IntEnum):
    OK = 0x00
    BAD_FRAME = 0x01
    UNKNOWN_COMMAND = 0x02
    INVALID_PARAMETER = 0x03
    NOT_INITIALISED = 0x04
    DEVICE_BUSY = 0x05
    INVALID_STATE = 0x06
    NO_FRAME_AVAILABLE = 0x10
    NO_QUALIFIED_FRAME = 0x11
    LEFT_FRAME_UNQUALIFIED = 0x12
    RIGHT_FRAME_UNQUALIFIED = 0x13
    CAPTURE_ABORTED = 0x14
    SENSOR_FAULT = 0x20


class CaptureState(enum.IntEnum):
    IDLE = 0
    READY = 1
    CAPTURING = 2
    COMPLETE = 3
    ABORT = 4


class Eye(enum.Enum):
    """Which eye; on the wire a bit mask (1 left, 2 right, 3 both)."""

    LEFT = "left"
    RIGHT = "right"
    BOTH = "both"

    @property
    def mask(self) -> int:
        return _EYE_MASKS[self]

    @classmethod
    def parse(cls, value: Eye | str) -> Eye:
        if isinstance(value, Eye):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"eye must be left, right or both, got {value!r}") from None

    @classmethod
    def from_mask(cls, mask: int) -> Eye:
        for eye, bits in _EYE_MASKS.items():
            if bits == mask:
                return eye
        raise IrisFrameError(f"the camera sent an unknown eye code {mask}")

    def single_eyes(self) -> tuple[Eye, ...]:
        """LEFT and/or RIGHT: the eyes this value stands for."""
        return tuple(eye for eye in (Eye.LEFT, Eye.RIGHT) if self.mask & eye.mask)


_EYE_MASKS = {Eye.LEFT: 1, Eye.RIGHT: 2, Eye.BOTH: 3}


def eyes_in_mask(mask: int) -> tuple[Eye, ...]:
    """The single eyes a bit mask names (unknown bits ignored)."""
    return tuple(eye for eye in (Eye.LEFT, Eye.RIGHT) if mask & eye.mask)


class CaptureMode(enum.IntEnum):
    TIME_BASED = 0
    FRAME_BASED = 1


class QualityMode(enum.IntEnum):
    NORMAL = 0
    HIGH = 1
    VERY_HIGH = 2


# The total score a frame needs to qualify, per quality mode.
QUALITY_THRESHOLDS = {QualityMode.NORMAL: 40, QualityMode.HIGH: 60, QualityMode.VERY_HIGH: 75}


class Operation(enum.IntEnum):
    AUTO = 0
    OPERATOR = 1


class ImageFormat(enum.IntEnum):
    RAW = 0
    PNG = 1


START_FLAG_PUSH_STATUS = 0x01
IMAGE_FLAG_UNQUALIFIED = 0x01
STATUS_FLAG_INITIALISED = 0x01
STATUS_FLAG_PUSH = 0x02
STATUS_FLAG_AWAITING_TRIGGER = 0x04


# --- CRC and frames -----------------------------------------------------------------------


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR.

    ``binascii.crc_hqx`` is exactly this CRC (the XMODEM one) with the initial value given,
    in C: a whole image goes through it on a Raspberry Pi.
    """
    return binascii.crc_hqx(data, crc)


def length_check(length: int) -> int:
    """LCS: the byte that makes ``LEN_hi + LEN_lo + LCS`` a multiple of 256."""
    return (-((length >> 8) + (length & 0xFF))) & 0xFF


def encode_frame(code: int, seq: int, payload: bytes = b"") -> bytes:
    if not 0 <= code <= 0xFF or not 0 <= seq <= 0xFF:
        raise ValueError(f"code and seq are one byte each, got {code}, {seq}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"a payload of {len(payload)} bytes does not fit in a frame")
    length = len(payload)
    body = struct.pack(">HBBB", length, length_check(length), code, seq) + payload
    return SYNC + body + crc16(body).to_bytes(2, "big")


def _code_name(code: int) -> str:
    if code == STATUS_EVENT:
        return "status-event"
    if code == NAK:
        return "nak"
    try:
        name = Command(code & 0x7F).name.lower()
    except ValueError:
        return f"code {code:02x}"
    return name + ("-response" if code & RESPONSE_BIT else "")


@dataclass(frozen=True)
class Frame:
    code: int
    seq: int
    payload: bytes

    @property
    def is_response(self) -> bool:
        return RESPONSE_BIT <= self.code < STATUS_EVENT

    def describe(self) -> str:
        """Short form for the wire log: ``get_status-response #7 [10] 00 03 ...``."""
        shown = self.payload[:24].hex(" ")
        more = " ..." if len(self.payload) > 24 else ""
        return f"{_code_name(self.code)} #{self.seq} [{len(self.payload)}] {shown}{more}"


class FrameReader:
    """Incremental frame parser: :meth:`feed` bytes, then take frames with :meth:`next_frame`.

    Bytes before a sync are line noise and are skipped (counted in ``skipped``). A sync
    followed by an impossible length or a wrong length check is a false start: the parser steps
    one byte past it and hunts on, so a real frame hidden behind noise is found. A frame whose
    CRC does not match is consumed and reported as :class:`IrisCrcError`, so the next call
    continues with what follows it.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def clear(self) -> None:
        self._buffer.clear()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def bytes_needed(self) -> int:
        """How many more bytes, at least, before :meth:`next_frame` can return a frame."""
        buf = self._buffer
        start = buf.find(SYNC)
        if start < 0:
            return FRAME_OVERHEAD
        have = len(buf) - start
        if have < HEADER_SIZE:
            return FRAME_OVERHEAD - have
        length = int.from_bytes(buf[start + 2 : start + 4], "big")
        if length > MAX_PAYLOAD or buf[start + 4] != length_check(length):
            return 1
        return max(1, FRAME_OVERHEAD + length - have)

    def next_frame(self) -> Frame | None:
        """The next complete frame, or ``None`` until more bytes are fed.

        Raises :class:`IrisCrcError` for a complete frame whose CRC is wrong.
        """
        buf = self._buffer
        while True:
            start = buf.find(SYNC)
            if start < 0:
                # Keep a trailing 0xA5: it may be the first half of a sync.
                keep = 1 if buf.endswith(b"\xa5") else 0
                self._skip(len(buf) - keep)
                return None
            if start:
                self._skip(start)
            if len(buf) < HEADER_SIZE:
                return None
            length = (buf[2] << 8) | buf[3]
            if length > MAX_PAYLOAD or buf[4] != length_check(length):
                self._skip(1)
                continue
            total = FRAME_OVERHEAD + length
            if len(buf) < total:
                return None
            code, seq = buf[5], buf[6]
            received = (buf[total - 2] << 8) | buf[total - 1]
            expected = crc16(memoryview(buf)[2 : total - 2])
            payload = bytes(buf[HEADER_SIZE : total - 2])
            del buf[:total]
            if received != expected:
                raise IrisCrcError(
                    f"damaged frame from the iris camera (CRC {received:04x}, expected "
                    f"{expected:04x}): check the USB cable",
                    frame_code=code,
                    frame_seq=seq,
                )
            return Frame(code=code, seq=seq, payload=payload)

    def _skip(self, count: int) -> None:
        if count > 0:
            del self._buffer[:count]
            self.skipped += count


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


# --- PNG (8-bit greyscale), stdlib only ---------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_PNG_PIXELS = 4096 * 4096


def decode_png_grey(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and row-major 8-bit pixels of an 8-bit greyscale, non-interlaced PNG.

    What an iris camera sends in PNG format; anything else raises :class:`IrisImageError`.
    Chunk CRCs are checked.
    """
    if not data.startswith(PNG_SIGNATURE):
        raise IrisImageError("the camera's PNG image does not start with the PNG signature")
    offset = len(PNG_SIGNATURE)
    header: tuple[int, int] | None = None
    compressed = bytearray()
    ended = False
    while offset < len(data):
        if offset + 8 > len(data):
            raise IrisImageError("the camera's PNG image ends inside a chunk header")
        length, kind = struct.unpack_from(">I4s", data, offset)
        end = offset + 8 + length + 4
        if end > len(data):
            raise IrisImageError("the camera's PNG image ends inside a chunk")
        body = data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(kind + body) != crc:
            raise IrisImageError(f"damaged chunk {kind!r} in the camera's PNG image")
        offset = end
        if header is None and kind != b"IHDR":
            raise IrisImageError("the camera's PNG image does not begin with its header")
        if kind == b"IHDR":
            if header is not None:
                raise IrisImageError("the camera's PNG image has two headers")
            if length != 13:
                raise IrisImageError("the camera's PNG header has the wrong size")
            width, height, depth, colour, method, filtering, interlace = struct.unpack(
                ">IIBBBBB", body
            )
            if (depth, colour, method, filtering, interlace) != (8, 0, 0, 0, 0):
                raise IrisImageError(
                    "the camera's PNG image is not 8-bit greyscale without interlacing "
                    f"(depth {depth}, colour type {colour}, interlace {interlace})"
                )
            if not 0 < width * height <= _MAX_PNG_PIXELS:
                raise IrisImageError(f"the camera's PNG image is {width}x{height}")
            header = (width, height)
        elif kind == b"IDAT":
            compressed += body
        elif kind == b"IEND":
            ended = True
            break
    if header is None or not ended:
        raise IrisImageError("the camera's PNG image has no header or no end chunk")
    width, height = header
    try:
        decompressor = zlib.decompressobj()
        raw = decompressor.decompress(bytes(compressed), (width + 1) * height + 1)
    except zlib.error as exc:
        raise IrisImageError(f"the camera's PNG image data is damaged: {exc}") from None
    if len(raw) != (width + 1) * height:
        raise IrisImageError(
            f"the camera's PNG image holds {len(raw)} bytes of rows, expected "
            f"{(width + 1) * height}"
        )
    return width, height, _unfilter(raw, width, height)


def _unfilter(raw: bytes, width: int, height: int) -> bytes:
    """Undo PNG's per-row filters (one byte a pixel)."""
    out = bytearray(width * height)
    previous = bytes(width)
    stride = width + 1
    for row in range(height):
        kind = raw[row * stride]
        line = raw[row * stride + 1 : (row + 1) * stride]
        if kind == 0:
            current = line
        elif kind == 1:
            current = _unfilter_sub(line)
        elif kind == 2:
            current = bytes((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            current = _unfilter_average(line, previous)
        elif kind == 4:
            current = _unfilter_paeth(line, previous)
        else:
            raise IrisImageError(f"row {row} of the camera's PNG image has filter type {kind}")
        out[row * width : (row + 1) * width] = current
        previous = bytes(current)
    return bytes(out)


def _unfilter_sub(line: bytes) -> bytes:
    row = bytearray(line)
    left = 0
    for i, value in enumerate(row):
        left = (value + left) & 0xFF
        row[i] = left
    return bytes(row)


def _unfilter_average(line: bytes, previous: bytes) -> bytes:
    row = bytearray(line)
    left = 0
    for i, value in enumerate(row):
        left = (value + ((left + previous[i]) >> 1)) & 0xFF
        row[i] = left
    return bytes(row)


def _unfilter_paeth(line: bytes, previous: bytes) -> bytes:
    row = bytearray(line)
    left = 0
    upper_left = 0
    for i, value in enumerate(row):
        up = previous[i]
        estimate = left + up - upper_left
        pa = abs(estimate - left)
        pb = abs(estimate - up)
        pc = abs(estimate - upper_left)
        if pa <= pb and pa <= pc:
            predictor = left
        elif pb <= pc:
            predictor = up
        else:
            predictor = upper_left
        left = (value + predictor) & 0xFF
        row[i] = left
        upper_left = up
    return bytes(row)
