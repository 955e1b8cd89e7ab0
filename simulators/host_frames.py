"""How a simulated device reads what its host sends: frames found by a sync, a header, a length.

The simulated devices each have their own codec, written from their own spec (the R30x's
``EF 01`` packets, the iris camera's ``A5 5A`` frames), but they read their line the same way,
as a device's receiver does:

* hunt for the sync bytes, skipping line noise;
* once the header is in, ask the codec how long the whole frame is; a header the codec finds
  implausible (a length beyond what a host may send, a failed length check) is a false sync:
  the hunt goes on from the next byte;
* wait for the rest, possibly over many reads, then hand the whole frame to the codec, which
  checks its checksum and decodes it;
* a frame left half-received for ``idle_drop`` seconds of silence is given up.

The drivers under ``edge/drivers`` have their own reader; by the import rule the simulators
never share code with them, so that a misreading of a spec in one is caught by the other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from simulators.serial_endpoints import ByteStream

T = TypeVar("T")


class FrameScanner(Generic[T]):
    """Frames out of a byte stream fed in arbitrary pieces.

    ``frame_length(header)`` gets the first ``header`` bytes (sync included) and returns the
    whole frame's length in bytes, or None for a false sync; ``decode(frame)`` gets the whole
    frame. Nothing is buffered beyond one frame's worth of the largest length the codec allows.
    """

    def __init__(
        self,
        sync: bytes,
        header: int,
        frame_length: Callable[[bytes], int | None],
        decode: Callable[[bytes], T],
    ) -> None:
        if not sync or header < len(sync):
            raise ValueError("a frame starts with a non-empty sync inside its header")
        self._sync = sync
        self._header = header
        self._frame_length = frame_length
        self._decode = decode
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def pending(self) -> bool:
        """Part of a frame (or of its sync) is waiting for the rest."""
        return bool(self._buffer)

    def drop_partial(self) -> None:
        """The line went idle in the middle of a frame: give up on that sync."""
        if self._buffer:
            del self._buffer[:1]

    def next_frame(self) -> T | None:
        """The next whole frame, or None until more bytes come."""
        buf = self._buffer
        while True:
            start = buf.find(self._sync)
            if start < 0:
                # Keep a tail that may be the start of a sync split across two reads.
                keep = next(
                    (n for n in range(len(self._sync) - 1, 0, -1) if buf.endswith(self._sync[:n])),
                    0,
                )
                del buf[: len(buf) - keep]
                return None
            del buf[:start]
            if len(buf) < self._header:
                return None
            total = self._frame_length(bytes(buf[: self._header]))
            if total is None:
                del buf[:1]
                continue
            if len(buf) < total:
                return None
            frame = bytes(buf[:total])
            del buf[:total]
            return self._decode(frame)


def serve_frames(
    stream: ByteStream,
    scanner: FrameScanner[T],
    on_frame: Callable[[T], bool],
    *,
    idle_drop: float = 1.0,
    wakeup: Callable[[], float] = lambda: 0.2,
    tick: Callable[[], None] | None = None,
) -> None:
    """Read frames from ``stream`` and hand each to ``on_frame`` until it returns False.

    A frame left half-received for ``idle_drop`` seconds of silence is given up.

    ``wakeup()`` is how long to wait for bytes before looking again; ``tick()``, when given,
    runs after every wait (a device with a clock of its own: status events, timeouts).
    """
    last_byte = time.monotonic()
    while True:
        data = stream.read(4096, timeout=wakeup())
        now = time.monotonic()
        if data:
            scanner.feed(data)
            last_byte = now
        elif scanner.pending and now - last_byte > idle_drop:
            scanner.drop_partial()
            last_byte = now
        while (frame := scanner.next_frame()) is not None:
            if not on_frame(frame):
                return
        if tick is not None:
            tick()
