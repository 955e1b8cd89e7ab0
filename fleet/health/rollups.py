"""Downsampling and retention: closed 5-minute buckets of samples and closed hours of
5-minute rollups, each resumable from a watermark; rows past their retention deleted."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

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
    written = _fold(
        session,
        "rollup-300",
        300,
        first=select(func.min(HealthSample.at)),
        until=now - ROLLUP_GRACE,
        rows=lambda start, end: session.scalars(
            select(HealthSample)
            .where(HealthSample.at >= start, HealthSample.at < end)
            .order_by(HealthSample.station_id, HealthSample.at)
        ).all(),
        at=lambda sample: sample.at,
        fold=_rollup_samples,
    )
    # Hours from 5-minute rollups, up to where those are complete.
    done_300 = _watermark(session, "rollup-300")
    if done_300 is None:
        return written
    return written + _fold(
        session,
        "rollup-3600",
        3600,
        first=select(func.min(HealthRollup.bucket_start)).where(HealthRollup.resolution_s == 300),
        until=done_300.until,
        rows=lambda start, end: session.scalars(
            select(HealthRollup)
            .where(
                HealthRollup.resolution_s == 300,
                HealthRollup.bucket_start >= start,
                HealthRollup.bucket_start < end,
            )
            .order_by(HealthRollup.station_id, HealthRollup.bucket_start)
        ).all(),
        at=lambda five: five.bucket_start,
        fold=_rollup_rollups,
    )


Row = TypeVar("Row", HealthSample, HealthRollup)


def _fold(
    session: Session,
    name: str,
    seconds: int,
    *,
    first: Select[Any],
    until: datetime,
    rows: Callable[[datetime, datetime], Sequence[Row]],
    at: Callable[[Row], datetime],
    fold: Callable[[str, datetime, Sequence[Row]], HealthRollup],
) -> int:
    """One resolution: the closed buckets of ``seconds`` from the watermark ``name`` (else the
    ``first`` row) up to ``until`` (a day's worth at most), each station's ``rows`` of a bucket
    folded into one rollup. Returns the number written."""
    mark = _watermark(session, name)
    start = mark.until if mark else _first_bucket(session, first, seconds)
    if start is None:
        return 0
    end = min(floor_to(until, seconds), start + MAX_ROLLUP_WINDOW)
    if end <= start:
        return 0
    groups: dict[tuple[str, datetime], list[Row]] = defaultdict(list)
    for row in rows(start, end):
        groups[(row.station_id, floor_to(at(row), seconds))].append(row)
    for (station_id, bucket), members in groups.items():
        session.merge(fold(station_id, bucket, members))
    _set_watermark(session, name, mark, end)
    return len(groups)


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
