"""What a rollout is asked to do: which stations (the selector), in which phases, with which
thresholds and soak check; and the fleet's maintenance windows (``[rollouts]`` settings).

Every model refuses unknown keys and bounds every number, like the rest of the fleet's
settings: a typo in a plan fails when the rollout is created, not halfway through it.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fleet.ops_settings import WEEKDAYS, Weekday
from fleet.updates.soak import DEFAULT_TOLERANCE, MEASURES
from protocol.station_config import ClockTime

BANGKOK = ZoneInfo("Asia/Bangkok")
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,62}$")
STATION_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MAX_STATIONS = 10_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Selector(_Strict):
    """Which stations a rollout targets: the whole fleet, every station with any of these
    tags, or a list of stations. Exactly one."""

    fleet: bool = False
    tags: list[str] = Field(default_factory=list, max_length=64)
    stations: list[str] = Field(default_factory=list, max_length=MAX_STATIONS)

    @field_validator("tags")
    @classmethod
    def _tags(cls, values: list[str]) -> list[str]:
        for value in values:
            if not TAG_RE.fullmatch(value):
                raise ValueError(f"tag {value!r}: 1-63 characters of a-z, 0-9 and . _ : -")
        return list(dict.fromkeys(values))

    @field_validator("stations")
    @classmethod
    def _stations(cls, values: list[str]) -> list[str]:
        for value in values:
            if not STATION_RE.fullmatch(value):
                raise ValueError(f"station id {value!r}: 2-63 characters of a-z, 0-9 and -")
        return list(dict.fromkeys(values))

    @model_validator(mode="after")
    def _one(self) -> Selector:
        chosen = sum((self.fleet, bool(self.tags), bool(self.stations)))
        if chosen != 1:
            raise ValueError("target exactly one of: the fleet, tags, or a station list")
        return self

    def describe(self) -> str:
        if self.fleet:
            return "the whole fleet"
        if self.tags:
            return "tags " + ", ".join(self.tags)
        return f"{len(self.stations)} listed station(s)"


class PhasePlan(_Strict):
    """One phase: how many stations (``stations``, or ``percent`` of all targeted, or
    ``rest``), when it passes and when it halts the rollout."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")]
    stations: Annotated[int, Field(ge=1, le=MAX_STATIONS)] | None = None
    percent: Annotated[float, Field(gt=0, le=100)] | None = None
    rest: bool = False
    success_threshold: Annotated[float, Field(gt=0, le=1)] = Field(
        default=1.0, description="share of the phase's stations that must end healthy"
    )
    error_threshold: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.0,
        description="share of the phase's stations that may fail; more halts the rollout",
    )
    timeout_s: Annotated[float, Field(gt=0, le=30 * 86400)] = Field(
        default=6 * 3600.0,
        description="a station silent this long after its offer counts as failed",
    )
    soak_s: Annotated[float, Field(ge=0, le=30 * 86400)] = Field(
        default=3600.0, description="updated stations' health is watched this long"
    )
    approval: bool = Field(default=False, description="wait for approval before the next phase")

    @model_validator(mode="after")
    def _size(self) -> PhasePlan:
        if sum((self.stations is not None, self.percent is not None, self.rest)) != 1:
            raise ValueError(f"phase {self.name}: give exactly one of stations, percent, rest")
        return self


