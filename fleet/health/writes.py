"""Recording station health: each heartbeat as a sample and the station's latest health, and
liveness from heartbeats, the retained status and the missed-heartbeat check."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.ops_settings import HealthSettings
from fleet.store.locking import locked, locked_or_created, replace
from fleet.store.models import Station
from fleet.store.ops_models import HealthSample, StationLatestHealth, StationLiveness
from protocol.messages import Heartbeat, StationStatus

log = logging.getLogger(__name__)

FAULTY_SENSOR_STATES = frozenset({"missing", "error"})


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
