"""ISO/IEC 19794-6:2011 iris image records ("IIR\\0", version "020\\0"): encode and decode.

The station writes one record per captured eye (one representation: the 640x480 8-bit
near-infrared image, PNG, lossless); the central side reads them back for the manifest check
and the ANSI/NIST-ITL Type-17 export. Layout (big-endian), as implemented:

General header, 16 bytes::

    "IIR\\0" | "020\\0" | record length (4) | representations (2)
    | certification flag (1, always 0 in this edition) | number of eyes represented (1)

Each representation::

    representation length (4, from its first byte to the end of its image data)
    | capture date-time (9, UTC) | device technology (1: 0 unknown, 1 CMOS/CCD)
    | device vendor (2) | device type (2)
    | quality blocks: count (1), then score (1), algorithm vendor (2), algorithm (2) each
    | representation number (2) | eye label (1: 0 unspecified, 1 right, 2 left)
    | image type (1: 1 uncropped, 2 VGA, 3 cropped, 7 cropped and masked)
    | image format (1: 2 mono raw, 6 mono JPEG, 10 mono JPEG 2000, 14 mono PNG)
    | image properties (1: bits 1-2 horizontal orientation, 3-4 vertical orientation,
      7-8 compression history: 0 undefined, 1 lossless or none, 2 lossy)
    | width (2) | height (2) | bit depth (1) | range (2: 0 unassigned, 1 failed)
    | roll angle (2, 0xFFFF undefined) | roll angle uncertainty (2, 0xFFFF undefined)
    | iris centre smallest x (2), largest x (2), smallest y (2), largest y (2)
    | iris diameter smallest (2), largest (2)   (0 where undefined)
    | image data length (4) | image data
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
)

FORMAT_ID = b"IIR\x00"
RECORD_FORMAT = "iso19794-6:2011"  # the manifest's ``format`` for these records
UNDEFINED_ANGLE = 0xFFFF
# From the representation number to the image data length: 33 bytes.
_INFO = struct.Struct(">HBBBBHHBHHHHHHHHHI")


class EyeLabel(enum.IntEnum):
    UNSPECIFIED = 0
    RIGHT = 1
    LEFT = 2


# The manifest's position names for eyes.
EYE_POSITIONS: dict[str, EyeLabel] = {"right-eye": EyeLabel.RIGHT, "left-eye": EyeLabel.LEFT}


class ImageType(enum.IntEnum):
    UNCROPPED = 1
    VGA = 2  # 640x480, the whole camera frame
    CROPPED = 3
    CROPPED_AND_MASKED = 7


class ImageFormat(enum.IntEnum):
    MONO_RAW = 2
    MONO_JPEG = 6
    MONO_JPEG2000 = 10
    MONO_PNG = 14


class Orientation(enum.IntEnum):
    UNDEFINED = 0
    BASE = 1
    FLIPPED = 2


class CompressionHistory(enum.IntEnum):
    UNDEFINED = 0
    LOSSLESS_OR_NONE = 1
    LOSSY = 2


@dataclass(frozen=True)
class IrisBox:
    """Where the iris is: bounds of its centre and of its diameter, pixels (ISO fields)."""

    centre_smallest_x: int = 0
    centre_largest_x: int = 0
    centre_smallest_y: int = 0
    centre_largest_y: int = 0
    diameter_smallest: int = 0
    diameter_largest: int = 0


@dataclass(frozen=True)
class IrisImage:
    """One representation: an eye image and how it was captured."""

    eye: EyeLabel
    width: int
    height: int
    image_data: bytes = field(repr=False)
    captured_at: datetime
    image_format: ImageFormat = ImageFormat.MONO_PNG
    image_type: ImageType = ImageType.VGA
    quality: tuple[QualityBlock, ...] = ()
    horizontal_orientation: Orientation = Orientation.BASE
    vertical_orientation: Orientation = Orientation.BASE
    compression_history: CompressionHistory = CompressionHistory.LOSSLESS_OR_NONE
    bit_depth: int = 8
    range_cm: int = 0  # 0: unassigned
    roll_angle: int = UNDEFINED_ANGLE
    roll_uncertainty: int = UNDEFINED_ANGLE
    iris: IrisBox = IrisBox()
    device_technology: int = 1  # CMOS/CCD
    device_vendor: int = 0
    device_type: int = 0
    number: int = 1


@dataclass(frozen=True)
class IrisImageRecord:
    representations: tuple[IrisImage, ...]

    @property
    def eyes(self) -> list[EyeLabel]:
        return [r.eye for r in self.representations]


def _check(image: IrisImage) -> None:
    check_image_geometry(image.width, image.height, image.bit_depth)
    if not 0 <= image.device_technology <= 1:
        raise RecordError(f"device technology {image.device_technology} (0 unknown, 1 CMOS/CCD)")
    for name in ("device_vendor", "device_type", "number", "range_cm"):
        if not 0 <= getattr(image, name) <= 0xFFFF:
            raise RecordError(f"{name} must fit in 16 bits")
    if image.image_format == ImageFormat.MONO_PNG:
        width, height, depth, colour = png_properties(image.image_data)
        if (width, height) != (image.width, image.height):
            raise RecordError(
                f"the PNG image is {width}x{height}, the record header says "
                f"{image.width}x{image.height}"
            )
        if colour != 0 or depth != image.bit_depth:
            raise RecordError(
                f"the PNG image is colour type {colour} at {depth} bits, the record says "
                f"greyscale at {image.bit_depth} bits"
            )
    elif image.image_format == ImageFormat.MONO_RAW:
        expected = image.width * image.height * ((image.bit_depth + 7) // 8)
        if len(image.image_data) != expected:
            raise RecordError(f"{len(image.image_data)} bytes of raw pixels, expected {expected}")


def _encode_representation(image: IrisImage) -> bytes:
    _check(image)
    head = CaptureHead.of(image)
    properties = (
        image.horizontal_orientation
        | image.vertical_orientation << 2
        | image.compression_history << 6
    )
    box = image.iris
    info = _INFO.pack(
        image.number,
        image.eye,
        image.image_type,
        image.image_format,
        properties,
        image.width,
        image.height,
        image.bit_depth,
        image.range_cm,
        image.roll_angle,
        image.roll_uncertainty,
        box.centre_smallest_x,
        box.centre_largest_x,
        box.centre_smallest_y,
        box.centre_largest_y,
        box.diameter_smallest,
        box.diameter_largest,
        len(image.image_data),
    )
    return framed_representation(head.encode() + info + image.image_data)


def encode_iris_record(record: IrisImageRecord) -> bytes:
    """The record's bytes; raises RecordError for values the format cannot carry."""
    if not record.representations:
        raise RecordError("an iris image record needs at least one representation")
    body = b"".join(_encode_representation(r) for r in record.representations)
    eyes = len({r.eye for r in record.representations if r.eye != EyeLabel.UNSPECIFIED})
    return encode_general_header(FORMAT_ID, body, len(record.representations), False, eyes) + body


