"""The latest health of stations and the fleet's numbers: what the API, the dashboard and the
alert rules read."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from fleet.health.writes import disk_used_pct
from fleet.store.models import Station
from fleet.store.ops_models import StationLatestHealth, StationLiveness
from protocol.messages import Heartbeat


@dataclass(frozen=True)
class StationHealth:
    """A station's latest health: liveness plus its newest heartbeat."""

    station_id: str
    kind: str
    registry_state: str
    state: str  # online | offline | never-seen | revoked
    reason: str | None
    since: datetime | None
    last_heartbeat_at: datetime | None
    heartbeat_interval_s: float | None
    expected_by: datetime | None
    heartbeat: Heartbeat | None
    backlog_age_s: float | None  # the oldest pending packet's age now (it keeps ageing)

    @property
    def disk_used_pct(self) -> float | None:
        return None if self.heartbeat is None else disk_used_pct(self.heartbeat)


def station_health(
    station: Station, liveness: StationLiveness | None, *, now: datetime
) -> StationHealth:
    heartbeat = (
        Heartbeat.model_validate_json(station.last_heartbeat) if station.last_heartbeat else None
    )
    state = _state(station.state, station.online, liveness.state if liveness else None)
    heard = (liveness.last_heartbeat_at if liveness else None) or station.last_seen_at
    backlog = _backlog(heartbeat.queue.oldest_pending_age_s if heartbeat else None, heard, now)
    return StationHealth(
        station_id=station.station_id,
        kind=station.kind,
        registry_state=station.state,
        state=state,
        reason=liveness.reason if liveness else None,
        since=liveness.since if liveness else None,
        last_heartbeat_at=(liveness.last_heartbeat_at if liveness else None)
        or station.last_seen_at,
        heartbeat_interval_s=liveness.heartbeat_interval_s if liveness else None,
        expected_by=liveness.expected_by if liveness else None,
        heartbeat=heartbeat,
        backlog_age_s=round(backlog, 1) if backlog is not None else None,
    )


def _state(registry_state: str, online: bool, liveness_state: str | None) -> str:
    if registry_state == "revoked":
        return "revoked"
    if liveness_state is None:
        return "online" if online else "never-seen"
    return liveness_state


def _backlog(oldest_age_s: float | None, heard: datetime | None, now: datetime) -> float | None:
    """The oldest waiting packet's age now: as the station said, plus the time since."""
    if oldest_age_s is None:
        return None
    if heard is None:
        return oldest_age_s
    return oldest_age_s + max(0.0, (now - heard).total_seconds())


HealthState = Literal["online", "offline", "never-seen", "revoked"]
MAX_NAMED = 2000  # stations named in one query; beyond, all are read and the rest skipped


def in_state(state: HealthState) -> ColumnElement[bool]:
    """SQL for "the station is in this state" (``_state``), over stations outer-joined with
    their liveness."""
    revoked = Station.state == "revoked"
    no_liveness = StationLiveness.station_id.is_(None)
    if state == "revoked":
        return revoked
    if state == "never-seen":
        return and_(~revoked, no_liveness, ~Station.online)
    if state == "online":
        return and_(
            ~revoked, or_(StationLiveness.state == "online", and_(no_liveness, Station.online))
        )
    return and_(~revoked, StationLiveness.state == state)


