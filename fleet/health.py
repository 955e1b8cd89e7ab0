"""Station health: heartbeats as a time series, liveness, and the views built on them.

- Every heartbeat becomes a row of ``health_samples`` (kept ``raw_retention_days``, 7 by
  default). A periodic job folds them into 5-minute and then hourly ``health_rollups`` (kept 90
  days and 2 years) and deletes what is past its retention.
- Liveness: the broker's retained status (the station's last will says ``offline``) and a
  missed-heartbeat timeout: each heartbeat sets ``expected_by`` = now + 1.5 x the station's
  heartbeat interval; the periodic check marks a station whose heartbeat is overdue offline
  (``heartbeat-timeout``), so a station that hangs without dropping its connection is caught.

Every function takes ``now`` (an aware UTC datetime) from the caller's clock, so tests drive
time by hand.
"""

from __future__ import annotations

import json
import logging
import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from fleet.ops_settings import HealthSettings
from fleet.store.locking import locked, locked_or_created, replace
from fleet.store.models import Station
from fleet.store.ops_models import (
    HealthRollup,
    HealthSample,
    OpsWatermark,
    StationLatestHealth,
    StationLiveness,
)
from protocol.messages import Heartbeat, StationStatus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Resolution = Literal["raw", "5m", "1h"]
RESOLUTION_S: dict[Resolution, int] = {"raw": 0, "5m": 300, "1h": 3600}
FAULTY_SENSOR_STATES = frozenset({"missing", "error"})
ROLLUP_GRACE = timedelta(seconds=15)  # heartbeats still being committed when a bucket closes
MAX_ROLLUP_WINDOW = timedelta(days=1)  # per call: bounded memory however far behind we are


# -- recording ---------------------------------------------------------------------------------


def sample_of(station_id: str, heartbeat: Heartbeat, at: datetime) -> HealthSample:
    queue, disk, env = heartbeat.queue, heartbeat.disk, heartbeat.environment
    sensors = {s.kind: s.state for s in heartbeat.sensors}
    captures = heartbeat.captures
    return HealthSample(
        station_id=station_id,
        at=at,
        queue_pending=queue.pending + queue.sending,
        queue_pending_bytes=queue.pending_bytes,
        oldest_pending_age_s=queue.oldest_pending_age_s,
        disk_free_pct=(
            round(100.0 * disk.free_bytes / disk.total_bytes, 2) if disk.total_bytes else None
        ),
        cpu_temperature_c=heartbeat.cpu_temperature_c,
        battery_v=env.battery_v if env else None,
        external_power=env.external_power if env else None,
        temperature_c=env.temperature_c if env else None,
        humidity_pct=env.humidity_pct if env else None,
        latitude=env.latitude if env else None,
        longitude=env.longitude if env else None,
        sensors_faulty=sum(1 for state in sensors.values() if state in FAULTY_SENSOR_STATES),
        sensors=json.dumps(sensors, sort_keys=True),
        enrolments_completed=captures.enrolments_completed if captures else None,
        attempts_ok=captures.attempts_ok if captures else None,
        attempts_failed=captures.attempts_failed if captures else None,
        sensor_errors=captures.sensor_errors if captures else None,
        agent_starts=heartbeat.agent_starts,
    )


def record_heartbeat(
    session: Session,
    station_id: str,
    heartbeat: Heartbeat,
    *,
    now: datetime,
    settings: HealthSettings,
    configured_interval_s: float | None = None,
) -> StationLiveness:
    """Store the sample and the station's latest health, and mark the station online until
    1.5 intervals from now (caller commits). The interval: what the heartbeat says, else the
    station's configuration."""
    session.add(sample_of(station_id, heartbeat, now))
    interval = (
        heartbeat.interval_s or configured_interval_s or settings.default_heartbeat_interval_s
    )
    liveness, created = locked_or_created(
        session,
        StationLiveness,
        station_id,
        {
            "station_id": station_id,
            "state": "online",
            "reason": "heartbeat",
            "since": now,
            "heartbeat_interval_s": interval,
        },
    )
    if not created and liveness.state != "online":
        log.info("station %s is back (heartbeat after %s)", station_id, liveness.reason)
        liveness.state, liveness.reason, liveness.since = "online", "heartbeat", now
    liveness.last_heartbeat_at = now
    liveness.heartbeat_interval_s = interval
    liveness.expected_by = now + timedelta(seconds=settings.timeout_factor * interval)
    replace(session, StationLatestHealth, latest_of(station_id, heartbeat, now))  # after liveness
    return liveness