def _enum(kind: type[enum.IntEnum], value: int, what: str) -> int:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(f"{m.value} {m.name.lower()}" for m in kind)
        raise RecordError(f"{what} {value} is not defined ({allowed})") from None


def decode_iris_record(data: bytes) -> IrisImageRecord:
    """Parse and check a record; RecordError says what is wrong and where."""
    count, certification, eyes = check_general_header(data, FORMAT_ID, "ISO 19794-6 iris record")
    if certification:
        raise RecordError("ISO 19794-6 iris record: the certification flag must be 0 (2011)")
    images = []
    for what, reader in representation_readers(data, count, "iris"):
        head = CaptureHead.read(reader)
        (
            number,
            eye,
            image_type,
            image_format,
            properties,
            width,
            height,
            depth,
            range_cm,
            roll,
            roll_uncertainty,
            *box,
            image_length,
        ) = _INFO.unpack(reader.take(_INFO.size, "image information"))
        image_data = reader.take(image_length, "image data")
        if reader.offset != reader.end:
            raise RecordError(f"{what}: {reader.end - reader.offset} bytes after the image data")
        if properties & 0x30:
            raise RecordError(f"{what}: reserved bits 5-6 of the image properties are set")
        try:
            image = IrisImage(
                eye=EyeLabel(_enum(EyeLabel, eye, "eye label")),
                width=width,
                height=height,
                image_data=image_data,
                captured_at=head.captured_at,
                image_format=ImageFormat(_enum(ImageFormat, image_format, "image format")),
                image_type=ImageType(_enum(ImageType, image_type, "image type")),
                quality=head.quality,
                horizontal_orientation=Orientation(
                    _enum(Orientation, properties & 3, "horizontal orientation")
                ),
                vertical_orientation=Orientation(
                    _enum(Orientation, properties >> 2 & 3, "vertical orientation")
                ),
                compression_history=CompressionHistory(
                    _enum(CompressionHistory, properties >> 6, "compression history")
                ),
                bit_depth=depth,
                range_cm=range_cm,
                roll_angle=roll,
                roll_uncertainty=roll_uncertainty,
                iris=IrisBox(*box),
                device_technology=head.device_technology,
                device_vendor=head.device_vendor,
                device_type=head.device_type,
                number=number,
            )
            _check(image)
        except RecordError as exc:
            raise RecordError(f"{what}: {exc}") from None
        images.append(image)
    found = len({i.eye for i in images if i.eye != EyeLabel.UNSPECIFIED})
    if eyes != found:
        raise RecordError(
            f"iris record header counts {eyes} eyes, the representations hold {found}"
        )
    return IrisImageRecord(tuple(images))
