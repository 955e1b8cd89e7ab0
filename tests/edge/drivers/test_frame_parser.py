"""The sync-framed parser both serial drivers build on, with a tiny protocol of its own.

``AA 55 | LEN | payload | XOR``: enough to show noise skipping, a false start stepped over, a
damaged frame consumed and reported, and ``bytes_needed`` asking for a whole frame at once.
"""

from __future__ import annotations

import functools
import operator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.drivers.frame_parser import SyncFrameParser


class DamagedFrameError(Exception):
    pass


class ToyParser(SyncFrameParser[bytes]):
    sync = b"\xaa\x55"
    header_size = 3
    min_size = 4

    def frame_size(self, header: bytearray) -> int | None:
        length = header[2]
        return None if length > 16 else 4 + length

    def decode(self, frame: bytes) -> bytes:
        payload = frame[3:-1]
        if functools.reduce(operator.xor, payload, 0) != frame[-1]:
            raise DamagedFrameError(frame.hex())
        return payload


def toy(payload: bytes) -> bytes:
    return (
        b"\xaa\x55"
        + bytes([len(payload)])
        + payload
        + bytes([functools.reduce(operator.xor, payload, 0)])
    )


def test_noise_a_false_start_and_a_damaged_frame() -> None:
    parser = ToyParser()
    damaged = bytearray(toy(b"xyz"))
    damaged[-1] ^= 0xFF
    parser.feed(b"\x00\x01" + b"\xaa\x55\xff" + toy(b"one") + bytes(damaged) + toy(b"two"))
    assert parser.next_frame() == b"one"
    assert parser.skipped == 2 + 3  # the noise, then the false start up to the next sync
    with pytest.raises(DamagedFrameError):
        parser.next_frame()
    assert parser.next_frame() == b"two"
    assert parser.next_frame() is None and parser.buffered == 0


def test_bytes_needed_asks_for_the_whole_frame() -> None:
    parser = ToyParser()
    assert parser.bytes_needed == 4
    parser.feed(b"\xaa")
    assert parser.next_frame() is None and parser.buffered == 1  # half a sync is kept
    assert parser.bytes_needed == 4  # no frame has begun yet
    parser.feed(b"\x55\x05ab")
    assert parser.bytes_needed == 4  # the rest of the payload and the checksum
    parser.feed(toy(b"abcde")[5:])
    assert parser.next_frame() == b"abcde"


@given(payloads=st.lists(st.binary(max_size=16), max_size=5), chunk=st.integers(1, 7))
def test_any_chunking_gives_the_same_frames(payloads: list[bytes], chunk: int) -> None:
    stream = b"".join(toy(p) for p in payloads)
    parser = ToyParser()
    frames: list[bytes] = []
    for i in range(0, len(stream), chunk):
        parser.feed(stream[i : i + chunk])
        while (frame := parser.next_frame()) is not None:
            frames.append(frame)
        assert parser.bytes_needed >= 1
    assert frames == payloads and parser.skipped == 0