def latest_of(station_id: str, heartbeat: Heartbeat, at: datetime) -> dict[str, Any]:
    """The row of ``station_latest_health`` for this heartbeat."""
    queue, env = heartbeat.queue, heartbeat.environment
    return {
        "station_id": station_id,
        "at": at,
        "waiting": queue.pending + queue.sending,
        "waiting_bytes": queue.pending_bytes,
        "oldest_pending_since": (
            None
            if queue.oldest_pending_age_s is None
            else at - timedelta(seconds=queue.oldest_pending_age_s)
        ),
        "disk_used_pct": disk_used_pct(heartbeat),
        "cpu_temperature_c": heartbeat.cpu_temperature_c,
        "battery_v": env.battery_v if env else None,
        "external_power": env.external_power if env else None,
        "sensors_faulty": sum(1 for s in heartbeat.sensors if s.state in FAULTY_SENSOR_STATES),
        "tamper_latched": env.tamper_latched if env else None,
    }


def disk_used_pct(heartbeat: Heartbeat) -> float | None:
    disk = heartbeat.disk
    if not disk.total_bytes:
        return None
    return round(100.0 * (1 - disk.free_bytes / disk.total_bytes), 2)


def record_status(
    session: Session,
    station_id: str,
    status: StationStatus,
    *,
    now: datetime,
    settings: HealthSettings,
) -> None:
    """The retained status (online on connect, offline as last will or on a clean stop)."""
    liveness, _ = locked_or_created(
        session,
        StationLiveness,
        station_id,
        {
            "station_id": station_id,
            "state": status.state,
            "reason": "status",
            "since": now,
            "heartbeat_interval_s": settings.default_heartbeat_interval_s,
        },
    )
    interval = liveness.heartbeat_interval_s
    said_at = _parse_time(status.at)
    if status.state == "online":
        if liveness.state != "online":
            if said_at is not None and said_at <= liveness.since:
                # The retained "online" of a connection that went silent since (the fleet
                # reconnected and got it again): heartbeats decide, not this.
                return
            liveness.state, liveness.reason, liveness.since = "online", "status", now
        # No heartbeat within the timeout after "online" is a hung station too.
        liveness.expected_by = now + timedelta(seconds=settings.timeout_factor * interval)
    else:
        if liveness.state != "offline":
            liveness.since = now  # a retained offline seen again keeps its time
        liveness.state = "offline"
        liveness.reason = status.reason or "last will"
        liveness.expected_by = None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_timeouts(session: Session, *, now: datetime) -> list[str]:
    """Mark stations whose heartbeat is overdue offline (caller commits); returns their ids.

    Each candidate is locked station row first, then liveness (the order ingest uses) and
    checked again: a heartbeat committed in between keeps the station online."""
    candidates = session.scalars(
        select(StationLiveness.station_id)
        .where(StationLiveness.state == "online", StationLiveness.expected_by < now)
        .order_by(StationLiveness.station_id)
    ).all()
    overdue = []
    for station_id in candidates:
        station = locked(session, Station, station_id)
        liveness = locked(session, StationLiveness, station_id)
        if liveness is None or liveness.state != "online":
            continue
        if liveness.expected_by is None or liveness.expected_by >= now:
            continue
        overdue.append(liveness)
        liveness.state = "offline"
        liveness.reason = "heartbeat-timeout"
        liveness.since = liveness.last_heartbeat_at or liveness.expected_by or now
        liveness.expected_by = None
        if station is not None:
            station.online = False
        log.warning(
            "station %s missed its heartbeats (interval %.0f s): marked offline",
            liveness.station_id,
            liveness.heartbeat_interval_s,
        )
    return [liveness.station_id for liveness in overdue]


# -- downsampling and retention ----------------------------------------------------------------


def _floor(moment: datetime, seconds: int) -> datetime:
    epoch = math.floor(moment.timestamp() / seconds) * seconds
    return datetime.fromtimestamp(epoch, UTC)


def _watermark(session: Session, name: str) -> OpsWatermark | None:
    return session.get(OpsWatermark, name)


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 3) if present else None


def _weighted(pairs: Iterable[tuple[float | None, int]]) -> float | None:
    present = [(v, w) for v, w in pairs if v is not None and w > 0]
    weight = sum(w for _, w in present)
    return round(sum(v * w for v, w in present) / weight, 3) if weight else None


