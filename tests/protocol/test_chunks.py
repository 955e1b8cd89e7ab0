"""Chunking: any order, any worker, resumable; malformed chunks get clear errors."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.chunks import PacketChunk, join_chunks, split_packet
from protocol.envelope import SealedPacket, seal_packet
from protocol.errors import ChunkError, ProtocolError
from tests.protocol.vector_keys import central_key, station_key

VECTORS = json.loads((Path(__file__).parent / "vectors" / "envelope-v1.json").read_text())[
    "vectors"
]


def _packet(size: int) -> SealedPacket:
    return seal_packet(
        random.Random(size).randbytes(size),
        station_id="mu-02",
        packet_id="cd" * 16,
        seq=1,
        recipient=central_key("X25519").public_key(),
        signer=station_key(),
    )


@pytest.mark.parametrize("vector", VECTORS, ids=[v["kem"] for v in VECTORS])
def test_published_chunks_reassemble_to_the_envelope(vector: dict[str, object]) -> None:
    chunks = [PacketChunk.from_bytes(bytes.fromhex(h)) for h in vector["chunks_hex"]]  # type: ignore[union-attr]
    packet = join_chunks(list(reversed(chunks)))
    assert packet.to_bytes().hex() == vector["envelope_hex"]


@pytest.mark.parametrize("chunk_size", [2, 7, 1000, 65536])
def test_split_and_join_in_any_order(chunk_size: int) -> None:
    packet = _packet(5000)
    chunks = [PacketChunk.from_bytes(c.to_bytes()) for c in split_packet(packet, chunk_size)]
    random.Random(chunk_size).shuffle(chunks)
    assert join_chunks(chunks) == packet


def test_resume_from_a_chunk() -> None:
    packet = _packet(3000)
    all_chunks = list(split_packet(packet, 1000))
    resumed = list(split_packet(packet, 1000, start=2))
    assert resumed == all_chunks[2:]


def test_missing_chunk_is_reported() -> None:
    chunks = list(split_packet(_packet(3000), 1000))
    with pytest.raises(ChunkError, match="missing"):
        join_chunks(chunks[:2])


def test_corrupted_chunk_data_fails_the_hash() -> None:
    chunks = list(split_packet(_packet(3000), 1000))
    bad = chunks[1]
    chunks[1] = PacketChunk(
        bad.header,
        bad.header_bytes,
        bad.signature,
        bad.index,
        bad.count,
        bad.offset,
        bytes([bad.data[0] ^ 1]) + bad.data[1:],
    )
    with pytest.raises(ChunkError, match="does not match its hash"):
        join_chunks(chunks)


def test_chunk_claiming_to_reach_past_the_end_is_refused() -> None:
    chunk = next(split_packet(_packet(3000), 1000))
    forged = PacketChunk(chunk.header, chunk.header_bytes, chunk.signature, 0, 3, 2500, chunk.data)
    with pytest.raises(ChunkError, match="past the end"):
        PacketChunk.from_bytes(forged.to_bytes())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700))
def test_chunk_parser_raises_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        PacketChunk.from_bytes(b"EWPC" + data)
