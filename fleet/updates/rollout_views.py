"""What the API, the CLI and the dashboard show of a rollout: its phases with their counts and
soak comparison, and every targeted station."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.store.rollout_models import Rollout, RolloutPhase, RolloutStation
from fleet.updates.plan import PhasePlan, RolloutPlan, Selector
from fleet.updates.rollouts import FAILED_STATES, get


@dataclass(frozen=True)
class PhaseView:
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
    soak_result: dict[str, object] | None
    plan: PhasePlan


@dataclass(frozen=True)
class RolloutView:
    rollout: Rollout
    selector: Selector
    plan: RolloutPlan
    phases: list[PhaseView]
    stations: list[RolloutStation]
    counts: dict[str, int]


def view(session: Session, rollout_id: str) -> RolloutView:
    rollout = get(session, rollout_id)
    plan = RolloutPlan.model_validate_json(rollout.plan)
    stations = list(
        session.scalars(
            select(RolloutStation)
            .where(RolloutStation.rollout_id == rollout_id)
            .order_by(RolloutStation.phase, RolloutStation.station_id)
        )
    )
    phases = []
    for row in session.scalars(
        select(RolloutPhase)
        .where(RolloutPhase.rollout_id == rollout_id)
        .order_by(RolloutPhase.index)
    ):
        members = [s for s in stations if s.phase == row.index]
        phases.append(
            PhaseView(
                index=row.index,
                name=row.name,
                state=row.state,
                stations=len(members),
                healthy=sum(1 for s in members if s.state == "healthy"),
                failed=sum(1 for s in members if s.state in FAILED_STATES),
                started_at=row.started_at,
                soak_started_at=row.soak_started_at,
                finished_at=row.finished_at,
                approved_by=row.approved_by,
                soak_result=json.loads(row.soak_result) if row.soak_result else None,
                plan=plan.phases[row.index],
            )
        )
    return RolloutView(
        rollout=rollout,
        selector=Selector.model_validate_json(rollout.selector),
        plan=plan,
        phases=phases,
        stations=stations,
        counts=dict(Counter(s.state for s in stations)),
    )


def list_rollouts(session: Session, *, limit: int = 100, offset: int = 0) -> list[Rollout]:
    return list(
        session.scalars(
            select(Rollout).order_by(Rollout.created_at.desc()).limit(limit).offset(offset)
        )
    )
