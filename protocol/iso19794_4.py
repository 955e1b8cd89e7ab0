"""ISO/IEC 19794-4:2011 finger image records ("FIR\\0", version "020\\0"): encode and decode.

The station writes one record per captured finger (one representation: the plain live-scan
image, WSQ-compressed at 500 ppi); the central side reads them back to check the manifest
and to build ANSI/NIST-ITL Type-14 records. Layout (big-endian), as implemented:

General header, 16 bytes::

    "FIR\\0" | "020\\0" | record length (4) | representations (2) | certification flag (1)
    | number of distinct finger positions (1)

Each representation::

    representation length (4, from its first byte to the end of its image data)
    | capture date-time (9, UTC) | device technology (1) | device vendor (2) | device type (2)
    | quality blocks: count (1), then score (1), algorithm vendor (2), algorithm (2) each
    | [certification blocks: count (1), then authority (2), scheme (1) each, if the flag is 1]
    | finger position (1) | representation number (1) | scale units (1: 1 ppi, 2 ppcm)
    | capture sampling rate h (2), v (2) | image sampling rate h (2), v (2)
    | bit depth (1) | compression (1) | impression type (1)
    | width (2) | height (2) | image data length (4) | image data
    | [extended data blocks, up to the representation length]

The decoder is strict: every length must add up, every code must be one the 2011 edition
defines, and a WSQ or PNG payload must have the dimensions its header claims.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from datetime import datetime

from protocol.iso19794 import (
    CaptureHead,
    QualityBlock,
    RecordError,
    check_general_header,
    check_image_geometry,
    encode_general_header,
    framed_representation,
    png_properties,
    representation_readers,
    wsq_dimensions,
)

FORMAT_ID = b"FIR\x00"
RECORD_FORMAT = "iso19794-4:2011"  # the manifest's ``format`` for these records

# ISO/IEC 19794-4:2011 finger position codes (Table 6), by the manifest's position names.
FINGER_POSITIONS: dict[str, int] = {
    "unknown": 0,
    "right-thumb": 1,
    "right-index": 2,
    "right-middle": 3,
    "right-ring": 4,
    "right-little": 5,
    "left-thumb": 6,
    "left-index": 7,
    "left-middle": 8,
    "left-ring": 9,
    "left-little": 10,
}
POSITION_NAMES = {code: name for name, code in FINGER_POSITIONS.items()}
# Multi-finger and palm codes exist (13-15, 20-36, 40-50); a reader accepts them.
_OTHER_POSITIONS = {13, 14, 15, *range(20, 37), *range(40, 51)}


class Compression(enum.IntEnum):
    """Compression algorithm codes (Table 9)."""

    UNCOMPRESSED = 0
    UNCOMPRESSED_BIT_PACKED = 1
    WSQ = 2
    JPEG = 3
    JPEG2000_LOSSY = 4
    JPEG2000_LOSSLESS = 5
    PNG = 6


class Impression(enum.IntEnum):
    """Impression types (Table 10); others up to 29 are accepted as plain integers."""

    LIVE_SCAN_PLAIN = 0
    LIVE_SCAN_ROLLED = 1
    NONLIVE_SCAN_PLAIN = 2
    NONLIVE_SCAN_ROLLED = 3
    LIVE_SCAN_SWIPE = 8
    OTHER = 28
    UNKNOWN = 29


class ScaleUnits(enum.IntEnum):
    PPI = 1
    PPCM = 2


@dataclass(frozen=True)
class FingerImage:
    """One representation: a finger image and how it was captured."""

    position: int  # ISO finger position code, 1 right thumb .. 10 left little
    width: int
    height: int
    image_data: bytes = field(repr=False)
    captured_at: datetime
    compression: Compression = Compression.WSQ
    quality: tuple[QualityBlock, ...] = ()
    impression: int = Impression.LIVE_SCAN_PLAIN
    resolution: int = 500  # image sampling rate, both directions
    capture_resolution: int = 500  # the device's own sampling rate
    scale_units: ScaleUnits = ScaleUnits.PPI
    bit_depth: int = 8
    device_technology: int = 0  # 0: unknown or unspecified (Table 4)
    device_vendor: int = 0  # CBEFF vendor id registered with IBIA; 0: unreported
    device_type: int = 0  # vendor-assigned; 0: unreported
    number: int = 1  # representation number within the record
    certifications: tuple[tuple[int, int], ...] = ()  # (authority id, scheme id)
    extended_data: bytes = field(default=b"", repr=False)

    @property
    def position_name(self) -> str:
        return POSITION_NAMES.get(self.position, f"position-{self.position}")


@dataclass(frozen=True)
class FingerImageRecord:
    representations: tuple[FingerImage, ...]

    @property
    def positions(self) -> list[int]:
        return [r.position for r in self.representations]


def _check(image: FingerImage) -> None:
    if image.position not in POSITION_NAMES and image.position not in _OTHER_POSITIONS:
        raise RecordError(f"finger position code {image.position} is not defined")
    check_image_geometry(image.width, image.height, image.bit_depth)
    if not 0 <= image.impression <= 29:
        raise RecordError(f"impression type {image.impression} is not defined")
    for name in ("resolution", "capture_resolution", "device_vendor", "device_type"):
        if not 0 <= getattr(image, name) <= 0xFFFF:
            raise RecordError(f"{name} must fit in 16 bits")
    if not 0 <= image.device_technology <= 0xFF or not 0 <= image.number <= 0xFF:
        raise RecordError("device technology and representation number must fit in one byte")
    _check_payload(image.compression, image.image_data, image.width, image.height)


def _check_payload(compression: int, data: bytes, width: int, height: int) -> None:
    if compression == Compression.WSQ:
        found = wsq_dimensions(data)
    elif compression == Compression.PNG:
        found = png_properties(data)[:2]
    elif compression == Compression.UNCOMPRESSED:
        if len(data) != width * height:
            raise RecordError(f"{len(data)} bytes of raw pixels do not make {width}x{height}")
        return
    else:
        return  # JPEG family: not produced by ewp, the header is trusted
    if found != (width, height):
        raise RecordError(
            f"the image data is {found[0]}x{found[1]}, the record header says {width}x{height}"
        )


def _encode_representation(image: FingerImage, certification: bool) -> bytes:
    _check(image)
    head = CaptureHead.of(image).encode()
    if certification:
        head += bytes([len(image.certifications)])
        for authority, scheme in image.certifications:
            head += struct.pack(">HB", authority, scheme)
    head += struct.pack(
        ">BBBHHHHBBBHHI",
        image.position,
        image.number,
        image.scale_units,
        image.capture_resolution,
        image.capture_resolution,
        image.resolution,
        image.resolution,
        image.bit_depth,
        image.compression,
        image.impression,
        image.width,
        image.height,
        len(image.image_data),
    )
    return framed_representation(head + image.image_data + image.extended_data)


def encode_finger_record(record: FingerImageRecord) -> bytes:
    """The record's bytes; raises RecordError for values the format cannot carry."""
    if not record.representations:
        raise RecordError("a finger image record needs at least one representation")
    certification = any(r.certifications for r in record.representations)
    body = b"".join(_encode_representation(r, certification) for r in record.representations)
    positions = len({r.position for r in record.representations})
    count = len(record.representations)
    return encode_general_header(FORMAT_ID, body, count, certification, positions) + body


