"""Packet chunks: how a sealed packet travels over MQTT.

Each chunk is one MQTT message (QoS 1) on ``ewp/v1/stations/{id}/packets/{packet_id}``. Every
chunk carries the packet's signed header, so any ingest worker of a shared subscription can
verify the station's signature on any chunk on its own, whatever order chunks arrive in and
whichever worker gets them. Layout (big-endian)::

    magic      4 bytes  b"EWPC"
    version    1 byte   1
    hlen       2 bytes
    header     hlen     the packet's canonical JSON header (as in the envelope)
    signature  64 bytes
    index      4 bytes  chunk number, 0-based
    count      4 bytes  number of chunks of the packet
    offset     4 bytes  where this chunk's bytes start in the sealed body
    data       rest     a slice of the sealed body
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from protocol.bounds import CHUNK_OVERHEAD, MAX_CHUNK_SIZE, MAX_CHUNKS
from protocol.envelope import (
    PacketHeader,
    SealedPacket,
    parse_signed_header,
    signed_head,
)
from protocol.errors import ChunkError, EnvelopeError

CHUNK_MAGIC = b"EWPC"
DEFAULT_CHUNK_SIZE = 64 * 1024
# The largest chunk message: magic, version, header length, the longest header, its signature,
# index/count/offset and the largest data. Nothing legitimate on the broker is larger, so the
# broker's message size limit is this (fleet/broker/mosquitto.py).
MAX_CHUNK_MESSAGE_SIZE = CHUNK_OVERHEAD + MAX_CHUNK_SIZE
_TAIL = struct.Struct(">III")


@dataclass(frozen=True)
class PacketChunk:
    header: PacketHeader
    header_bytes: bytes
    signature: bytes
    index: int
    count: int
    offset: int
    data: bytes

    @property
    def packet_id(self) -> str:
        return self.header.packet_id

    def to_bytes(self) -> bytes:
        tail = _TAIL.pack(self.index, self.count, self.offset)
        return b"".join(
            (signed_head(CHUNK_MAGIC, self.header_bytes, self.signature), tail, self.data)
        )

    @classmethod
    def from_bytes(cls, payload: bytes) -> PacketChunk:
        if payload[:4] != CHUNK_MAGIC:
            raise ChunkError("not an ewp packet chunk (bad magic)")
        try:
            # The signed-header part is laid out as in the envelope; reuse its parser.
            header, header_bytes, signature, offset = parse_signed_header(payload, CHUNK_MAGIC)
        except EnvelopeError as exc:
            raise ChunkError(f"chunk: {exc}") from None
        if len(payload) < offset + _TAIL.size:
            raise ChunkError("chunk truncated before its index")
        index, count, data_offset = _TAIL.unpack_from(payload, offset)
        data = bytes(payload[offset + _TAIL.size :])
        chunk = cls(header, header_bytes, signature, index, count, data_offset, data)
        chunk.check_bounds()
        return chunk

    def check_bounds(self) -> None:
        size = self.header.sealed_size
        if not 1 <= self.count <= MAX_CHUNKS:
            raise ChunkError(f"chunk count {self.count} out of range")
        if self.index >= self.count:
            raise ChunkError(f"chunk index {self.index} >= count {self.count}")
        if not self.data or len(self.data) > MAX_CHUNK_SIZE:
            raise ChunkError(f"chunk of {len(self.data)} bytes out of range")
        if self.offset + len(self.data) > size:
            raise ChunkError("chunk reaches past the end of the sealed body")
        if (self.index == self.count - 1) != (self.offset + len(self.data) == size):
            raise ChunkError("only the last chunk may end the sealed body")


def chunk_count(sealed_size: int, chunk_size: int) -> int:
    return max(1, math.ceil(sealed_size / chunk_size))


def split_packet(
    packet: SealedPacket, chunk_size: int = DEFAULT_CHUNK_SIZE, *, start: int = 0
) -> Iterator[PacketChunk]:
    """The chunks of a packet from chunk ``start`` on (to resume an interrupted upload)."""
    if not 1 <= chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be 1..{MAX_CHUNK_SIZE}")
    count = chunk_count(len(packet.sealed), chunk_size)
    for index in range(start, count):
        offset = index * chunk_size
        yield PacketChunk(
            header=packet.header,
            header_bytes=packet.header_bytes,
            signature=packet.signature,
            index=index,
            count=count,
            offset=offset,
            data=packet.sealed[offset : offset + chunk_size],
        )


def join_chunks(chunks: list[PacketChunk]) -> SealedPacket:
    """Reassemble a packet from all its chunks (any order); checks coverage, size and hash."""
    if not chunks:
        raise ChunkError("no chunks to join")
    first = chunks[0]
    ordered = sorted(chunks, key=lambda c: c.index)
    if [c.index for c in ordered] != list(range(first.count)):
        raise ChunkError(f"packet {first.packet_id}: chunks missing or repeated")
    position = 0
    for chunk in ordered:
        if chunk.header_bytes != first.header_bytes or chunk.count != first.count:
            raise ChunkError(f"packet {first.packet_id}: chunks disagree on the header")
        if chunk.offset != position:
            raise ChunkError(f"packet {first.packet_id}: chunk {chunk.index} at wrong offset")
        position += len(chunk.data)
    packet = SealedPacket(
        header=first.header,
        header_bytes=first.header_bytes,
        signature=first.signature,
        sealed=b"".join(c.data for c in ordered),
    )
    try:
        packet.check_integrity()
    except EnvelopeError as exc:
        raise ChunkError(str(exc)) from None
    return packet
