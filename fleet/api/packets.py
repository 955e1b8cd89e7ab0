"""/api/v1/packets: sealed packets received from stations (``fleet/services/packets.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from fleet.api.deps import Central, Context, DbSession, Viewer
from fleet.api.schemas import PacketPublic, errors
from fleet.services import packets

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
    return packets.list_packets(
        session, station_id=station_id, limit=limit, offset=offset, newest_first=newest_first
    )


@router.get("/{packet_id}", response_model=PacketPublic, responses=errors(401, 403, 404))
def get_packet(packet_id: str, caller: Viewer, session: DbSession) -> PacketPublic:
    return packets.get_packet(session, packet_id)


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
    data = packets.envelope(session, context, packet_id)
    return Response(data, media_type="application/vnd.ewp.sealed-packet")
