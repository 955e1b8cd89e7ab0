"""/api/v1/packets: sealed packets received from stations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status
from sqlalchemy import select

from fleet.api.deps import Central, Context, DbSession, Viewer
from fleet.api.schemas import PacketPublic, errors
from fleet.store.models import Packet

router = APIRouter(prefix="/packets", tags=["packets"])


@router.get("", response_model=list[PacketPublic], responses=errors(401, 403))
def list_packets(
    caller: Viewer,
    session: DbSession,
    station_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    newest_first: Annotated[
        bool, Query(description="newest first (the dashboard's recent packets)")
    ] = False,
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


@router.get("/{packet_id}", response_model=PacketPublic, responses=errors(401, 403, 404))
def get_packet(packet_id: str, caller: Viewer, session: DbSession) -> PacketPublic:
    packet = session.get(Packet, packet_id)
    if packet is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no packet {packet_id}")
    return PacketPublic.of(packet)


@router.get(
    "/{packet_id}/envelope",
    response_class=Response,
    responses={
        200: {
            "content": {"application/vnd.ewp.sealed-packet": {}},
            "description": "the envelope file",
        },
        **errors(401, 403, 404),
    },
)
def get_envelope(packet_id: str, caller: Central, session: DbSession, context: Context) -> Response:
    """The sealed envelope as the station signed it (only the central system can open it).
    The central role only: it is a bulk copy of sealed biometric data, even if unreadable here."""
    packet = session.get(Packet, packet_id)
    if packet is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no packet {packet_id}")
    data = context.files.path(packet.path).read_bytes()
    return Response(data, media_type="application/vnd.ewp.sealed-packet")
