"""A station's health history: raw samples, or rollups at the resolution the time span needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.health.rollups import floor_to
from fleet.store.ops_models import HealthRollup, HealthSample

Resolution = Literal["raw", "5m", "1h"]
RESOLUTION_S: dict[Resolution, int] = {"raw": 0, "5m": 300, "1h": 3600}


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
            HealthRollup.bucket_start >= floor_to(since, RESOLUTION_S[resolution]),
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
