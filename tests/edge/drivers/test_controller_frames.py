"""Property tests of the two frame parsers: the host's and the board's (run under CPython).

The board's parser is also run under MicroPython itself, against the host's, in
tests/firmware/test_firmware_micropython.py.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.drivers.controller_link import (
    MAX_PAYLOAD,
    Frame,
    FrameParser,
    crc16_mcrf4xx,
    encode_frame,
    split_messages,
)
from tests.firmware.cpython import firmware_module

frame_fw: Any = firmware_module("frame")

seqs = st.integers(min_value=0, max_value=255)
payloads = st.binary(max_size=MAX_PAYLOAD)
frames = st.lists(st.tuples(seqs, payloads).map(lambda t: Frame(*t)), max_size=12)
DETERMINISTIC = settings(derandomize=True, max_examples=300)


def board_parse(data: bytes, chunk: int = 7) -> tuple[list[Frame], Any]:
    got: list[Frame] = []

    def on_frame(buf: bytearray, length: int) -> None:
        got.append(Frame(buf[1], bytes(buf[2 : length - 3])))

    parser = frame_fw.FrameParser(on_frame)
    for i in range(0, len(data), chunk):
        part = data[i : i + chunk]
        parser.feed(part, len(part))
    return got, parser


def stream(fs: list[Frame]) -> bytes:
    return b"".join(encode_frame(f.seq, f.payload) for f in fs)


def test_crc_check_value() -> None:
    # The catalogue check value of CRC-16/MCRF4XX over "123456789".
    assert crc16_mcrf4xx(b"123456789") == 0x6F91
    assert frame_fw.crc16(b"123456789", 0, 9) == 0x6F91


@given(seqs, payloads)
def test_board_encoder_matches_host_encoder(seq: int, payload: bytes) -> None:
    out = bytearray(frame_fw.MAX_FRAME)
    n = frame_fw.encode(out, seq, payload, 0, len(payload))
    assert bytes(out[:n]) == encode_frame(seq, payload)


@given(frames, st.integers(min_value=1, max_value=50))
def test_round_trip_in_any_chunking(fs: list[Frame], chunk: int) -> None:
    data = stream(fs)
    host = FrameParser()
    got: list[Frame] = []
    for i in range(0, len(data), chunk):
        got += host.feed(data[i : i + chunk])
    assert got == fs
    assert board_parse(data, chunk)[0] == fs


@DETERMINISTIC
@given(st.binary(max_size=300), frames.filter(lambda fs: len(fs) > 0))
def test_resynchronises_after_garbage(garbage: bytes, fs: list[Frame]) -> None:
    # Keep 0x7E out of the payloads so that the only 0x7E bytes after the garbage are
    # trailers. Whatever the garbage left half-parsed, every frame that starts more than one
    # maximum frame after it is recovered, in order, and nothing but garbage comes before.
    fs = [Frame(f.seq, f.payload.replace(b"\x7e", b"\x7d")) for f in fs]
    tail = stream(fs)
    data = garbage + b"\x7e" + tail
    host_frames = FrameParser().feed(data)
    starts, offset = [], len(garbage) + 1
    for f in fs:
        starts.append(offset)
        offset += len(f.payload) + 5
    safe = [f for f, s in zip(fs, starts, strict=True) if s - len(garbage) > 120]
    if safe:
        assert host_frames[-len(safe) :] == safe
    assert board_parse(data)[0] == host_frames


@DETERMINISTIC
@given(frames.filter(lambda fs: len(fs) > 0), st.data())
def test_a_flipped_bit_never_yields_a_wrong_frame(fs: list[Frame], data: st.DataObject) -> None:
    raw = bytearray(stream(fs))
    i = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    raw[i] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
    got = FrameParser().feed(bytes(raw))
    # What comes out is an in-order subsequence of what was sent.
    it = iter(fs)
    assert all(any(g == f for f in it) for g in got)
    assert len(got) < len(fs)
    assert board_parse(bytes(raw))[0] == got


@given(st.binary(max_size=600))
def test_board_and_host_parsers_agree_on_any_bytes(data: bytes) -> None:
    host = FrameParser()
    got = host.feed(data)
    board_frames, board = board_parse(data, chunk=13)
    assert board_frames == got
    assert (board.crc_errors, board.garbage) == (host.crc_errors, host.garbage)


@given(st.lists(st.binary(max_size=20), max_size=6))
def test_split_messages(bodies: list[bytes]) -> None:
    payload = b"".join(bytes((0x40 + i, len(b))) + b for i, b in enumerate(bodies))
    assert split_messages(payload) == [bytes((0x40 + i, len(b))) + b for i, b in enumerate(bodies)]