def decode_finger_record(data: bytes) -> FingerImageRecord:
    """Parse and check a record; RecordError says what is wrong and where."""
    count, certification, positions = check_general_header(
        data, FORMAT_ID, "ISO 19794-4 finger record"
    )
    images = []
    for what, reader in representation_readers(data, count, "finger"):
        head = CaptureHead.read(reader)
        certifications: list[tuple[int, int]] = []
        if certification:
            for _ in range(reader.u8("number of certification blocks")):
                authority, scheme = struct.unpack(">HB", reader.take(3, "certification block"))
                certifications.append((authority, scheme))
        position = reader.u8("finger position")
        number = reader.u8("representation number")
        units = reader.u8("scale units")
        capture_h = reader.u16("capture sampling rate")
        capture_v = reader.u16("capture sampling rate")
        image_h = reader.u16("image sampling rate")
        image_v = reader.u16("image sampling rate")
        depth = reader.u8("bit depth")
        compression_code = reader.u8("compression algorithm")
        impression = reader.u8("impression type")
        width = reader.u16("horizontal line length")
        height = reader.u16("vertical line length")
        image_length = reader.u32("image data length")
        image_data = reader.take(image_length, "image data")
        extended = reader.take(reader.end - reader.offset, "extended data")
        if units not in (1, 2):
            raise RecordError(f"{what}: scale units {units} (1 is ppi, 2 is ppcm)")
        if capture_h != capture_v or image_h != image_v:
            raise RecordError(f"{what}: non-square sampling ({image_h}x{image_v}) is not read")
        try:
            compression = Compression(compression_code)
        except ValueError:
            raise RecordError(
                f"{what}: compression code {compression_code} is not defined"
            ) from None
        image = FingerImage(
            position=position,
            width=width,
            height=height,
            image_data=image_data,
            captured_at=head.captured_at,
            compression=compression,
            quality=head.quality,
            impression=impression,
            resolution=image_h,
            capture_resolution=capture_h,
            scale_units=ScaleUnits(units),
            bit_depth=depth,
            device_technology=head.device_technology,
            device_vendor=head.device_vendor,
            device_type=head.device_type,
            number=number,
            certifications=tuple(certifications),
            extended_data=extended,
        )
        try:
            _check(image)
        except RecordError as exc:
            raise RecordError(f"{what}: {exc}") from None
        images.append(image)
    if positions != len({i.position for i in images}):
        raise RecordError(
            f"finger record header counts {positions} finger positions, the representations "
            f"hold {len({i.position for i in images})}"
        )
    return FingerImageRecord(tuple(images))
