"""/api/v1/reconciliation: what each station created against what the fleet received
(``fleet/services/reconciliation.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fleet.api.deps import DbSession, Viewer
from fleet.api.ops_schemas import ReconciliationPublic, StationReconciliation
from fleet.api.schemas import errors
from fleet.services import reconciliation

router = APIRouter(tags=["reconciliation"], responses=errors(401, 403, 404))


@router.get("/reconciliation", response_model=list[ReconciliationPublic])
def list_reconciliation(
    session: DbSession,
    caller: Viewer,
    gaps_only: Annotated[bool, Query(description="only stations with lost packets")] = False,
) -> list[ReconciliationPublic]:
    """Every station that reported: created, received, waiting, lost."""
    return reconciliation.list_reconciliation(session, gaps_only=gaps_only)


@router.get("/stations/{station_id}/reconciliation", response_model=StationReconciliation)
def get_station_reconciliation(
    station_id: str,
    session: DbSession,
    caller: Viewer,
    since: Annotated[str | None, Query(pattern=r"^\d{4}-\d\d-\d\d$")] = None,
    gaps_only: bool = False,
) -> StationReconciliation:
    """Per Bangkok day, newest first."""
    return reconciliation.station_reconciliation(
        session, station_id, since=since, gaps_only=gaps_only
    )
