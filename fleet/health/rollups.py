"""Downsampling and retention: closed 5-minute buckets of samples and closed hours of
5-minute rollups, each resumable from a watermark; rows past their retention deleted."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from fleet.ops_settings import HealthSettings
from fleet.store.ops_models import HealthRollup, HealthSample, OpsWatermark

ROLLUP_GRACE = timedelta(seconds=15)  # heartbeats still being committed when a bucket closes
MAX_ROLLUP_WINDOW = timedelta(days=1)  # per call: bounded memory however far behind we are


def floor_to(moment: datetime, seconds: int) -> datetime:
    """The start of the ``seconds``-long bucket (aligned to the epoch) holding ``moment``."""
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
        end = min(floor_to(now - ROLLUP_GRACE, 300), start + MAX_ROLLUP_WINDOW)
        if end > start:
            rows = session.scalars(
                select(HealthSample)
                .where(HealthSample.at >= start, HealthSample.at < end)
                .order_by(HealthSample.station_id, HealthSample.at)
            ).all()
            groups: dict[tuple[str, datetime], list[HealthSample]] = defaultdict(list)
            for row in rows:
                groups[(row.station_id, floor_to(row.at, 300))].append(row)
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
    end = min(floor_to(done_300.until, 3600), start + MAX_ROLLUP_WINDOW)
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
        hours[(five.station_id, floor_to(five.bucket_start, 3600))].append(five)
    for (station_id, bucket), hour in hours.items():
        session.merge(_rollup_rollups(station_id, bucket, hour))
        written += 1
    _set_watermark(session, "rollup-3600", mark, end)
    return written


def _first_bucket(session: Session, query: Select[Any], seconds: int) -> datetime | None:
    first: datetime | None = session.scalar(query)
    return None if first is None else floor_to(first, seconds)


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
