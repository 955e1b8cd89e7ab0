"""Incremental parsing of sync-framed device protocols: bytes in, whole frames out.

The fingerprint module (``EF 01 ...``) and the iris camera (``A5 5A ...``) frame their packets
the same way: a sync, a header whose length field says how long the frame is, the payload and
a checksum. What a parser does with a byte stream of such frames is the same too, and is here:

* :meth:`~SyncFrameParser.feed` whatever arrived; :meth:`~SyncFrameParser.next_frame` hands
  back a whole frame, or ``None`` until more bytes come;
* bytes before a sync are line noise: skipped, and counted in ``skipped``;
* a sync followed by a header the protocol calls impossible (a length out of range, a wrong
  address or length check) is a false start: the parser steps one byte past it and hunts on,
  so a real frame hidden behind noise is found;
* a whole frame whose checksum does not match is consumed and its error raised, so the next
  call continues with what follows it;
* :attr:`~SyncFrameParser.bytes_needed` says how many bytes at least are missing, so a driver
  reads a whole frame in one call when it can (never byte by byte).

A protocol subclasses :class:`SyncFrameParser` with its sync, header size and two functions:
the frame's size from its header, and the frame from its bytes. Nothing here touches a port;
``serial_link.SerialLink.read_frame`` feeds a parser from one.
"""

from __future__ import annotations

from typing import ClassVar, Generic, TypeVar

F = TypeVar("F")


class SyncFrameParser(Generic[F]):
    """Byte stream in, frames out; subclasses define the header and the frame."""

    sync: ClassVar[bytes]
    header_size: ClassVar[int]  # sync included: what :meth:`frame_size` looks at
    min_size: ClassVar[int]  # bytes to ask for when no frame has begun

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.skipped = 0

    def frame_size(self, header: bytearray) -> int | None:
        """The whole frame's size from the header at the start of ``header``; ``None`` when no
        frame of the protocol can begin like this (a false start)."""
        raise NotImplementedError

    def decode(self, frame: bytes) -> F:
        """The frame from its bytes (sync to checksum); raises the protocol's error when its
        checksum does not match."""
        raise NotImplementedError

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def clear(self) -> None:
        self._buffer.clear()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def bytes_needed(self) -> int:
        """How many more bytes, at least, before :meth:`next_frame` can return a frame."""
        buf = self._buffer
        start = buf.find(self.sync)
        if start < 0:
            return self.min_size
        have = len(buf) - start
        if have < self.header_size:
            return self.min_size - have
        size = self.frame_size(buf[start : start + self.header_size])
        if size is None:
            return 1
        return max(1, size - have)

    def next_frame(self) -> F | None:
        """The next complete frame, or ``None`` until more bytes are fed."""
        buf = self._buffer
        while True:
            start = buf.find(self.sync)
            if start < 0:
                # Keep a trailing first byte of the sync: the rest may come in the next read.
                keep = 1 if buf.endswith(self.sync[:1]) else 0
                self._skip(len(buf) - keep)
                return None
            if start:
                self._skip(start)
            if len(buf) < self.header_size:
                return None
            size = self.frame_size(buf)
            if size is None:
                self._skip(1)
                continue
            if len(buf) < size:
                return None
            frame = bytes(buf[:size])
            del buf[:size]
            return self.decode(frame)

    def _skip(self, count: int) -> None:
        if count > 0:
            del self._buffer[:count]
            self.skipped += count
