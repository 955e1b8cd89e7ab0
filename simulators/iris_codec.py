"""The iris camera's frame codec and protocol numbers, as the simulated camera sees them.

Its own, from ``docs/iris-protocol.md``: a frame is ``A5 5A | LEN (2) | LCS | CODE | SEQ |
PAYLOAD | CRC-16/CCITT-FALSE (2)``, where LCS makes LEN's two bytes and itself sum to 0 modulo
256 and the CRC covers everything from LEN to the payload. The camera reads its line with the
simulators' frame scanner (``host_frames``): a header whose LEN is beyond ``MAX_PAYLOAD`` or
whose LCS does not check is a false sync; a frame with a bad CRC is still decoded (the camera
answers it with a NAK).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.host_frames import FrameScanner

SYNC = b"\xa5\x5a"
MAX_PAYLOAD = 4160
MAX_BLOCK = 4096


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE as the page defines it: poly 0x1021, init 0xFFFF, MSB first."""
    crc = 0xFFFF
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ byte]
    return crc


def build_frame(code: int, seq: int, payload: bytes = b"", *, corrupt: bool = False) -> bytes:
    length = len(payload)
    lcs = (0x100 - ((length >> 8) + (length & 0xFF)) % 0x100) % 0x100
    body = length.to_bytes(2, "big") + bytes((lcs, code, seq)) + payload
    crc = crc16_ccitt(body)
    if corrupt:
        crc ^= 0x5A5A
    return SYNC + body + crc.to_bytes(2, "big")


Outgoing = tuple[int, int, bytes]  # code, seq, payload of a frame to send


@dataclass(frozen=True)
class HostFrame:
    code: int
    seq: int
    payload: bytes
    crc_ok: bool


def _frame_length(header: bytes) -> int | None:
    length = int.from_bytes(header[2:4], "big")
    if length > MAX_PAYLOAD or (header[2] + header[3] + header[4]) % 0x100:
        return None
    return 9 + length


def _decode_frame(frame: bytes) -> HostFrame:
    body = frame[2:-2]
    return HostFrame(
        code=body[3],
        seq=body[4],
        payload=body[5:],
        crc_ok=int.from_bytes(frame[-2:], "big") == crc16_ccitt(body),
    )


class HostFrameScanner(FrameScanner[HostFrame]):
    """How the camera reads its line: hunt for ``A5 5A``, check LEN and LCS, wait for the rest."""

    def __init__(self) -> None:
        super().__init__(SYNC, 7, _frame_length, _decode_frame)


# --- protocol numbers ----------------------------------------------------------------------

INIT, GET_INFO, START_CAPTURE, GET_STATUS, TRIGGER = 0x01, 0x02, 0x03, 0x04, 0x05
STOP_CAPTURE, GET_RESULT_QUALITY, GET_RESULT_IMAGE, CLEAR = 0x06, 0x07, 0x08, 0x09
STATUS_EVENT, NAK = 0xE0, 0xFF
MAX_COMMAND = 0x5F  # command codes 0x00..0x5F; their answers are code | 0x80

OK, BAD_FRAME, UNKNOWN_COMMAND, INVALID_PARAMETER = 0x00, 0x01, 0x02, 0x03
NOT_INITIALISED, DEVICE_BUSY, INVALID_STATE = 0x04, 0x05, 0x06
NO_FRAME_AVAILABLE, NO_QUALIFIED_FRAME = 0x10, 0x11
LEFT_FRAME_UNQUALIFIED, RIGHT_FRAME_UNQUALIFIED, CAPTURE_ABORTED, SENSOR_FAULT = (
    0x12,
    0x13,
    0x14,
    0x20,
)

IDLE, READY, CAPTURING, COMPLETE, ABORT = 0, 1, 2, 3, 4
STATE_NAMES = {
    IDLE: "IDLE",
    READY: "READY",
    CAPTURING: "CAPTURING",
    COMPLETE: "COMPLETE",
    ABORT: "ABORT",
}

LEFT, RIGHT, BOTH = 1, 2, 3