def all_station_health(
    session: Session,
    *,
    now: datetime,
    state: HealthState | None = None,
    station_ids: Collection[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[StationHealth]:
    """Stations' latest health, in station id order: all, or those in one ``state``, or those
    named; a page of them with ``limit`` and ``offset`` (not with ``station_ids``)."""
    query = (
        select(Station, StationLiveness)
        .outerjoin(StationLiveness, StationLiveness.station_id == Station.station_id)
        .order_by(Station.station_id)
    )
    if state is not None:
        query = query.where(in_state(state))
    named = None if station_ids is None else set(station_ids)
    if named is not None and len(named) <= MAX_NAMED:
        query = query.where(Station.station_id.in_(sorted(named)))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    rows = session.execute(query).all()
    return [
        station_health(station, liveness, now=now)
        for station, liveness in rows
        if named is None or station.station_id in named
    ]


@dataclass(frozen=True)
class StationGlance:
    """What the fleet-wide views and the alert rules' first pass need of a station: its
    liveness and its latest health's typed columns, without its heartbeat JSON."""

    station_id: str
    state: str
    reason: str | None
    waiting: int | None
    waiting_bytes: int | None
    backlog_age_s: float | None
    disk_used_pct: float | None
    cpu_temperature_c: float | None
    battery_v: float | None
    external_power: bool | None
    sensors_faulty: int
    tamper_latched: bool | None


def station_glances(session: Session, *, now: datetime) -> list[StationGlance]:
    """Every station, in station id order (one query, no JSON parsed)."""
    latest = StationLatestHealth
    rows = session.execute(
        select(
            Station.station_id,
            Station.state,
            Station.online,
            StationLiveness.state,
            StationLiveness.reason,
            latest.waiting,
            latest.waiting_bytes,
            latest.oldest_pending_since,
            latest.disk_used_pct,
            latest.cpu_temperature_c,
            latest.battery_v,
            latest.external_power,
            latest.sensors_faulty,
            latest.tamper_latched,
        )
        .outerjoin(StationLiveness, StationLiveness.station_id == Station.station_id)
        .outerjoin(latest, latest.station_id == Station.station_id)
        .order_by(Station.station_id)
    )
    glances = []
    for (
        station_id, registry_state, online, live_state, reason,
        waiting, waiting_bytes, since, disk_used, cpu, battery, power, faulty, tamper,
    ) in rows:  # fmt: skip
        backlog = None if since is None else max(0.0, (now - since).total_seconds())
        glances.append(
            StationGlance(
                station_id=station_id,
                state=_state(registry_state, online, live_state),
                reason=reason,
                waiting=waiting,
                waiting_bytes=waiting_bytes,
                backlog_age_s=round(backlog, 1) if backlog is not None else None,
                disk_used_pct=disk_used,
                cpu_temperature_c=cpu,
                battery_v=battery,
                external_power=power,
                sensors_faulty=faulty or 0,
                tamper_latched=tamper,
            )
        )
    return glances


@dataclass(frozen=True)
class FleetNumbers:
    """The fleet at a glance: stations by state, queue totals, extremes (station, value)."""

    by_state: dict[str, int]
    offline_by_timeout: int
    waiting_total: int
    waiting_bytes_total: int
    stations_with_backlog: int
    oldest_backlog: tuple[str, float] | None  # seconds
    lowest_disk_free_pct: tuple[str, float] | None
    hottest_cpu_c: tuple[str, float] | None
    lowest_battery_v: tuple[str, float] | None
    stations_with_sensor_faults: int
    stations_tamper_latched: int
    stations_on_battery: int


def fleet_numbers(session: Session, *, now: datetime) -> FleetNumbers:
    """Computed by the database over every station (one aggregate query, and an index
    look-up per extreme; no station's heartbeat read): the revoked stations count only in
    ``by_state``."""
    latest = StationLatestHealth
    unseen = case((Station.online, "online"), else_="never-seen")
    state = case(
        (Station.state == "revoked", "revoked"),
        (StationLiveness.station_id.is_(None), unseen),
        else_=StationLiveness.state,
    ).label("health_state")
    stations = (
        select(Station.station_id)
        .outerjoin(StationLiveness, StationLiveness.station_id == Station.station_id)
        .outerjoin(latest, latest.station_id == Station.station_id)
    )
    timed_out = and_(
        StationLiveness.state == "offline", StationLiveness.reason == "heartbeat-timeout"
    )

    def counted(condition: ColumnElement[bool]) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    extremes = (  # column, highest?
        (latest.oldest_pending_since, False),
        (latest.disk_used_pct, True),
        (latest.cpu_temperature_c, True),
        (latest.battery_v, False),
    )
    by_state: dict[str, int] = {}
    totals = [0] * 7  # (among the stations not revoked) timeouts, waiting, bytes, ...
    found: list[list[Any]] = [[] for _ in extremes]  # each state's highest or lowest
    for name, count, *values in session.execute(  # one pass: a row per state
        stations.with_only_columns(
            state,
            func.count(),
            counted(timed_out),
            func.coalesce(func.sum(latest.waiting), 0),
            func.coalesce(func.sum(latest.waiting_bytes), 0),
            counted(latest.waiting > 0),
            counted(latest.sensors_faulty > 0),
            counted(latest.tamper_latched.is_(True)),
            counted(latest.external_power.is_(False)),
            *[(func.max if highest else func.min)(column) for column, highest in extremes],
        ).group_by(state)
    ):
        by_state[name] = count
        if name == "revoked":
            continue
        totals = [t + int(v) for t, v in zip(totals, values[:7], strict=True)]
        for seen, value in zip(found, values[7:], strict=True):
            if value is not None:
                seen.append(value)
    timeouts, waiting, waiting_bytes, backlog, faulty, tamper, battery_powered = totals

    def first(column: Any, values: list[Any], *, highest: bool) -> tuple[str, Any] | None:
        """The station with that value, the first by id among equals (the column's index)."""
        if not values:
            return None
        value = max(values) if highest else min(values)
        station = session.scalar(
            select(func.min(Station.station_id))
            .join(latest, latest.station_id == Station.station_id)
            .where(Station.state != "revoked", column == value)
        )
        return None if station is None else (station, value)

    oldest, fullest, hottest, lowest_battery = (
        first(column, values, highest=highest)
        for (column, highest), values in zip(extremes, found, strict=True)
    )
    return FleetNumbers(
        by_state=by_state,
        offline_by_timeout=timeouts or 0,
        waiting_total=int(waiting),
        waiting_bytes_total=int(waiting_bytes),
        stations_with_backlog=int(backlog),
        oldest_backlog=(
            None
            if oldest is None
            else (oldest[0], round(max(0.0, (now - oldest[1]).total_seconds()), 1))
        ),
        lowest_disk_free_pct=None if fullest is None else (fullest[0], round(100 - fullest[1], 2)),
        hottest_cpu_c=hottest,
        lowest_battery_v=lowest_battery,
        stations_with_sensor_faults=int(faulty),
        stations_tamper_latched=int(tamper),
        stations_on_battery=int(battery_powered),
    )
