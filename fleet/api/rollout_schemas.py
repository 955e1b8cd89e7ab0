"""What the rollout routes take and show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from fleet.api.schemas import ReadOff, Strict, shown_from
from fleet.store.rollout_models import Rollout
from fleet.updates.plan import RolloutPlan, Selector
from fleet.updates.rollout_views import RolloutView
from protocol.updates import Component, TargetPath, Version


class RolloutCreate(Strict):
    component: Component
    version: Version = Field(examples=["1.5.0"])
    target: TargetPath | None = Field(
        default=None,
        description="the full bundle's TUF target; needed only when the release catalogue "
        "does not list the release",
    )
    selector: Selector = Field(examples=[{"tags": ["north"]}, {"fleet": True}])
    plan: RolloutPlan = Field(default_factory=RolloutPlan)


class RollbackCreate(Strict):
    version: Version | None = Field(
        default=None,
        description="the version to go back to; default: what most offered stations ran before",
    )
    target: TargetPath | None = None
    timeout_s: float | None = Field(default=None, gt=0, le=30 * 86400)


class RolloutSummary(BaseModel):
    rollout_id: str
    component: str
    version: str
    state: str
    current_phase: int
    rollback_of: str | None
    halt_reason: str | None
    halt_measure: str | None
    created_at: datetime
    created_by: str
    finished_at: datetime | None


class PhasePublic(BaseModel):
    index: int
    name: str
    state: str
    stations: int
    healthy: int
    failed: int
    started_at: datetime | None
    soak_started_at: datetime | None
    finished_at: datetime | None
    approved_by: str | None
    soak_result: dict[str, Any] | None
    success_threshold: float
    error_threshold: float
    timeout_s: float
    soak_s: float
    approval: bool


class RolloutStationPublic(ReadOff):
    station_id: str
    phase: int
    state: str
    from_version: str | None
    offered_at: datetime | None
    reported_at: datetime | None
    finished_at: datetime | None
    bytes_done: int
    bytes_total: int
    delta: bool
    reason: str | None
    log_tail: str | None


class RolloutPublic(RolloutSummary):
    target: str
    allow_downgrade: bool
    selector: Selector
    plan: RolloutPlan
    counts: dict[str, int]
    phases: list[PhasePublic]
    stations: list[RolloutStationPublic]

    @classmethod
    def of(cls, view: RolloutView) -> RolloutPublic:
        return shown_from(
            cls,
            view,  # its selector and plan parsed, before the rollout row's JSON text
            view.rollout,
            phases=[shown_from(PhasePublic, p, p.plan) for p in view.phases],  # the phase first
            stations=[RolloutStationPublic.of(s) for s in view.stations],
        )


def summary_of(r: Rollout) -> RolloutSummary:
    return shown_from(RolloutSummary, r)
