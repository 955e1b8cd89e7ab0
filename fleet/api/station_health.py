"""/api/v1/fleet/health and /api/v1/stations/{id}/health: liveness, latest health, history
(``fleet/services/health_reads.py``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from fleet.api.deps import Context, ReadSession, Viewer
from fleet.api.health_schemas import FleetHealth, HealthHistory, StationHealthPublic
from fleet.api.schemas import errors
from fleet.errors import BadRequestError
from fleet.health import reads
from fleet.services import health_reads

# A date and time with a zone (Z or ±hh:mm), as the OpenAPI document says.
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d:\d\d)$"

router = APIRouter(tags=["health"], responses=errors(400, 401, 403, 404))


@router.get("/fleet/health", response_model=FleetHealth)
def get_fleet_health(session: ReadSession, context: Context, caller: Viewer) -> FleetHealth:
    """Fleet-wide: stations by state, queue totals and the oldest backlog, extremes, alerts."""
    return health_reads.fleet_numbers(session, context)


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
    return health_reads.list_station_health(
        session, context, state=state, limit=limit, offset=offset
    )


@router.get("/stations/{station_id}/health", response_model=StationHealthPublic)
def get_station_health(
    station_id: str, session: ReadSession, context: Context, caller: Viewer
) -> StationHealthPublic:
    return health_reads.station_health(session, context, station_id)


def _moment(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except (OverflowError, ValueError):
        raise BadRequestError("since and until must be real UTC times") from None


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
    return health_reads.history(
        session,
        context,
        station_id,
        since=_moment(since),
        until=_moment(until),
        resolution=None if resolution == "auto" else resolution,
    )
