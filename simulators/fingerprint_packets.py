"""The R30x module's packet codec, as the simulated module sees it (its own, from the datasheet).

A packet is ``EF 01 | address (4) | pid | length (2) | content | sum (2)``, where the length
counts the content and the sum, and the sum is the datasheet's: pid + both length bytes +
content, modulo 2**16. The module reads its UART with the simulators' frame scanner
(``host_frames``): only what a host can send (command, data and end packets of a plausible
length) counts as a header; anything else is noise and the hunt goes on from the next byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulators.host_frames import FrameScanner

START = b"\xef\x01"
PID_COMMAND = 0x01
PID_DATA = 0x02
PID_ACK = 0x07
PID_END = 0x08
_HOST_PIDS = (PID_COMMAND, PID_DATA, PID_END)
_HEADER = 9  # start, address, pid, length
_MAX_LENGTH = 256 + 2  # the largest packet a host may send: a 256-byte data packet


def packet_sum(pid: int, length: int, content: bytes) -> int:
    """The datasheet's checksum: pid + both length bytes + content, modulo 2**16."""
    return (pid + (length >> 8) + (length & 0xFF) + sum(content)) & 0xFFFF


def build_packet(pid: int, content: bytes, address: int, *, corrupt: bool = False) -> bytes:
    length = len(content) + 2
    total = packet_sum(pid, length, content)
    if corrupt:
        total ^= 0x5A5A
    return b"".join(
        (
            START,
            address.to_bytes(4, "big"),
            bytes((pid,)),
            length.to_bytes(2, "big"),
            content,
            total.to_bytes(2, "big"),
        )
    )


@dataclass(frozen=True)
class HostPacket:
    address: int
    pid: int
    content: bytes
    checksum_ok: bool


def _packet_length(header: bytes) -> int | None:
    pid = header[6]
    length = int.from_bytes(header[7:9], "big")
    if pid not in _HOST_PIDS or not 2 <= length <= _MAX_LENGTH:
        return None
    return _HEADER + length


def _decode_packet(packet: bytes) -> HostPacket:
    pid = packet[6]
    length = len(packet) - _HEADER
    content = packet[_HEADER:-2]
    return HostPacket(
        address=int.from_bytes(packet[2:6], "big"),
        pid=pid,
        content=content,
        checksum_ok=int.from_bytes(packet[-2:], "big") == packet_sum(pid, length, content),
    )


class HostPacketScanner(FrameScanner[HostPacket]):
    """How the module reads its UART: hunt for ``EF 01``, take the header, wait for the rest."""

    def __init__(self) -> None:
        super().__init__(START, _HEADER, _packet_length, _decode_packet)


def pack_nibbles(pixels: bytes) -> bytes:
    """8-bit pixels to the UART image format: top 4 bits, two pixels a byte, first one high."""
    array = np.frombuffer(pixels, dtype=np.uint8)
    return bytes((array[0::2] & 0xF0) | (array[1::2] >> 4))
