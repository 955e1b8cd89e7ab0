"""Standard biometric records for the packet: what the capture workflow calls per finger or eye.

* a finger image becomes an ISO/IEC 19794-4:2011 record (``finger/<position>.fir``), its image
  WSQ-compressed at 500 ppi by NIST's NBIS encoder (the ``wsq`` package, about 15:1);
* an eye image becomes an ISO/IEC 19794-6:2011 record (``iris/<eye>.iir``), its image stored
  as a greyscale PNG (lossless).

Both carry the capture time, the quality block of our score (vendor/algorithm ids of
``ewp-fq-1`` / ``ewp-iq-1``) and the device ids, and come back as ``CapturedRecord`` so the
packet builder treats them like any other record. Everything stays in memory.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime

import wsq  # noqa: F401  (registers the WSQ codec with Pillow)
from PIL import Image

from edge.agent.captured import CapturedRecord
from edge.agent.quality.finger_quality import FingerQuality
from edge.agent.quality.iris_quality import IrisQuality
from protocol.iso19794 import QualityBlock
from protocol.iso19794_4 import (
    FINGER_POSITIONS,
    Compression,
    FingerImage,
    FingerImageRecord,
    encode_finger_record,
)
from protocol.iso19794_4 import RECORD_FORMAT as FINGER_RECORD_FORMAT
from protocol.iso19794_6 import (
    EYE_POSITIONS,
    ImageFormat,
    ImageType,
    IrisBox,
    IrisImage,
    IrisImageRecord,
    encode_iris_record,
)
from protocol.iso19794_6 import RECORD_FORMAT as IRIS_RECORD_FORMAT

FINGER_RESOLUTION_PPI = 500


def wsq_compress(pixels: bytes, width: int, height: int) -> bytes:
    """WSQ (NBIS, 0.75 bits a pixel: about 15:1) of an 8-bit greyscale 500 ppi image."""
    picture = Image.frombytes("L", (width, height), pixels)
    buffer = io.BytesIO()
    picture.save(buffer, format="WSQ")
    return buffer.getvalue()


def png_compress(pixels: bytes, width: int, height: int) -> bytes:
    """Lossless greyscale PNG, best zlib effort (iris images are stored once, sent once)."""
    picture = Image.frombytes("L", (width, height), pixels)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()


def finger_record(
    pixels: bytes,
    width: int,
    height: int,
    *,
    position: str,
    captured_at: datetime,
    quality: FingerQuality | None = None,
    attempts: int = 1,
    device_technology: int = 0,
    device_vendor: int = 0,
    device_type: int = 0,
) -> CapturedRecord:
    """The packet record of one finger: an ISO 19794-4 record with the WSQ image."""
    if position not in FINGER_POSITIONS or position == "unknown":
        raise ValueError(f"unknown finger position {position!r}")
    record = FingerImageRecord(
        (
            FingerImage(
                position=FINGER_POSITIONS[position],
                width=width,
                height=height,
                image_data=wsq_compress(pixels, width, height),
                captured_at=captured_at,
                compression=Compression.WSQ,
                quality=_our_blocks(quality),
                resolution=FINGER_RESOLUTION_PPI,
                capture_resolution=FINGER_RESOLUTION_PPI,
                device_technology=device_technology,
                device_vendor=device_vendor,
                device_type=device_type,
            ),
        )
    )
    return _image_record(
        f"finger/{position}.fir",
        encode_finger_record(record),
        modality="finger",
        record_format=FINGER_RECORD_FORMAT,
        position=position,
        quality=quality,
        attempts=attempts,
        size=(width, height),
        resolution_ppi=FINGER_RESOLUTION_PPI,
    )


def _iris_box(quality: IrisQuality | None) -> IrisBox:
    """The ISO iris centre/diameter fields from our localisation (0: undefined)."""
    if quality is None or quality.location is None:
        return IrisBox()
    where = quality.location
    x, y = round(where.centre_x), round(where.centre_y)
    diameter = round(2 * where.iris_radius)
    # The localisation is good to a few pixels: give the bounds that honestly.
    slack = 2
    return IrisBox(
        centre_smallest_x=max(1, x - slack),
        centre_largest_x=max(1, x + slack),
        centre_smallest_y=max(1, y - slack),
        centre_largest_y=max(1, y + slack),
        diameter_smallest=max(1, diameter - 2 * slack),
        diameter_largest=max(1, math.ceil(diameter + 2 * slack)),
    )


@dataclass(frozen=True)
class CameraQuality:
    """The iris camera's own quality of an eye image (IriShield: total score, usable area).

    Written as two more quality blocks after ours, under the camera vendor's id
    (``vendor_id``; 0 "unreported" until the vendor's IBIA organisation id is configured) and
    the algorithm ids of ``CAMERA_QUALITY_ALGORITHM_IDS``.
    """

    total_score: int
    usable_area: int
    vendor_id: int = 0

    def blocks(self) -> tuple[QualityBlock, ...]:
        ids = CAMERA_QUALITY_ALGORITHM_IDS
        return (
            QualityBlock(self.total_score, self.vendor_id, ids["camera-total-score"]),
            QualityBlock(self.usable_area, self.vendor_id, ids["camera-usable-area"]),
        )


# The camera's figures in the ISO quality blocks: "TS" total score, "UA" usable area.
CAMERA_QUALITY_ALGORITHM_IDS = {"camera-total-score": 0x5453, "camera-usable-area": 0x5541}


def iris_record(
    pixels: bytes,
    width: int,
    height: int,
    *,
    eye: str,
    captured_at: datetime,
    quality: IrisQuality | None = None,
    attempts: int = 1,
    device_vendor: int = 0,
    device_type: int = 0,
    camera_quality: CameraQuality | None = None,
) -> CapturedRecord:
    """The packet record of one eye (``right-eye`` / ``left-eye``): an ISO 19794-6 record,
    with our quality block first and the camera's own after it when given."""
    if eye not in EYE_POSITIONS:
        raise ValueError(f"unknown eye {eye!r}; expected one of {sorted(EYE_POSITIONS)}")
    blocks = _our_blocks(quality)
    if camera_quality is not None:
        blocks += camera_quality.blocks()
    record = IrisImageRecord(
        (
            IrisImage(
                eye=EYE_POSITIONS[eye],
                width=width,
                height=height,
                image_data=png_compress(pixels, width, height),
                captured_at=captured_at,
                image_format=ImageFormat.MONO_PNG,
                image_type=ImageType.VGA if (width, height) == (640, 480) else ImageType.UNCROPPED,
                quality=blocks,
                iris=_iris_box(quality),
                device_vendor=device_vendor,
                device_type=device_type,
            ),
        )
    )
    return _image_record(
        f"iris/{eye}.iir",
        encode_iris_record(record),
        modality="iris",
        record_format=IRIS_RECORD_FORMAT,
        position=eye,
        quality=quality,
        attempts=attempts,
        size=(width, height),
    )


def _our_blocks(quality: FingerQuality | IrisQuality | None) -> tuple[QualityBlock, ...]:
    """The record's quality block of our score (none when there is no score)."""
    return () if quality is None else (QualityBlock.ours(quality.score, quality.algorithm),)


def _image_record(
    name: str,
    data: bytes,
    *,
    modality: str,
    record_format: str,
    position: str,
    quality: FingerQuality | IrisQuality | None,
    attempts: int,
    size: tuple[int, int],
    resolution_ppi: int | None = None,
) -> CapturedRecord:
    """An image record with its manifest entry: our score and algorithm, attempts, size."""
    return CapturedRecord.of(
        name,
        data,
        modality=modality,
        kind="image",
        format=record_format,
        position=position,
        quality=None if quality is None else quality.score,
        quality_algorithm=None if quality is None else quality.algorithm,
        attempts=attempts,
        width=size[0],
        height=size[1],
        resolution_ppi=resolution_ppi,
    )
