"""What ISO/IEC 19794-4:2011 (finger images) and 19794-6:2011 (iris images) share.

Both are binary records from the 2011 generation of ISO/IEC 19794 (part 1's common rules):
big-endian integers, a 16-byte general header (format identifier, version ``"020\\0"``, record
length, number of representations, certification flag, one more count), then representations
that each start with their own length, a 9-byte capture date and time in UTC, the capture
device's technology, vendor and type ids, and quality blocks of 5 bytes (score 0-100 or 255
for "failed", the quality algorithm's vendor id and the algorithm id).

Also here: small checks of the image payloads (WSQ and PNG) that read their own headers, so a
record whose header says 256x288 while its image is something else is refused.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from protocol.errors import ProtocolError

VERSION_2011 = b"020\x00"
QUALITY_FAILED = 255  # "a quality score was attempted and failed"

# Our quality algorithms in the ISO quality blocks. The vendor id should be a CBEFF biometric
# organisation registered with IBIA; ewp has none yet, so this is an unregistered value of our
# own ("EW"), documented in docs/biometric-records.md; a national deployment registers one and
# changes it here.
EWP_VENDOR_ID = 0x4557
QUALITY_ALGORITHM_IDS = {"ewp-fq-1": 0x4631, "ewp-iq-1": 0x4931}  # "F1", "I1"


class RecordError(ProtocolError):
    """A biometric record that does not follow its ISO/IEC 19794 format."""


@dataclass(frozen=True)
class QualityBlock:
    """One quality score of a representation, and who computed it."""

    score: int  # 0..100, or QUALITY_FAILED
    vendor_id: int = EWP_VENDOR_ID
    algorithm_id: int = 0

    def __post_init__(self) -> None:
        if not (0 <= self.score <= 100 or self.score == QUALITY_FAILED):
            raise RecordError(f"quality score {self.score} is outside 0-100 (or 255 for failed)")
        for name in ("vendor_id", "algorithm_id"):
            if not 0 <= getattr(self, name) <= 0xFFFF:
                raise RecordError(f"quality {name} must fit in 16 bits")

    @classmethod
    def ours(cls, score: int, algorithm: str) -> QualityBlock:
        """A quality block for one of our algorithms (``ewp-fq-1``, ``ewp-iq-1``)."""
        try:
            algorithm_id = QUALITY_ALGORITHM_IDS[algorithm]
        except KeyError:
            raise RecordError(
                f"unknown quality algorithm {algorithm!r}; known: {sorted(QUALITY_ALGORITHM_IDS)}"
            ) from None
        return cls(score, EWP_VENDOR_ID, algorithm_id)


def encode_datetime(moment: datetime) -> bytes:
    """9 bytes: year (2), month, day, hour, minute, second, millisecond (2), in UTC."""
    if moment.tzinfo is None:
        raise RecordError("capture time must be timezone-aware (it is written in UTC)")
    utc = moment.astimezone(UTC)
    return struct.pack(
        ">HBBBBBH",
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond // 1000,
    )


def decode_datetime(data: bytes) -> datetime:
    year, month, day, hour, minute, second, millis = struct.unpack(">HBBBBBH", data)
    try:
        return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)
    except ValueError as exc:
        raise RecordError(f"capture date and time is not a valid date ({exc})") from None


def encode_quality_blocks(blocks: tuple[QualityBlock, ...]) -> bytes:
    if len(blocks) > 255:
        raise RecordError("at most 255 quality blocks")
    out = bytes([len(blocks)])
    for block in blocks:
        out += struct.pack(">BHH", block.score, block.vendor_id, block.algorithm_id)
    return out


class Reader:
    """Strict big-endian reading with errors that say which field ran out."""

    def __init__(self, data: bytes, what: str, offset: int = 0, end: int | None = None) -> None:
        self.data = data
        self.offset = offset
        self.end = len(data) if end is None else end
        self.what = what

    def take(self, size: int, field: str) -> bytes:
        if self.offset + size > self.end:
            raise RecordError(
                f"{self.what} ends inside {field} (needs {size} bytes at offset {self.offset}, "
                f"{self.end - self.offset} left)"
            )
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def u8(self, field: str) -> int:
        return self.take(1, field)[0]

    def u16(self, field: str) -> int:
        value: int = struct.unpack(">H", self.take(2, field))[0]
        return value

    def u32(self, field: str) -> int:
        value: int = struct.unpack(">I", self.take(4, field))[0]
        return value

    def quality_blocks(self) -> tuple[QualityBlock, ...]:
        count = self.u8("number of quality blocks")
        blocks = []
        for i in range(count):
            score, vendor, algorithm = struct.unpack(">BHH", self.take(5, f"quality block {i}"))
            blocks.append(QualityBlock(score, vendor, algorithm))
        return tuple(blocks)


def check_general_header(data: bytes, magic: bytes, name: str) -> tuple[int, int, int]:
    """Check the 16-byte general header; return (representations, certification flag, count)."""
    if len(data) < 16:
        raise RecordError(f"{name}: {len(data)} bytes is too short for the 16-byte header")
    if data[:4] != magic:
        raise RecordError(f"{name}: format identifier {data[:4]!r}, expected {magic!r}")
    if data[4:8] != VERSION_2011:
        raise RecordError(
            f"{name}: version {data[4:8]!r}; only the 2011 edition ({VERSION_2011!r}) is read"
        )
    length, representations, certification, count = struct.unpack(">IHBB", data[8:16])
    if length != len(data):
        raise RecordError(f"{name}: record length field says {length}, the record has {len(data)}")
    if representations == 0:
        raise RecordError(f"{name}: a record must hold at least one representation")
    if certification not in (0, 1):
        raise RecordError(f"{name}: certification flag {certification} is neither 0 nor 1")
    return representations, certification, count


def check_image_geometry(width: int, height: int, bit_depth: int) -> None:
    """An image's size and bit depth as both parts' headers can carry them."""
    if not (1 <= width <= 0xFFFF and 1 <= height <= 0xFFFF):
        raise RecordError(f"image size {width}x{height} does not fit the record")
    if not 1 <= bit_depth <= 16:
        raise RecordError(f"bit depth {bit_depth} is outside 1-16")


def encode_general_header(
    magic: bytes, body: bytes, representations: int, certification: bool, count: int
) -> bytes:
    """The 16-byte general header of a record whose representations are ``body``."""
    if representations > 0xFFFF:
        raise RecordError("too many representations")
    lengths = struct.pack(">IHBB", 16 + len(body), representations, int(certification), count)
    return magic + VERSION_2011 + lengths


def representation_readers(data: bytes, count: int, kind: str) -> Iterator[tuple[str, Reader]]:
    """After the general header, each of the ``count`` representations of a ``kind`` record
    ("finger", "iris") as its name for errors and a reader bounded to it (past its length
    field); RecordError when one does not fit, or when bytes are left after the last."""
    offset = 16
    for index in range(count):
        what = f"{kind} record representation {index + 1}"
        if offset + 4 > len(data):
            raise RecordError(f"{what} is missing (the record ends at byte {len(data)})")
        length = int.from_bytes(data[offset : offset + 4], "big")
        if length < 4 or offset + length > len(data):
            raise RecordError(f"{what}: length {length} does not fit in the record")
        yield what, Reader(data, what, offset + 4, offset + length)
        offset += length
    if offset != len(data):
        raise RecordError(f"{kind} record has {len(data) - offset} bytes after its representations")


class CapturedImage(Protocol):
    """What a representation of either part says about its capture."""

    @property
    def captured_at(self) -> datetime: ...
    @property
    def device_technology(self) -> int: ...
    @property
    def device_vendor(self) -> int: ...
    @property
    def device_type(self) -> int: ...
    @property
    def quality(self) -> tuple[QualityBlock, ...]: ...


@dataclass(frozen=True)
class CaptureHead:
    """What every representation starts with after its length: when and with what device it
    was captured, and its quality blocks."""

    captured_at: datetime
    device_technology: int
    device_vendor: int
    device_type: int
    quality: tuple[QualityBlock, ...]

    @classmethod
    def of(cls, image: CapturedImage) -> CaptureHead:
        return cls(
            image.captured_at,
            image.device_technology,
            image.device_vendor,
            image.device_type,
            image.quality,
        )

    def encode(self) -> bytes:
        device = struct.pack(">BHH", self.device_technology, self.device_vendor, self.device_type)
        return encode_datetime(self.captured_at) + device + encode_quality_blocks(self.quality)

    @classmethod
    def read(cls, reader: Reader) -> CaptureHead:
        return cls(
            decode_datetime(reader.take(9, "capture date and time")),
            reader.u8("device technology"),
            reader.u16("device vendor"),
            reader.u16("device type"),
            reader.quality_blocks(),
        )


def framed_representation(body: bytes) -> bytes:
    """A representation: its length (4 bytes, counting themselves), then ``body``."""
    return struct.pack(">I", 4 + len(body)) + body


# --- image payloads ---------------------------------------------------------------------------

WSQ_SOI = b"\xff\xa0"
_WSQ_SOF = 0xFFA2
_WSQ_TABLES = {0xFFA3, 0xFFA4, 0xFFA5, 0xFFA6, 0xFFA7, 0xFFA8}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def wsq_dimensions(data: bytes) -> tuple[int, int]:
    """Width and height from a WSQ stream's frame header (after its tables), checked."""
    if data[:2] != WSQ_SOI:
        raise RecordError("image data is not a WSQ stream (no start-of-image marker FFA0)")
    offset = 2
    while offset + 4 <= len(data):
        marker = int.from_bytes(data[offset : offset + 2], "big")
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        if marker == _WSQ_SOF:
            if offset + 10 > len(data):
                break
            # Frame header: length, black, white, height, width, ...
            height = int.from_bytes(data[offset + 6 : offset + 8], "big")
            width = int.from_bytes(data[offset + 8 : offset + 10], "big")
            return width, height
        if marker not in _WSQ_TABLES or length < 2:
            raise RecordError(f"WSQ stream has an unexpected marker {marker:04X} before its frame")
        offset += 2 + length
    raise RecordError("WSQ stream ends before its frame header (FFA2)")


def png_properties(data: bytes) -> tuple[int, int, int, int]:
    """Width, height, bit depth and colour type from a PNG's IHDR chunk, CRC checked."""
    if data[:8] != PNG_SIGNATURE or len(data) < 33 or data[12:16] != b"IHDR":
        raise RecordError("image data is not a PNG image (bad signature or no IHDR first)")
    body = data[16:29]
    crc = int.from_bytes(data[29:33], "big")
    if zlib.crc32(b"IHDR" + body) != crc:
        raise RecordError("PNG image header is damaged (IHDR CRC mismatch)")
    width, height, depth, colour = struct.unpack(">IIBB", body[:10])
    return width, height, depth, colour
