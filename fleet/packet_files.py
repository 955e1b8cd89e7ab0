"""Sealed packets on the fleet's disk: one file each, written atomically and fsync'd.

``{packet_dir}/{station_id}/{YYYY}/{MM}/{DD}/{packet_id}.ewp`` holds the envelope exactly as the
station sealed and signed it, so the central system can verify and open it later.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

from protocol.envelope import SealedPacket


class PacketFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def relative_path(self, packet: SealedPacket, received: datetime) -> str:
        return f"{packet.station_id}/{received:%Y/%m/%d}/{packet.packet_id}.ewp"

    def write(self, packet: SealedPacket, received: datetime) -> str:
        """Write durably; returns the path relative to the root. Idempotent."""
        relative = self.relative_path(packet, received)
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            data = packet.to_bytes()
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        return relative

    def read(self, relative: str) -> SealedPacket:
        return SealedPacket.from_bytes((self.root / relative).read_bytes())

    def path(self, relative: str) -> Path:
        return self.root / relative


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
