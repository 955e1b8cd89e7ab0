"""Readers of standard biometric formats that are NOT our code, for checking what we write.

* ISO/IEC 19794-4 finger records: the ``iso19794`` Pillow plugin (IDEMIA, PyPI). Version 0.1.0
  assigns ``self.mode`` while opening, which Pillow >= 10.1 no longer allows; ``FIRReader``
  gives it back a settable ``mode`` and changes nothing else: the plugin's own header parser,
  frame logic and tile set-up do all the reading.
* WSQ: the ``wsq`` package's Pillow codec (NIST NBIS decoder), independent of our parser.
* ANSI/NIST-ITL: the ``nistitl`` package (IDEMIA, PyPI).
* ISO/IEC 19794-6 iris records: no reader on PyPI handles them (``iso19794`` has finger and
  face records only); ``iris_fields`` reads the fixed offsets of the 2011 layout written out
  here from the standard's table, separately from ``protocol.iso19794_6``, and Pillow decodes
  the PNG payload.
"""

from __future__ import annotations

import io
import struct
from typing import Any

import wsq  # noqa: F401  (registers the WSQ codec with Pillow)
from iso19794 import FIR
from PIL import Image


class FIRReader(FIR.FIRImageFile):
    @property
    def mode(self) -> str:
        return str(self._mode)

    @mode.setter
    def mode(self, value: str) -> None:
        self._mode = value


Image.register_open(FIR.FIRImageFile.format, FIRReader, FIR._accept)


def open_fir(data: bytes) -> Any:
    """The record opened by the iso19794 plugin (a Pillow image with ``.header``)."""
    image = Image.open(io.BytesIO(data))
    assert image.format == "FIR"
    return image


def decode_wsq(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "WSQ"
    image.load()
    return image


def iris_fields(data: bytes) -> dict[str, Any]:
    """The first representation of an ISO/IEC 19794-6:2011 record, by fixed offsets.

    General header 16 bytes; representation: length 4, date-time 9, technology 1, vendor 2,
    type 2, quality count 1 + 5 each, representation number 2, eye label 1, image type 1,
    image format 1, properties 1, width 2, height 2, bit depth 1, range 2, roll 2,
    roll uncertainty 2, centre x/x/y/y 8, diameters 4, image length 4, image.
    """
    assert data[:8] == b"IIR\x00020\x00"
    record_length, representations, certification, eyes = struct.unpack(">IHBB", data[8:16])
    at = 16
    rep_length = struct.unpack(">I", data[at : at + 4])[0]
    year, month, day, hour, minute, second, millis = struct.unpack(
        ">HBBBBBH", data[at + 4 : at + 13]
    )
    quality_count = data[at + 18]
    quality = [
        struct.unpack(">BHH", data[at + 19 + 5 * i : at + 24 + 5 * i]) for i in range(quality_count)
    ]
    q = at + 19 + 5 * quality_count
    number, eye, image_type, image_format, properties = struct.unpack(">HBBBB", data[q : q + 6])
    width, height, depth = struct.unpack(">HHB", data[q + 6 : q + 11])
    diameter_small, diameter_large = struct.unpack(">HH", data[q + 25 : q + 29])
    image_length = struct.unpack(">I", data[q + 29 : q + 33])[0]
    image = data[q + 33 : q + 33 + image_length]
    return {
        "record_length": record_length,
        "representations": representations,
        "certification": certification,
        "eyes": eyes,
        "representation_length": rep_length,
        "captured": (year, month, day, hour, minute, second, millis),
        "quality": quality,
        "number": number,
        "eye_label": eye,
        "image_type": image_type,
        "image_format": image_format,
        "properties": properties,
        "width": width,
        "height": height,
        "bit_depth": depth,
        "iris_diameter": (diameter_small, diameter_large),
        "image": image,
        "end": q + 33 + image_length,
    }
