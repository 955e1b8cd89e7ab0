"""The fleet's totals: stations, packets, bytes, resends, rejections; packets per station."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from fleet.api.schemas import RejectionPublic, StationCount, Summary
from fleet.store.models import Rejection, Station, StationPacketCount


def summary(
    session: Session, *, per_station_limit: int = 100, per_station_offset: int = 0
) -> Summary:
    """Fleet totals, and the packets of a page of the stations in station id order (those of
    the page that have packets)."""
    stations, online = session.execute(
        select(func.count(), func.coalesce(func.sum(case((Station.online, 1), else_=0)), 0))
    ).one()
    counts = StationPacketCount
    packets, total_bytes, resends = session.execute(
        select(
            func.coalesce(func.sum(counts.packets), 0),
            func.coalesce(func.sum(counts.bytes), 0),
            func.coalesce(func.sum(counts.resends), 0),
        )
    ).one()
    rejections = session.scalar(select(func.count()).select_from(Rejection)) or 0
    page = (
        select(Station.station_id)
        .order_by(Station.station_id)
        .limit(per_station_limit)
        .offset(per_station_offset)
        .scalar_subquery()
    )
    per_station = [
        StationCount(station_id=sid, packets=n, last_seq=last)
        for sid, n, last in session.execute(
            select(counts.station_id, counts.packets, counts.last_seq)
            .where(counts.station_id.in_(page), counts.packets > 0)
            .order_by(counts.station_id)
        )
    ]
    return Summary(
        stations=stations,
        stations_online=online,
        packets=int(packets),
        packet_bytes=int(total_bytes),
        resends_acknowledged=int(resends),
        rejections=rejections,
        per_station=per_station,
    )


def rejections(session: Session, *, limit: int = 100) -> list[RejectionPublic]:
    """What ingest refused, newest first."""
    rows = session.scalars(select(Rejection).order_by(Rejection.id.desc()).limit(limit)).all()
    return [RejectionPublic.model_validate(r, from_attributes=True) for r in rows]
