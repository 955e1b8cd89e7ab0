"""What the rollout routes take and show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fleet.updates.plan import RolloutPlan, Selector
from fleet.updates.rollout_views import RolloutView
from protocol.updates import Component, TargetPath, Version


class RolloutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: Component
    version: Version = Field(examples=["1.5.0"])
    target: TargetPath | None = Field(
        default=None,
        description="the full bundle's TUF target; needed only when the release catalogue "
        "does not list the release",
    )
    selector: Selector = Field(examples=[{"tags": ["north"]}, {"fleet": True}])
    plan: RolloutPlan = Field(default_factory=RolloutPlan)


class RollbackCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

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


class RolloutStationPublic(BaseModel):
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
        r = view.rollout
        return cls(
            **summary_of(r).model_dump(),
            target=r.target,
            allow_downgrade=r.allow_downgrade,
            selector=view.selector,
            plan=view.plan,
            counts=view.counts,
            phases=[
                PhasePublic(
                    index=p.index,
                    name=p.name,
                    state=p.state,
                    stations=p.stations,
                    healthy=p.healthy,
                    failed=p.failed,
                    started_at=p.started_at,
                    soak_started_at=p.soak_started_at,
                    finished_at=p.finished_at,
                    approved_by=p.approved_by,
                    soak_result=p.soak_result,
                    success_threshold=p.plan.success_threshold,
                    error_threshold=p.plan.error_threshold,
                    timeout_s=p.plan.timeout_s,
                    soak_s=p.plan.soak_s,
                    approval=p.plan.approval,
                )
                for p in view.phases
            ],
            stations=[
                RolloutStationPublic(
                    station_id=s.station_id,
                    phase=s.phase,
                    state=s.state,
                    from_version=s.from_version,
                    offered_at=s.offered_at,
                    reported_at=s.reported_at,
                    finished_at=s.finished_at,
                    bytes_done=s.bytes_done,
                    bytes_total=s.bytes_total,
                    delta=s.delta,
                    reason=s.reason,
                    log_tail=s.log_tail,
                )
                for s in view.stations
            ],
        )


def summary_of(r: Any) -> RolloutSummary:
    return RolloutSummary(
        rollout_id=r.rollout_id,
        component=r.component,
        version=r.version,
        state=r.state,
        current_phase=r.current_phase,
        rollback_of=r.rollback_of,
        halt_reason=r.halt_reason,
        halt_measure=r.halt_measure,
        created_at=r.created_at,
        created_by=r.created_by,
        finished_at=r.finished_at,
    )
