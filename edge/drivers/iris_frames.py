"""Pure frame codec of the ewp iris camera protocol (docs/iris-protocol.md).

A frame, in both directions::

    A5 5A | LEN (2, big-endian) | LCS (1) | CODE (1) | SEQ (1) | PAYLOAD (LEN) | CRC-16 (2)

``LCS`` makes ``LEN_hi + LEN_lo + LCS`` a multiple of 256; the CRC is CRC-16/CCITT-FALSE of
everything after the sync. The host sends commands (``0x00..0x5F``); the camera answers with
``command | 0x80`` (a result code, then data), pushes status events (``0xE0``) and NAKs damaged
frames (``0xFF``).

Nothing here touches a port: :class:`FrameReader` (a ``frame_parser.SyncFrameParser``) is fed
whatever bytes arrived and hands back whole frames, skipping line noise. It raises only
:class:`IrisCameraError` subclasses (or ``ValueError`` for a caller's mistake when
*encoding*), which is what the property tests check.

The protocol's numbers, enumerations and errors are in ``iris_protocol``; the record codecs
(status, info, quality, image block) and the PNG decoder in ``iris_records``. This module
re-exports both, so that the driver imports the whole codec from one place.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass

from edge.drivers.frame_parser import SyncFrameParser
from edge.drivers.iris_protocol import (
    IMAGE_FLAG_UNQUALIFIED,
    IMAGE_HEIGHT,
    IMAGE_WIDTH,
    MAX_BLOCK,
    MAX_COMMAND,
    NAK,
    PROTOCOL_VERSION,
    QUALITY_THRESHOLDS,
    RESPONSE_BIT,
    START_FLAG_PUSH_STATUS,
    STATUS_EVENT,
    STATUS_FLAG_AWAITING_TRIGGER,
    STATUS_FLAG_INITIALISED,
    STATUS_FLAG_PUSH,
    CaptureMode,
    CaptureState,
    Command,
    Eye,
    ImageFormat,
    IrisCameraError,
    IrisCrcError,
    IrisFrameError,
    IrisImageError,
    IrisTransportError,
    Operation,
    QualityMode,
    ResultCode,
    eyes_in_mask,
)
from edge.drivers.iris_records import (
    PNG_SIGNATURE,
    QUALITY_SIZE,
    STATUS_SIZE,
    CaptureStatus,
    ImageBlock,
    IrisDeviceInfo,
    IrisQuality,
    decode_image_block,
    decode_info,
    decode_png_grey,
    decode_quality,
    decode_status,
    encode_image_block,
    encode_image_request,
    encode_info,
    encode_quality,
    encode_start_capture,
    encode_status,
)

SYNC = b"\xa5\x5a"
HEADER_SIZE = 7  # sync, LEN, LCS, CODE, SEQ
CRC_SIZE = 2
FRAME_OVERHEAD = HEADER_SIZE + CRC_SIZE
MAX_PAYLOAD = 4160  # an image block (11 bytes of header) with room to spare


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


class FrameReader(SyncFrameParser[Frame]):
    """Incremental frame parser (``frame_parser``): :meth:`feed` bytes, then take frames with
    :meth:`next_frame`.

    A sync followed by an impossible length or a wrong length check is a false start. A frame
    whose CRC does not match is consumed and reported as :class:`IrisCrcError`.
    """

    sync = SYNC
    header_size = HEADER_SIZE
    min_size = FRAME_OVERHEAD

    def frame_size(self, header: bytearray) -> int | None:
        length = (header[2] << 8) | header[3]
        if length > MAX_PAYLOAD or header[4] != length_check(length):
            return None
        return FRAME_OVERHEAD + length

    def decode(self, frame: bytes) -> Frame:
        code, seq = frame[5], frame[6]
        received = int.from_bytes(frame[-CRC_SIZE:], "big")
        expected = crc16(memoryview(frame)[2:-CRC_SIZE])
        if received != expected:
            raise IrisCrcError(
                f"damaged frame from the iris camera (CRC {received:04x}, expected "
                f"{expected:04x}): check the USB cable",
                frame_code=code,
                frame_seq=seq,
            )
        return Frame(code=code, seq=seq, payload=frame[HEADER_SIZE:-CRC_SIZE])


# The driver and the tests import the protocol's vocabulary and records from here.
__all__ = [
    "CRC_SIZE",
    "FRAME_OVERHEAD",
    "HEADER_SIZE",
    "IMAGE_FLAG_UNQUALIFIED",
    "IMAGE_HEIGHT",
    "IMAGE_WIDTH",
    "MAX_BLOCK",
    "MAX_COMMAND",
    "MAX_PAYLOAD",
    "NAK",
    "PNG_SIGNATURE",
    "PROTOCOL_VERSION",
    "QUALITY_SIZE",
    "QUALITY_THRESHOLDS",
    "RESPONSE_BIT",
    "START_FLAG_PUSH_STATUS",
    "STATUS_EVENT",
    "STATUS_FLAG_AWAITING_TRIGGER",
    "STATUS_FLAG_INITIALISED",
    "STATUS_FLAG_PUSH",
    "STATUS_SIZE",
    "SYNC",
    "CaptureMode",
    "CaptureState",
    "CaptureStatus",
    "Command",
    "Eye",
    "Frame",
    "FrameReader",
    "ImageBlock",
    "ImageFormat",
    "IrisCameraError",
    "IrisCrcError",
    "IrisDeviceInfo",
    "IrisFrameError",
    "IrisImageError",
    "IrisQuality",
    "IrisTransportError",
    "Operation",
    "QualityMode",
    "ResultCode",
    "crc16",
    "decode_image_block",
    "decode_info",
    "decode_png_grey",
    "decode_quality",
    "decode_status",
    "encode_frame",
    "encode_image_block",
    "encode_image_request",
    "encode_info",
    "encode_quality",
    "encode_start_capture",
    "encode_status",
    "eyes_in_mask",
    "length_check",
]