class SoakPlan(_Strict):
    """How much worse updated stations may be than the others before a phase fails. A measure
    regresses when it is worse by more than ``margin`` (relative) and by more than its
    ``tolerance`` (absolute: noise near zero is no regression)."""

    margin: Annotated[float, Field(ge=0, le=10)] = 0.25
    min_samples: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=2, description="heartbeats a station needs in the soak period to count"
    )
    tolerance: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="per measure, replacing its default (fleet.updates.soak.DEFAULT_TOLERANCE)",
    )

    @field_validator("tolerance")
    @classmethod
    def _known(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(MEASURES)
        if unknown:
            raise ValueError(f"unknown soak measures {sorted(unknown)}: use {list(MEASURES)}")
        return value

    def tolerance_of(self, measure: str) -> float:
        return self.tolerance.get(measure, DEFAULT_TOLERANCE[measure])


def default_phases() -> list[PhasePlan]:
    return [
        PhasePlan(name="canary", stations=1),
        PhasePlan(name="early", percent=10),
        PhasePlan(name="rest", rest=True),
    ]


class RolloutPlan(_Strict):
    phases: list[PhasePlan] = Field(default_factory=default_phases, min_length=1, max_length=10)
    soak: SoakPlan = Field(default_factory=SoakPlan)
    health_deadline_s: Annotated[float, Field(gt=0, le=3600)] = 300.0

    @model_validator(mode="after")
    def _phases(self) -> RolloutPlan:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError("phase names must differ")
        if any(p.rest for p in self.phases[:-1]):
            raise ValueError("only the last phase may be `rest`")
        return self


def assign_phases(plan: RolloutPlan, station_ids: list[str]) -> dict[str, int]:
    """Each station's phase, in the order given (callers put the preferred canaries first).
    A percentage is of all targeted stations, rounded up; the last phase takes whatever is
    left whatever its size, so no targeted station is ever left out."""
    total = len(station_ids)
    assigned: dict[str, int] = {}
    at = 0
    for index, phase in enumerate(plan.phases):
        if index == len(plan.phases) - 1 or phase.rest:
            size = total - at
        elif phase.stations is not None:
            size = phase.stations
        else:
            size = math.ceil(total * (phase.percent or 0) / 100)
        for station_id in station_ids[at : at + size]:
            assigned[station_id] = index
        at = min(total, at + size)
    return assigned


# -- maintenance windows ------------------------------------------------------------------------


class MaintenanceWindow(_Strict):
    """When stations with ``tag`` may install an update, in Asia/Bangkok time. ``end`` before
    ``start`` crosses midnight (``19:00``-``07:00``); ``days`` are the days the window starts."""

    tag: Annotated[str, Field(pattern=TAG_RE.pattern)] = Field(
        description="stations with this tag (registry, configuration, or kind: mobile, center)"
    )
    start: ClockTime = Field(description="HH:MM, Bangkok time: the window opens")
    end: ClockTime = Field(
        description="HH:MM, Bangkok time: it closes (before start: the next day)"
    )
    days: list[Weekday] = Field(
        default_factory=lambda: list(WEEKDAYS), description="the days the window opens"
    )

    @model_validator(mode="after")
    def _length(self) -> MaintenanceWindow:
        if self.start == self.end:
            raise ValueError(f"window for {self.tag}: start and end are the same")
        return self

    def open_until(self, now: datetime) -> datetime | None:
        """The end (UTC-aware) of the window open at ``now``, or None when closed."""
        local = now.astimezone(BANGKOK)
        start = time.fromisoformat(self.start)
        end = time.fromisoformat(self.end)
        crosses = end <= start
        for days_back in (0, 1):
            day = (local - timedelta(days=days_back)).date()
            if WEEKDAYS[day.weekday()] not in self.days:
                continue
            opens = datetime.combine(day, start, BANGKOK)
            closes = datetime.combine(day + timedelta(days=1 if crosses else 0), end, BANGKOK)
            if opens <= local < closes:
                return closes
        return None


def default_windows() -> list[MaintenanceWindow]:
    # A mobile unit works with applicants by day: it installs only at night.
    return [MaintenanceWindow(tag="mobile", start="19:00", end="07:00")]


class RolloutSettings(_Strict):
    """``[rollouts]``: the engine's pace and the maintenance windows per tag."""

    tick_interval_s: Annotated[float, Field(gt=0, le=600)] = Field(
        default=5.0, description="how often the rollout engine looks at running rollouts"
    )
    windows: list[MaintenanceWindow] = Field(
        default_factory=default_windows,
        max_length=200,
        description="maintenance windows; default: mobile units 19:00-07:00 only",
    )


def window_for(
    tags: set[str], windows: list[MaintenanceWindow], now: datetime
) -> tuple[bool, datetime | None]:
    """Whether a station with ``tags`` may install now, and until when (None: no window
    applies, any time). Every tag that has windows must have one open: the strictest wins."""
    until: datetime | None = None
    for tag in sorted(tags):
        own = [w for w in windows if w.tag == tag]
        if not own:
            continue
        ends = [end for end in (w.open_until(now) for w in own) if end is not None]
        if not ends:
            return False, None
        latest = max(ends)
        until = latest if until is None else min(until, latest)
    return True, until
