"""/api/v1/summary, /api/v1/rejections and /api/v1/health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import case, func, select

from fleet.api.deps import DbSession, Viewer
from fleet.api.schemas import RejectionPublic, StationCount, Summary, errors
from fleet.store.models import Packet, Rejection, Station
from fleet.version import software_version

router = APIRouter(tags=["overview"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: answers when the service runs (no authentication)."""
    return Health(status="ok", version=software_version())


@router.get("/summary", response_model=Summary, responses=errors(401, 403))
def summary(caller: Viewer, session: DbSession) -> Summary:
    stations, online = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Station.online, 1), else_=0)), 0))
    ).one()
    packets, total_bytes, resends = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(Packet.size), 0),
            func.coalesce(func.sum(Packet.resends), 0),
        )
    ).one()
    rejections = session.scalar(select(func.count()).select_from(Rejection)) or 0
    per_station = [
        StationCount(station_id=sid, packets=n, last_seq=last or 0)
        for sid, n, last in session.execute(
            select(Packet.station_id, func.count(), func.max(Packet.seq))
            .group_by(Packet.station_id)
            .order_by(Packet.station_id)
        )
    ]
    return Summary(
        stations=stations,
        stations_online=online,
        packets=packets,
        packet_bytes=total_bytes,
        resends_acknowledged=resends,
        rejections=rejections,
        per_station=per_station,
    )


@router.get("/rejections", response_model=list[RejectionPublic], responses=errors(401, 403))
def rejections(
    caller: Viewer, session: DbSession, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RejectionPublic]:
    rows = session.scalars(select(Rejection).order_by(Rejection.id.desc()).limit(limit)).all()
    return [RejectionPublic.model_validate(r, from_attributes=True) for r in rows]
