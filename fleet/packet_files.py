"""Sealed packets on the fleet's disk: one file each, written atomically and fsync'd.

``{packet_dir}/{station_id}/{YYYY}/{MM}/{DD}/{packet_id}.ewp`` holds the envelope exactly as the
station sealed and signed it, so the central system can verify and open it later.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from protocol.envelope import SealedPacket
from protocol.private_files import write_atomic

PACKET_MODE = 0o640


class PacketFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def relative_path(self, packet: SealedPacket, received: datetime) -> str:
        return f"{packet.station_id}/{received:%Y/%m/%d}/{packet.packet_id}.ewp"

    def write(self, packet: SealedPacket, received: datetime) -> str:
        """Write durably; returns the path relative to the root. Idempotent."""
        relative = self.relative_path(packet, received)
        write_atomic(self.root / relative, packet.to_bytes(), mode=PACKET_MODE)
        return relative

    def read(self, relative: str) -> SealedPacket:
        return SealedPacket.from_bytes((self.root / relative).read_bytes())

    def path(self, relative: str) -> Path:
        return self.root / relative