def _min(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _max(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _last_position(
    rows: Sequence[tuple[float | None, float | None]],
) -> tuple[float | None, float | None]:
    for latitude, longitude in reversed(rows):
        if latitude is not None and longitude is not None:
            return latitude, longitude
    return None, None


def _rollup_samples(
    station_id: str, bucket: datetime, rows: Sequence[HealthSample]
) -> HealthRollup:
    latitude, longitude = _last_position([(r.latitude, r.longitude) for r in rows])
    return HealthRollup(
        station_id=station_id,
        resolution_s=300,
        bucket_start=bucket,
        samples=len(rows),
        queue_pending_avg=round(sum(r.queue_pending for r in rows) / len(rows), 3),
        queue_pending_max=max(r.queue_pending for r in rows),
        oldest_pending_age_max_s=_max(r.oldest_pending_age_s for r in rows),
        disk_free_pct_min=_min(r.disk_free_pct for r in rows),
        cpu_temperature_avg_c=_mean(r.cpu_temperature_c for r in rows),
        cpu_temperature_max_c=_max(r.cpu_temperature_c for r in rows),
        battery_v_min=_min(r.battery_v for r in rows),
        temperature_avg_c=_mean(r.temperature_c for r in rows),
        humidity_avg_pct=_mean(r.humidity_pct for r in rows),
        latitude=latitude,
        longitude=longitude,
        sensor_fault_samples=sum(1 for r in rows if r.sensors_faulty),
    )


def _rollup_rollups(
    station_id: str, bucket: datetime, rows: Sequence[HealthRollup]
) -> HealthRollup:
    latitude, longitude = _last_position([(r.latitude, r.longitude) for r in rows])
    samples = sum(r.samples for r in rows)
    return HealthRollup(
        station_id=station_id,
        resolution_s=3600,
        bucket_start=bucket,
        samples=samples,
        queue_pending_avg=_weighted((r.queue_pending_avg, r.samples) for r in rows) or 0.0,
        queue_pending_max=max(r.queue_pending_max for r in rows),
        oldest_pending_age_max_s=_max(r.oldest_pending_age_max_s for r in rows),
        disk_free_pct_min=_min(r.disk_free_pct_min for r in rows),
        cpu_temperature_avg_c=_weighted((r.cpu_temperature_avg_c, r.samples) for r in rows),
        cpu_temperature_max_c=_max(r.cpu_temperature_max_c for r in rows),
        battery_v_min=_min(r.battery_v_min for r in rows),
        temperature_avg_c=_weighted((r.temperature_avg_c, r.samples) for r in rows),
        humidity_avg_pct=_weighted((r.humidity_avg_pct, r.samples) for r in rows),
        latitude=latitude,
        longitude=longitude,
        sensor_fault_samples=sum(r.sensor_fault_samples for r in rows),
    )


def roll_up(session: Session, *, now: datetime) -> int:
    """Fold closed 5-minute buckets of samples, then closed hours of 5-minute rollups.

    Idempotent and resumable: a watermark per resolution records how far it got; buckets are
    replaced, never added twice. Returns the number of rollups written. Caller commits.
    """
    written = 0
    # 5-minute buckets from raw samples.
    mark = _watermark(session, "rollup-300")
    start = mark.until if mark else _first_bucket(session, select(func.min(HealthSample.at)), 300)
    if start is not None:
        end = min(_floor(now - ROLLUP_GRACE, 300), start + MAX_ROLLUP_WINDOW)
        if end > start:
            rows = session.scalars(
                select(HealthSample)
                .where(HealthSample.at >= start, HealthSample.at < end)
                .order_by(HealthSample.station_id, HealthSample.at)
            ).all()
            groups: dict[tuple[str, datetime], list[HealthSample]] = defaultdict(list)
            for row in rows:
                groups[(row.station_id, _floor(row.at, 300))].append(row)
            for (station_id, bucket), members in groups.items():
                session.merge(_rollup_samples(station_id, bucket, members))
                written += 1
            _set_watermark(session, "rollup-300", mark, end)
    # Hours from 5-minute rollups, up to where those are complete.
    done_300 = _watermark(session, "rollup-300")
    if done_300 is None:
        return written
    mark = _watermark(session, "rollup-3600")
    first_five = select(func.min(HealthRollup.bucket_start)).where(HealthRollup.resolution_s == 300)
    start = mark.until if mark else _first_bucket(session, first_five, 3600)
    if start is None:
        return written
    end = min(_floor(done_300.until, 3600), start + MAX_ROLLUP_WINDOW)
    if end <= start:
        return written
    fives = session.scalars(
        select(HealthRollup)
        .where(
            HealthRollup.resolution_s == 300,
            HealthRollup.bucket_start >= start,
            HealthRollup.bucket_start < end,
        )
        .order_by(HealthRollup.station_id, HealthRollup.bucket_start)
    ).all()
    hours: dict[tuple[str, datetime], list[HealthRollup]] = defaultdict(list)
    for five in fives:
        hours[(five.station_id, _floor(five.bucket_start, 3600))].append(five)
    for (station_id, bucket), hour in hours.items():
        session.merge(_rollup_rollups(station_id, bucket, hour))
        written += 1
    _set_watermark(session, "rollup-3600", mark, end)
    return written


def _first_bucket(session: Session, query: Select[Any], seconds: int) -> datetime | None:
    first: datetime | None = session.scalar(query)
    return None if first is None else _floor(first, seconds)


def _set_watermark(session: Session, name: str, mark: OpsWatermark | None, until: datetime) -> None:
    if mark is None:
        session.add(OpsWatermark(name=name, until=until))
    else:
        mark.until = until
    session.flush()


def apply_retention(session: Session, *, now: datetime, settings: HealthSettings) -> int:
    """Delete samples and rollups past their retention (caller commits). Returns rows deleted."""
    deleted = 0
    for statement in (
        delete(HealthSample).where(
            HealthSample.at < now - timedelta(days=settings.raw_retention_days)
        ),
        delete(HealthRollup).where(
            HealthRollup.resolution_s == 300,
            HealthRollup.bucket_start < now - timedelta(days=settings.rollup_5m_retention_days),
        ),
        delete(HealthRollup).where(
            HealthRollup.resolution_s == 3600,
            HealthRollup.bucket_start < now - timedelta(days=settings.rollup_1h_retention_days),
        ),
    ):
        result = session.execute(statement)
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
    return deleted


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthPoint:
    """One point of a station's health history (a sample, or a bucket's aggregate)."""

    at: datetime
    samples: int
    queue_pending: float
    queue_pending_max: int
    oldest_pending_age_s: float | None
    disk_free_pct: float | None
    cpu_temperature_c: float | None
    cpu_temperature_max_c: float | None
    battery_v: float | None
    temperature_c: float | None
    humidity_pct: float | None
    latitude: float | None
    longitude: float | None
    sensor_faults: int


def choose_resolution(since: datetime, until: datetime) -> Resolution:
    """Raw up to a day (2,880 points at 30 s), 5-minute buckets up to 14 days, hours beyond."""
    span = until - since
    if span <= timedelta(hours=24):
        return "raw"
    if span <= timedelta(days=14):
        return "5m"
    return "1h"


MAX_POINTS = 5000


def history(
    session: Session,
    station_id: str,
    *,
    since: datetime,
    until: datetime,
    resolution: Resolution,
) -> list[HealthPoint]:
    if resolution == "raw":
        samples = session.scalars(
            select(HealthSample)
            .where(
                HealthSample.station_id == station_id,
                HealthSample.at >= since,
                HealthSample.at < until,
            )
            .order_by(HealthSample.at)
            .limit(MAX_POINTS)
        ).all()
        return [
            HealthPoint(
                at=s.at,
                samples=1,
                queue_pending=s.queue_pending,
                queue_pending_max=s.queue_pending,
                oldest_pending_age_s=s.oldest_pending_age_s,
                disk_free_pct=s.disk_free_pct,
                cpu_temperature_c=s.cpu_temperature_c,
                cpu_temperature_max_c=s.cpu_temperature_c,
                battery_v=s.battery_v,
                temperature_c=s.temperature_c,
                humidity_pct=s.humidity_pct,
                latitude=s.latitude,
                longitude=s.longitude,
                sensor_faults=1 if s.sensors_faulty else 0,
            )
            for s in samples
        ]
    rollups = session.scalars(
        select(HealthRollup)
        .where(
            HealthRollup.station_id == station_id,
            HealthRollup.resolution_s == RESOLUTION_S[resolution],
            HealthRollup.bucket_start >= _floor(since, RESOLUTION_S[resolution]),
            HealthRollup.bucket_start < until,
        )
        .order_by(HealthRollup.bucket_start)
        .limit(MAX_POINTS)
    ).all()
    return [
        HealthPoint(
            at=r.bucket_start,
            samples=r.samples,
            queue_pending=r.queue_pending_avg,
            queue_pending_max=r.queue_pending_max,
            oldest_pending_age_s=r.oldest_pending_age_max_s,
            disk_free_pct=r.disk_free_pct_min,
            cpu_temperature_c=r.cpu_temperature_avg_c,
            cpu_temperature_max_c=r.cpu_temperature_max_c,
            battery_v=r.battery_v_min,
            temperature_c=r.temperature_avg_c,
            humidity_pct=r.humidity_avg_pct,
            latitude=r.latitude,
            longitude=r.longitude,
            sensor_faults=r.sensor_fault_samples,
        )
        for r in rollups
    ]


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
