"""The soak check: are the stations a phase updated as healthy as the stations not updated yet?

Every measure comes from the heartbeats the fleet already stores (``health_samples``): for
each station, over the soak period,

- ``captures_per_hour``: enrolments completed (higher is better);
- ``capture_failure_rate``: failed capture attempts / all attempts;
- ``upload_backlog``: packets waiting at the station, on average;
- ``restarts_per_hour``: agent starts (the counter the agent keeps on disk);
- ``sensor_errors_per_hour``: driver errors from any sensor.

The capture counters count since the agent started: a value lower than the one before means a
restart, and the increase is then the new value. A group's value is the mean of its stations'
values (a station with fewer than ``min_samples`` heartbeats, or, for the failure rate, no
attempts, does not count). A measure regresses when the updated group is worse than the other
group by more than the plan's relative ``margin`` *and* by more than the measure's absolute
``tolerance``. With no group to compare with (the last phase), the updated stations are
compared with themselves over the same length of time before their update.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.store.ops_models import HealthSample

# measure -> True when higher is better
MEASURES: dict[str, bool] = {
    "captures_per_hour": True,
    "capture_failure_rate": False,
    "upload_backlog": False,
    "restarts_per_hour": False,
    "sensor_errors_per_hour": False,
}
# Absolute differences below these are noise, never a regression (a plan may change them).
DEFAULT_TOLERANCE: dict[str, float] = {
    "captures_per_hour": 1.0,
    "capture_failure_rate": 0.05,
    "upload_backlog": 5.0,
    "restarts_per_hour": 0.5,
    "sensor_errors_per_hour": 0.5,
}


@dataclass(frozen=True)
class Comparison:
    measure: str
    updated: float | None
    baseline: float | None
    regressed: bool


@dataclass(frozen=True)
class SoakResult:
    comparisons: list[Comparison]
    updated_stations: int
    baseline_stations: int
    baseline: str  # "not-updated" | "before-update"

    @property
    def regression(self) -> Comparison | None:
        return next((c for c in self.comparisons if c.regressed), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "comparisons": [asdict(c) for c in self.comparisons],
            "updated_stations": self.updated_stations,
            "baseline_stations": self.baseline_stations,
            "baseline": self.baseline,
        }


def _increase(values: Sequence[int | None]) -> int:
    """The total increase of a since-start counter across restarts."""
    total, previous = 0, None
    for value in values:
        if value is None:
            continue
        if previous is not None:
            total += value - previous if value >= previous else value
        previous = value
    return total


def station_measures(rows: Sequence[HealthSample]) -> dict[str, float | None]:
    """The measures of one station from its samples (oldest first)."""
    hours = max((rows[-1].at - rows[0].at).total_seconds() / 3600.0, 1e-9)
    ok = _increase([r.attempts_ok for r in rows])
    failed = _increase([r.attempts_failed for r in rows])
    has_captures = any(r.enrolments_completed is not None for r in rows)
    has_starts = any(r.agent_starts is not None for r in rows)
    return {
        "captures_per_hour": (
            _increase([r.enrolments_completed for r in rows]) / hours if has_captures else None
        ),
        "capture_failure_rate": failed / (ok + failed) if ok + failed else None,
        "upload_backlog": sum(r.queue_pending for r in rows) / len(rows),
        "restarts_per_hour": (
            _increase([r.agent_starts for r in rows]) / hours if has_starts else None
        ),
        "sensor_errors_per_hour": (
            _increase([r.sensor_errors for r in rows]) / hours if has_captures else None
        ),
    }


def group_measures(
    session: Session,
    station_ids: Sequence[str],
    since: datetime,
    until: datetime,
    min_samples: int,
) -> tuple[dict[str, float | None], int]:
    """The mean of each measure over the stations with enough samples; how many counted."""
    if not station_ids:
        return dict.fromkeys(MEASURES), 0
    samples: dict[str, list[HealthSample]] = defaultdict(list)
    for chunk_start in range(0, len(station_ids), 500):
        chunk = list(station_ids[chunk_start : chunk_start + 500])
        for row in session.scalars(
            select(HealthSample)
            .where(
                HealthSample.station_id.in_(chunk),
                HealthSample.at >= since,
                HealthSample.at <= until,
            )
            .order_by(HealthSample.station_id, HealthSample.at)
        ):
            samples[row.station_id].append(row)
    per_station = [station_measures(rows) for rows in samples.values() if len(rows) >= min_samples]
    means: dict[str, float | None] = {}
    for measure in MEASURES:
        values = [m[measure] for m in per_station if m[measure] is not None]
        means[measure] = sum(v for v in values if v is not None) / len(values) if values else None
    return means, len(per_station)


def regressed(
    measure: str, updated: float | None, baseline: float | None, margin: float, tolerance: float
) -> bool:
    if updated is None or baseline is None:
        return False
    if MEASURES[measure]:  # higher is better
        return updated < baseline * (1 - margin) and baseline - updated > tolerance
    return updated > baseline * (1 + margin) and updated - baseline > tolerance


def compare(
    updated: dict[str, float | None],
    baseline: dict[str, float | None],
    *,
    margin: float,
    tolerance: Callable[[str], float],
) -> list[Comparison]:
    return [
        Comparison(
            measure,
            updated[measure],
            baseline[measure],
            regressed(measure, updated[measure], baseline[measure], margin, tolerance(measure)),
        )
        for measure in MEASURES
    ]
