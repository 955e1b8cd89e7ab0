"""Stored packets: the file and row of a complete packet, the stations' running totals, a
packet received again, and chunks of packets never finished."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from fleet.ingest.core import IngestCore
from fleet.store.locking import upsert
from fleet.store.models import Packet, PacketChunk, StationPacketCount, utcnow
from protocol.chunks import PacketChunk as WireChunk
from protocol.envelope import SealedPacket
from protocol.messages import Receipt

log = logging.getLogger(__name__)


class StoredPackets(IngestCore):
    """What happens to a packet once it is complete, or once it was stored."""

    def _drop_unreferenced(self, written: dict[str, str]) -> None:
        """Remove files a failed transaction wrote that no stored packet points to (another
        worker stored that packet under another day's directory, or nobody did yet)."""
        if not written:
            return
        try:
            with self._sessions() as session:
                rows = session.execute(
                    select(Packet.packet_id, Packet.path).where(Packet.packet_id.in_(written))
                )
                kept = {packet_id: path for packet_id, path in rows}
        except DBAPIError:
            log.warning("could not check %d packet files written before a failure", len(written))
            return
        for packet_id, path in written.items():
            if kept.get(packet_id) != path:
                self._files.path(path).unlink(missing_ok=True)

    def _add_packet(self, session: Session, packet: SealedPacket) -> str:
        """Write the packet's file (fsync'd) and add its row to the caller's transaction (the
        caller deletes its chunk rows); returns the file's path."""
        header = packet.header
        received = utcnow()
        path = self._files.write(packet, received)
        session.add(
            Packet(
                packet_id=header.packet_id,
                station_id=header.station_id,
                seq=header.seq,
                sha256=header.sealed_sha256,
                size=len(packet.sealed),
                content_type=header.content_type,
                created_at=header.created_at,
                received_at=received,
                path=path,
            )
        )
        return path

    @staticmethod
    def _count_packets(
        session: Session, packets: list[SealedPacket], *, resent: str | None = None
    ) -> None:
        """Add stored ``packets`` (or one resend of a packet of station ``resent``) to their
        stations' running totals, in the caller's transaction: one statement per station, in
        station id order (so two workers' transactions never wait on each other in a cycle)."""
        per_station: dict[str, list[SealedPacket]] = {}
        for packet in packets:
            per_station.setdefault(packet.station_id, []).append(packet)
        if resent is not None:
            per_station.setdefault(resent, [])
        for station_id in sorted(per_station):
            mine = per_station[station_id]
            statement = upsert(
                session,
                StationPacketCount,
                {
                    "station_id": station_id,
                    "packets": len(mine),
                    "bytes": sum(len(p.sealed) for p in mine),
                    "last_seq": max((p.header.seq for p in mine), default=0),
                    "resends": 0 if mine else 1,
                },
            )
            table, new = StationPacketCount.__table__.c, statement.excluded
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["station_id"],
                    set_={
                        "packets": table.packets + new.packets,
                        "bytes": table.bytes + new.bytes,
                        "last_seq": case(
                            (new.last_seq > table.last_seq, new.last_seq), else_=table.last_seq
                        ),
                        "resends": table.resends + new.resends,
                    },
                )
            )

    def _count_stored(self, packet: SealedPacket) -> None:
        with self._lock:
            self.counters.stored += 1
        self.metrics.packets_stored.inc()
        log.info(
            "stored packet %s from %s (seq %d, %d bytes)",
            packet.header.packet_id,
            packet.header.station_id,
            packet.header.seq,
            len(packet.sealed),
        )

    def _already_stored(self, session: Session, stored: Packet, chunk: WireChunk) -> Receipt | None:
        header = chunk.header
        if stored.sha256 != header.sealed_sha256 or stored.station_id != header.station_id:
            self._reject(
                header.station_id,
                header.packet_id,
                "conflict",
                "packet id already stored with other content",
                session,
            )
            return self._receipt(chunk, "rejected", "packet id already used for other content")
        now = self._clock()
        with self._lock:
            last = self._last_dup_receipt.get(header.packet_id)
            if last is not None and now - last < self._dup_interval:
                session.rollback()
                return None
            self._last_dup_receipt[header.packet_id] = now
            self.counters.duplicates += 1
        self.metrics.duplicates.inc()
        stored.resends = Packet.resends + 1  # in SQL: concurrent resends all count
        self._count_packets(session, [], resent=stored.station_id)
        session.commit()
        log.info(
            "packet %s from %s was already stored: acknowledged again",
            header.packet_id,
            header.station_id,
        )
        return self._receipt(chunk, "duplicate")

    def drop_stale_chunks(self, older_than: timedelta) -> int:
        """Chunks of packets whose upload never finished (the station resends them anyway)."""
        with self._sessions() as session:
            result = session.execute(
                delete(PacketChunk).where(PacketChunk.received_at < utcnow() - older_than)
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]
