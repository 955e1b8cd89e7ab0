"""/api/v1/fleet/health and /api/v1/stations/{id}/health: liveness, latest health, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.deps import Context, ReadSession, Viewer
from fleet.api.health_schemas import (
    FleetHealth,
    HealthHistory,
    HealthPointPublic,
    StationHealthPublic,
    fleet_health,
)
from fleet.api.schemas import errors
from fleet.context import FleetContext
from fleet.health import history, reads
from fleet.store.models import Station
from fleet.store.ops_models import Alert, StationLiveness

# A date and time with a zone (Z or ±hh:mm), as the OpenAPI document says.
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)$"

router = APIRouter(tags=["health"], responses=errors(400, 401, 403, 404))
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no station heartbeat is older or newer
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _every_station_health(session: Session, now: datetime) -> list[StationHealthPublic]:
    return [StationHealthPublic.of(h) for h in reads.all_station_health(session, now=now)]


def every_station_health(session: Session, context: FleetContext) -> list[StationHealthPublic]:
    """Every station's latest health, for the dashboard's overview (its map and the stations
    that need attention): live, or for a large fleet as of a few seconds ago
    (fleet/fleet_view.py)."""
    view = context.view("station-health", _every_station_health)
    return view.get(session, context.ops.clock())


@router.get("/fleet/health", response_model=FleetHealth)
def get_fleet_health(session: ReadSession, context: Context, caller: Viewer) -> FleetHealth:
    """Fleet-wide: stations by state, queue totals and the oldest backlog, extremes, alerts."""
    now = context.ops.clock()
    active = list(session.scalars(select(Alert).where(Alert.cleared_at.is_(None))))
    return fleet_health(now, reads.fleet_numbers(session, now=now), active)


@router.get("/fleet/health/stations", response_model=list[StationHealthPublic])
def list_station_health(
    session: ReadSession,
    context: Context,
    caller: Viewer,
    state: reads.HealthState | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> list[StationHealthPublic]:
    """The latest health of the stations (optionally only those in one state), in station id
    order, a page at a time (``limit``, ``offset``)."""
    rows = reads.all_station_health(
        session, now=context.ops.clock(), state=state, limit=limit, offset=offset
    )
    return [StationHealthPublic.of(h) for h in rows]


@router.get("/stations/{station_id}/health", response_model=StationHealthPublic)
def get_station_health(
    station_id: str, session: ReadSession, context: Context, caller: Viewer
) -> StationHealthPublic:
    station = session.get(Station, station_id)
    if station is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    liveness = session.get(StationLiveness, station_id)
    return StationHealthPublic.of(reads.station_health(station, liveness, now=context.ops.clock()))


@router.get("/stations/{station_id}/health/history", response_model=HealthHistory)
def get_station_health_history(
    station_id: str,
    session: ReadSession,
    context: Context,
    caller: Viewer,
    since: Annotated[
        str | None,
        Query(pattern=RFC3339, description="RFC 3339 time; default: 24 hours before until"),
    ] = None,
    until: Annotated[
        str | None, Query(pattern=RFC3339, description="RFC 3339 time; default: now")
    ] = None,
    resolution: Annotated[
        Literal["auto", "raw", "5m", "1h"],
        Query(description="auto: raw up to 24 h, 5-minute buckets up to 14 days, hours beyond"),
    ] = "auto",
) -> HealthHistory:
    if session.get(Station, station_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    try:
        end = _aware(datetime.fromisoformat(until)) if until else context.ops.clock()
        start = _aware(datetime.fromisoformat(since)) if since else end - timedelta(hours=24)
    except (OverflowError, ValueError):
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST, "since and until must be real UTC times"
        ) from None
    start, end = max(start, EARLIEST), min(end, LATEST)
    if start >= end:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "since must be before until")
    chosen = history.choose_resolution(start, end) if resolution == "auto" else resolution
    points = history.history(session, station_id, since=start, until=end, resolution=chosen)
    return HealthHistory(
        station_id=station_id,
        since=start,
        until=end,
        resolution=chosen,
        points=[HealthPointPublic.of(p) for p in points],
    )
