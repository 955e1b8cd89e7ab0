"""Sealed packets received from the stations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.schemas import PacketPublic
from fleet.context import FleetContext
from fleet.services.lookup import found
from fleet.store.models import Packet


def list_packets(
    session: Session,
    *,
    station_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
    newest_first: bool = False,
) -> list[PacketPublic]:
    """In arrival order; for one station (``station_id``), by its sequence numbers."""
    if station_id is None:
        order = [Packet.received_at, Packet.packet_id]
        query = select(Packet)
    else:
        order = [Packet.seq, Packet.packet_id]
        query = select(Packet).where(Packet.station_id == station_id)
    query = query.order_by(*(column.desc() for column in order) if newest_first else order)
    rows = session.scalars(query.limit(limit).offset(offset)).all()
    return [PacketPublic.of(p) for p in rows]


def packet_row(session: Session, packet_id: str) -> Packet:
    return found(session, Packet, packet_id, f"no packet {packet_id}")


def get_packet(session: Session, packet_id: str) -> PacketPublic:
    return PacketPublic.of(packet_row(session, packet_id))


def envelope(session: Session, context: FleetContext, packet_id: str) -> bytes:
    """The sealed envelope as the station signed it."""
    return context.files.path(packet_row(session, packet_id).path).read_bytes()
