"""/api/v1/reconciliation: what each station created against what the fleet received."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from fleet.api.deps import DbSession, Viewer
from fleet.api.ops_schemas import (
    ReconciliationDayPublic,
    ReconciliationPublic,
    StationReconciliation,
)
from fleet.api.schemas import errors
from fleet.store.models import Station
from fleet.store.ops_models import ReconciliationDayRow, ReconciliationState

router = APIRouter(tags=["reconciliation"], responses=errors(401, 403, 404))


@router.get("/reconciliation", response_model=list[ReconciliationPublic])
def list_reconciliation(
    session: DbSession,
    caller: Viewer,
    gaps_only: Annotated[bool, Query(description="only stations with lost packets")] = False,
) -> list[ReconciliationPublic]:
    """Every station that reported: created, received, waiting, lost."""
    query = select(ReconciliationState).order_by(ReconciliationState.station_id)
    if gaps_only:
        query = query.where(ReconciliationState.lost_total > 0)
    return [ReconciliationPublic.of(state) for state in session.scalars(query)]


@router.get("/stations/{station_id}/reconciliation", response_model=StationReconciliation)
def get_station_reconciliation(
    station_id: str,
    session: DbSession,
    caller: Viewer,
    since: Annotated[str | None, Query(pattern=r"^\d{4}-\d\d-\d\d$")] = None,
    gaps_only: bool = False,
) -> StationReconciliation:
    """Per Bangkok day, newest first."""
    if session.get(Station, station_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    state = session.get(ReconciliationState, station_id)
    if state is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"station {station_id} has not reported yet (every 10 minutes while connected)",
        )
    query = (
        select(ReconciliationDayRow)
        .where(ReconciliationDayRow.station_id == station_id)
        .order_by(ReconciliationDayRow.day.desc())
    )
    if since is not None:
        query = query.where(ReconciliationDayRow.day >= since)
    if gaps_only:
        query = query.where(ReconciliationDayRow.lost > 0)
    days = [ReconciliationDayPublic.of(row) for row in session.scalars(query)]
    return StationReconciliation(**ReconciliationPublic.of(state).model_dump(), days=days)
