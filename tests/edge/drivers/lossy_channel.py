"""A serial line with faults, on a virtual clock: the host link against the board's link.

Each direction carries pieces of bytes (split after every 0x7E, so mostly one frame each) at
115200 baud. A piece can be dropped, duplicated, corrupted (one bit flipped), swapped with the
next one, or preceded by garbage. Time is virtual (integer milliseconds), so thousands of
messages run in a second of real time.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field
from typing import Any

from edge.drivers.controller_link import HostLink
from tests.firmware.cpython import firmware_module

BYTES_PER_MS = 11.52  # 115200 baud, 10 bits a byte
TEST_MESSAGE = 0x42


@dataclass
class Faults:
    drop: float = 0.0
    duplicate: float = 0.0
    corrupt: float = 0.0
    reorder: float = 0.0
    garbage: float = 0.0


@dataclass
class Direction:
    rng: random.Random
    faults: Faults
    queue: list[tuple[int, bytes]] = field(default_factory=list)  # (deliver at ms, bytes)
    line_free_at: float = 0.0
    partial: bytearray = field(default_factory=bytearray)

    def write(self, data: bytes, now: int) -> None:
        self.partial += data
        while True:
            cut = self.partial.find(0x7E)
            if cut < 0:
                break
            piece = bytes(self.partial[: cut + 1])
            del self.partial[: cut + 1]
            self._put(piece, now)
        if self.partial:  # flush what is left (a frame cut by a payload byte 0x7E)
            self._put(bytes(self.partial), now)
            self.partial.clear()

    def _put(self, piece: bytes, now: int) -> None:
        f, rng = self.faults, self.rng
        if rng.random() < f.drop:
            return
        pieces = [piece]
        if rng.random() < f.duplicate:
            pieces.append(piece)
        for p in pieces:
            data = bytearray(p)
            if rng.random() < f.corrupt:
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
            if rng.random() < f.garbage:
                data[:0] = rng.randbytes(rng.randint(1, 12))
            start = max(float(now), self.line_free_at)
            self.line_free_at = start + len(data) / BYTES_PER_MS
            self.queue.append((int(self.line_free_at) + 1, bytes(data)))
            if len(self.queue) >= 2 and rng.random() < f.reorder:
                (t1, a), (t2, b) = self.queue[-2], self.queue[-1]
                self.queue[-2], self.queue[-1] = (t1, b), (t2, a)

    def due(self, now: int) -> list[bytes]:
        out = [d for t, d in self.queue if t <= now]
        self.queue = [(t, d) for t, d in self.queue if t > now]
        return out


def numbered_message(n: int, rng: random.Random) -> bytes:
    body = struct.pack(">I", n) + rng.randbytes(rng.randint(0, 24))
    return bytes((TEST_MESSAGE, len(body))) + body


def message_number(message: bytes) -> int:
    return int(struct.unpack_from(">I", message, 2)[0])


class Board:
    """The firmware's Link, as the board runs it, on the virtual clock."""

    def __init__(self, bench: LinkBench) -> None:
        link_module = firmware_module("link")
        self.bench = bench
        self.received: list[bytes] = []
        self.link: Any = link_module.Link(self._write, self._ticks, self._on_message)

    def _ticks(self) -> int:
        return self.bench.now & 0x3FFFFFFF

    def _write(self, buf: bytearray, n: int) -> None:
        self.bench.to_host.write(bytes(buf[:n]), self.bench.now)

    def _on_message(self, buf: bytearray, start: int, end: int) -> None:
        self.received.append(bytes(buf[start:end]))


class LinkBench:
    """Host and board joined by a faulty line, driven step by step on virtual time."""

    def __init__(self, faults: Faults, seed: int, *, start_ms: int = 0) -> None:
        self.rng = random.Random(seed)
        self.now = start_ms
        self.to_board = Direction(random.Random(seed + 1), faults)
        self.to_host = Direction(random.Random(seed + 2), faults)
        self.host = HostLink(epoch=1 + seed % 7)
        self.board = Board(self)
        self.host_received: list[bytes] = []
        self.host.resync()

    def step(self) -> None:
        self.now += 1
        for data in self.to_board.due(self.now):
            self.board.link.feed(data, len(data))
        for data in self.to_host.due(self.now):
            self.host.receive(data, self.now / 1000)
        while self.host.messages:
            self.host_received.append(self.host.messages.popleft())
        self.board.link.poll()
        out = self.host.poll(self.now / 1000)
        if out:
            self.to_board.write(out, self.now)

    def reboot_board(self) -> None:
        self.board = Board(self)

    def restart_host(self) -> None:
        self.host = HostLink(epoch=1 + self.rng.randrange(7))
        self.host.resync()
