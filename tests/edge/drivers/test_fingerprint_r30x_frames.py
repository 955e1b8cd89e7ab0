"""Property tests of the driver's pure frame codec: it never raises anything but its own errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.drivers.fingerprint_r30x_errors import DAMAGED_PACKET, FingerprintError
from edge.drivers.fingerprint_r30x_frames import (
    DEFAULT_ADDRESS,
    MAX_CONTENT,
    Packet,
    PacketId,
    PacketReader,
    checksum,
    decode_index_table,
    encode_packet,
    split_data,
    unpack_image,
)

PIDS = st.sampled_from([int(pid) for pid in PacketId])
CONTENT = st.binary(max_size=MAX_CONTENT)
# Line noise that cannot hide a start code (it has no 0xEF byte).
NOISE = st.binary(max_size=64).map(lambda b: b.replace(b"\xef", b"\x00"))


def drain(reader: PacketReader) -> tuple[list[Packet], int]:
    """Every packet the reader can produce now, and how many checksum errors it reported."""
    packets: list[Packet] = []
    errors = 0
    while True:
        try:
            packet = reader.next_frame()
        except FingerprintError as exc:
            if exc.code != DAMAGED_PACKET:
                raise
            errors += 1
            continue
        if packet is None:
            return packets, errors
        packets.append(packet)


def test_checksum_is_the_datasheet_sum() -> None:
    # GenImg as every datasheet prints it: EF 01 FF FF FF FF 01 00 03 01 00 05
    assert encode_packet(0x01, b"\x01") == bytes.fromhex("ef01ffffffff010003010005")
    assert checksum(0x07, b"\x00") == 0x0A


@settings(max_examples=300)
@given(data=st.binary(max_size=600), chunk=st.integers(min_value=1, max_value=64))
def test_reader_raises_only_its_own_errors_on_arbitrary_bytes(data: bytes, chunk: int) -> None:
    reader = PacketReader()
    for i in range(0, len(data), chunk):
        reader.feed(data[i : i + chunk])
        try:
            drain(reader)
        except FingerprintError:  # pragma: no cover - drain catches DAMAGED_PACKET itself
            pytest.fail("drain let an error through")
        assert reader.bytes_needed >= 1


@settings(max_examples=300)
@given(
    packets=st.lists(st.tuples(PIDS, CONTENT), min_size=1, max_size=5),
    noise=NOISE,
    chunk=st.integers(min_value=1, max_value=300),
)
def test_packets_round_trip_through_noise_and_any_chunking(
    packets: list[tuple[int, bytes]], noise: bytes, chunk: int
) -> None:
    wire = noise + b"".join(encode_packet(pid, content) for pid, content in packets)
    reader = PacketReader()
    received: list[Packet] = []
    for i in range(0, len(wire), chunk):
        reader.feed(wire[i : i + chunk])
        got, errors = drain(reader)
        assert errors == 0
        received += got
    assert [(p.pid, p.content) for p in received] == packets
    assert reader.skipped == len(noise)


@given(pid=PIDS, content=CONTENT, flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_damaged_byte_is_detected_or_skipped(
    pid: int, content: bytes, flip: int, bit: int
) -> None:
    wire = bytearray(encode_packet(pid, content))
    index = 9 + flip % (len(wire) - 9)  # damage the length, content or checksum
    wire[index] ^= 1 << bit
    reader = PacketReader()
    reader.feed(bytes(wire))
    packets, errors = drain(reader)
    # A damaged packet is never delivered as if it were good.
    assert (pid, content) not in [(p.pid, p.content) for p in packets]
    assert errors + len(packets) <= 1


def test_packets_for_another_address_are_skipped() -> None:
    reader = PacketReader(address=0x12345678)
    reader.feed(encode_packet(0x07, b"\x00", address=DEFAULT_ADDRESS))
    reader.feed(encode_packet(0x07, b"\x09", address=0x12345678))
    packets, errors = drain(reader)
    assert [(p.content, p.address) for p in packets] == [(b"\x09", 0x12345678)]
    assert errors == 0


def test_a_false_start_code_does_not_swallow_the_packet_behind_it() -> None:
    reader = PacketReader()
    reader.feed(b"\x13\xef\x01\x00" + encode_packet(0x07, b"\x00\x01\x02"))
    packets, _ = drain(reader)
    assert [p.content for p in packets] == [b"\x00\x01\x02"]


@given(data=st.binary(max_size=2000), size=st.sampled_from([32, 64, 128, 256]))
def test_split_data_reassembles(data: bytes, size: int) -> None:
    reader = PacketReader()
    for packet in split_data(data, size):
        reader.feed(packet)
    packets, errors = drain(reader)
    assert errors == 0
    assert b"".join(p.content for p in packets) == data
    assert [p.pid for p in packets][-1] == PacketId.END
    assert all(p.pid == PacketId.DATA for p in packets[:-1])


@given(wire=st.binary(max_size=512))
def test_image_nibbles_become_grey_levels(wire: bytes) -> None:
    # High nibble first, scaled so that 0xF is white; every byte, not just the first.
    expected = bytes(v for b in wire for v in ((b >> 4) * 17, (b & 0x0F) * 17))
    assert unpack_image(wire) == expected


@given(used=st.sets(st.integers(0, 255)), page=st.integers(0, 3))
def test_index_table_decodes_bits_low_first(used: set[int], page: int) -> None:
    table = bytearray(32)
    for page_id in used:
        table[page_id // 8] |= 1 << (page_id % 8)
    assert decode_index_table(bytes(table), page) == {256 * page + i for i in used}
