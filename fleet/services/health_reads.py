"""Health reads: the fleet's numbers, each station's latest health, a station's history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.health_schemas import (
    FleetHealth,
    HealthHistory,
    HealthPointPublic,
    StationHealthPublic,
    fleet_health,
)
from fleet.context import FleetContext
from fleet.errors import BadRequestError
from fleet.health import history as series
from fleet.health import reads
from fleet.services.stations import registry_view, station_row
from fleet.store.ops_models import Alert, StationLiveness

log = logging.getLogger(__name__)
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no station heartbeat is older or newer
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _every_station_health(session: Session, now: datetime) -> list[StationHealthPublic]:
    return [StationHealthPublic.of(h) for h in reads.all_station_health(session, now=now)]


def every_station_health(session: Session, context: FleetContext) -> list[StationHealthPublic]:
    """Every station's latest health, for the dashboard's overview (its map and the stations
    that need attention): live, or for a large fleet as of a few seconds ago
    (fleet/fleet_view.py)."""
    view = context.view("station-health", _every_station_health)
    return view.get(session, context.ops.clock())


def fleet_numbers(session: Session, context: FleetContext) -> FleetHealth:
    """Fleet-wide: stations by state, queue totals and the oldest backlog, extremes, alerts."""
    now = context.ops.clock()
    active = list(session.scalars(select(Alert).where(Alert.cleared_at.is_(None))))
    return fleet_health(now, reads.fleet_numbers(session, now=now), active)


def list_station_health(
    session: Session,
    context: FleetContext,
    *,
    state: reads.HealthState | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[StationHealthPublic]:
    rows = reads.all_station_health(
        session, now=context.ops.clock(), state=state, limit=limit, offset=offset
    )
    return [StationHealthPublic.of(h) for h in rows]


def station_health(session: Session, context: FleetContext, station_id: str) -> StationHealthPublic:
    station = station_row(session, station_id)
    liveness = session.get(StationLiveness, station_id)
    return StationHealthPublic.of(reads.station_health(station, liveness, now=context.ops.clock()))


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def history(
    session: Session,
    context: FleetContext,
    station_id: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    resolution: series.Resolution | None = None,
) -> HealthHistory:
    """From ``since`` (24 hours before ``until``) to ``until`` (now); ``resolution`` None
    chooses: raw up to 24 h, 5-minute buckets up to 14 days, hours beyond."""
    station_row(session, station_id)
    try:
        end = _aware(until) if until else context.ops.clock()
        start = _aware(since) if since else end - timedelta(hours=24)
    except OverflowError:
        raise BadRequestError("since and until must be real UTC times") from None
    start, end = max(start, EARLIEST), min(end, LATEST)
    if start >= end:
        raise BadRequestError("since must be before until")
    chosen = series.choose_resolution(start, end) if resolution is None else resolution
    points = series.history(session, station_id, since=start, until=end, resolution=chosen)
    return HealthHistory(
        station_id=station_id,
        since=start,
        until=end,
        resolution=chosen,
        points=[HealthPointPublic.of(p) for p in points],
    )


def warm_fleet_views(context: FleetContext) -> None:
    """Build the overview's fleet-wide views once at start-up, so that the first admin of a
    large fleet does not wait for them (fleet/fleet_view.py)."""
    try:
        with context.sessions() as session:
            every_station_health(session, context)
            registry_view(session, context)
    except Exception:
        log.exception("building the fleet views at start-up failed; the first request will")
