"""Per-station budgets for packets not finished yet.

Chunks wait in ``packet_chunks`` until their packet is complete. Without bounds one station
could fill the store with chunks of packets it never finishes (endless new packet ids, or large
chunks of huge packets). Each station may hold at most:

- ``MAX_OPEN_PACKETS`` unfinished packet ids (a station uploads one packet at a time, and some
  more are unfinished after reconnects);
- ``MAX_HELD_BYTES`` of chunk data (more than the largest packet, so a legitimate one fits).

A chunk over budget is refused (``over-budget``), no receipt: the station's receipt timeout
sends the packet again later, from its first chunk. The station is flagged once
(fleet/ingest/flags.py). Unfinished chunks are dropped after ``[ingest] stale_chunk_hours``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.store.models import PacketChunk
from protocol.bounds import MAX_OPEN_PACKETS
from protocol.envelope import MAX_SEALED_SIZE

__all__ = ["MAX_HELD_BYTES", "MAX_OPEN_PACKETS", "Held", "held_by"]
MAX_HELD_BYTES = MAX_SEALED_SIZE + 16 * 1024 * 1024


@dataclass
class Held:
    """What one station holds in unfinished packets."""

    packet_ids: set[str] = field(default_factory=set)
    bytes: int = 0

    def refusal(self, packet_id: str, size: int) -> str | None:
        """Why a new chunk of ``size`` bytes for ``packet_id`` is over budget, or None."""
        if packet_id not in self.packet_ids and len(self.packet_ids) >= MAX_OPEN_PACKETS:
            return f"already {len(self.packet_ids)} unfinished packets (at most {MAX_OPEN_PACKETS})"
        if self.bytes + size > MAX_HELD_BYTES:
            return (
                f"unfinished packets would hold {self.bytes + size} bytes "
                f"(at most {MAX_HELD_BYTES})"
            )
        return None

    def add(self, packet_id: str, size: int) -> None:
        self.packet_ids.add(packet_id)
        self.bytes += size


def held_by(session: Session, station_ids: Iterable[str]) -> dict[str, Held]:
    """What each of these stations holds now (one query; sizes without reading the data)."""
    held: dict[str, Held] = {station_id: Held() for station_id in station_ids}
    if not held:
        return held
    rows = session.execute(
        select(
            PacketChunk.station_id,
            PacketChunk.packet_id,
            func.coalesce(func.sum(func.length(PacketChunk.data)), 0),
        )
        .where(PacketChunk.station_id.in_(held))
        .group_by(PacketChunk.station_id, PacketChunk.packet_id)
    )
    for station_id, packet_id, size in rows:
        held[station_id].add(packet_id, int(size))
    return held
