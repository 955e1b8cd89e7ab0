"""Pure frame codec of the R30x / ZFM-20 / AS608 / R503 fingerprint module protocol.

A packet on the UART is::

    EF 01 | address (4, big-endian) | pid (1) | length (2, big-endian) | content | checksum (2)

``length`` counts the content plus the two checksum bytes; the checksum is the 16-bit sum of
the pid, both length bytes and every content byte. ``pid`` is 0x01 for a command, 0x02 for a
data packet with more to follow, 0x07 for an acknowledgement and 0x08 for the last data
packet.

Nothing here touches a port: :class:`PacketReader` (a ``frame_parser.SyncFrameParser``) is
fed whatever bytes arrived and hands back whole packets, skipping line noise by scanning for
the start code and the expected address. These functions raise only
:class:`FingerprintError` (a damaged packet), which is what the property tests check.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from edge.drivers.fingerprint_r30x_errors import DAMAGED_PACKET, fingerprint_error
from edge.drivers.frame_parser import SyncFrameParser

START_CODE = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
HEADER_SIZE = 9  # start code, address, pid, length
# The largest content a packet can carry: a 256-byte data packet (packet size code 3). Acks
# are far shorter. A length field beyond this is line noise, not a packet.
MAX_CONTENT = 256

IMAGE_WIDTH = 256
IMAGE_HEIGHT = 288
IMAGE_WIRE_BYTES = IMAGE_WIDTH * IMAGE_HEIGHT // 2  # 4 bits a pixel over the UART
TEMPLATE_BYTES = 512

_HEADER = struct.Struct(">2sIBH")


class PacketId(enum.IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END = 0x08


_VALID_PIDS = frozenset(int(pid) for pid in PacketId)


@dataclass(frozen=True)
class Packet:
    pid: int
    content: bytes
    address: int = DEFAULT_ADDRESS

    def describe(self) -> str:
        """Short form for the wire log: ``ack 00 0a1b...``."""
        try:
            kind = PacketId(self.pid).name.lower()
        except ValueError:
            kind = f"pid {self.pid:02x}"
        return f"{kind} [{len(self.content)}] {self.content[:24].hex(' ')}" + (
            " ..." if len(self.content) > 24 else ""
        )


def checksum(pid: int, content: bytes) -> int:
    """16-bit sum of the pid, both length bytes and the content."""
    length = len(content) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(content)) & 0xFFFF


def encode_packet(pid: int, content: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    if not 0 <= address <= 0xFFFFFFFF:
        raise ValueError(f"address must fit in 32 bits, got {address:#x}")
    if not 0 <= pid <= 0xFF:
        raise ValueError(f"pid must fit in a byte, got {pid}")
    if len(content) > 0xFFFF - 2:
        raise ValueError(f"content of {len(content)} bytes does not fit in one packet")
    header = _HEADER.pack(START_CODE, address, pid, len(content) + 2)
    return header + content + checksum(pid, content).to_bytes(2, "big")


def encode_command(
    instruction: int, parameters: bytes = b"", address: int = DEFAULT_ADDRESS
) -> bytes:
    return encode_packet(PacketId.COMMAND, bytes([instruction]) + parameters, address)


def split_data(data: bytes, packet_size: int, address: int = DEFAULT_ADDRESS) -> list[bytes]:
    """``data`` as data packets of ``packet_size`` content bytes, the last one an end packet."""
    if packet_size <= 0:
        raise ValueError("packet size must be positive")
    chunks = [data[i : i + packet_size] for i in range(0, len(data), packet_size)] or [b""]
    packets = [encode_packet(PacketId.DATA, chunk, address) for chunk in chunks[:-1]]
    packets.append(encode_packet(PacketId.END, chunks[-1], address))
    return packets


class PacketReader(SyncFrameParser[Packet]):
    """Incremental packet parser (``frame_parser``): :meth:`feed` bytes, then take packets with
    :meth:`next_frame`.

    A start code followed by another address, an unknown pid or an impossible length is a
    false start. A packet whose checksum does not match is consumed and reported as a
    :class:`FingerprintError` (``DAMAGED_PACKET``).
    """

    sync = START_CODE
    header_size = HEADER_SIZE
    min_size = HEADER_SIZE

    def __init__(self, address: int = DEFAULT_ADDRESS) -> None:
        super().__init__()
        self.address = address

    def frame_size(self, header: bytearray) -> int | None:
        _, address, pid, length = _HEADER.unpack_from(header)
        if address != self.address or pid not in _VALID_PIDS or not 2 <= length <= MAX_CONTENT + 2:
            return None
        return HEADER_SIZE + int(length)

    def decode(self, frame: bytes) -> Packet:
        _, address, pid, _ = _HEADER.unpack_from(frame)
        content = frame[HEADER_SIZE:-2]
        received = int.from_bytes(frame[-2:], "big")
        expected = checksum(pid, content)
        if received != expected:
            raise fingerprint_error(
                DAMAGED_PACKET, detail=f"checksum {received:04x}, expected {expected:04x}"
            )
        return Packet(pid=pid, content=content, address=address)


# --- content codecs -----------------------------------------------------------------------

_HIGH_NIBBLE = bytes((b >> 4) * 17 for b in range(256))
_LOW_NIBBLE = bytes((b & 0x0F) * 17 for b in range(256))


def unpack_image(wire: bytes) -> bytes:
    """4-bit pixels, two a byte with the high nibble first, as 8-bit pixels (0..15 -> 0..255)."""
    pixels = bytearray(2 * len(wire))
    pixels[0::2] = wire.translate(_HIGH_NIBBLE)
    pixels[1::2] = wire.translate(_LOW_NIBBLE)
    return bytes(pixels)


def decode_index_table(table: bytes, page: int) -> set[int]:
    """Used template page ids from a ReadIndexTable bitmap (bit n of byte k: id 8k+n)."""
    base = page * len(table) * 8
    return {
        base + 8 * index + bit
        for index, byte in enumerate(table)
        for bit in range(8)
        if byte & (1 << bit)
    }
