"""Reconciliation: what each station created against what the fleet received."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.ops_schemas import (
    ReconciliationDayPublic,
    ReconciliationPublic,
    StationReconciliation,
)
from fleet.errors import NotFoundError
from fleet.services.stations import station_row
from fleet.store.ops_models import ReconciliationDayRow, ReconciliationState
from protocol.ops_messages import format_ranges


def _ranges(text: str) -> str:
    return format_ranges(tuple(r) for r in json.loads(text))


def _public(state: ReconciliationState) -> ReconciliationPublic:
    return ReconciliationPublic(
        station_id=state.station_id,
        reported_at=state.reported_at,
        last_seq=state.last_seq,
        high_water_seq=state.high_water_seq,
        created_total=state.created_total,
        received_total=state.received_total,
        pending_total=state.pending_total,
        lost_total=state.lost_total,
        lost_seqs=_ranges(state.lost_seqs),
        missing_at_station=_ranges(state.missing_at_station),
        duplicate_seqs=_ranges(state.duplicate_seqs),
    )


def list_reconciliation(session: Session, *, gaps_only: bool = False) -> list[ReconciliationPublic]:
    """Every station that reported: created, received, waiting, lost."""
    query = select(ReconciliationState).order_by(ReconciliationState.station_id)
    if gaps_only:
        query = query.where(ReconciliationState.lost_total > 0)
    return [_public(state) for state in session.scalars(query)]


def find_station_reconciliation(
    session: Session, station_id: str, *, since: str | None = None, gaps_only: bool = False
) -> StationReconciliation | None:
    """Per Bangkok day (``YYYY-MM-DD`` from ``since``), newest first; None: the station has
    not reported yet."""
    station_row(session, station_id)
    state = session.get(ReconciliationState, station_id)
    if state is None:
        return None
    query = (
        select(ReconciliationDayRow)
        .where(ReconciliationDayRow.station_id == station_id)
        .order_by(ReconciliationDayRow.day.desc())
    )
    if since is not None:
        query = query.where(ReconciliationDayRow.day >= since)
    if gaps_only:
        query = query.where(ReconciliationDayRow.lost > 0)
    days = [
        ReconciliationDayPublic(
            day=row.day,
            created=row.created,
            received=row.received,
            pending=row.pending,
            lost=row.lost,
            lost_seqs=_ranges(row.lost_seqs),
            first_seq=row.first_seq,
            last_seq=row.last_seq,
        )
        for row in session.scalars(query)
    ]
    return StationReconciliation(**_public(state).model_dump(), days=days)


def station_reconciliation(
    session: Session, station_id: str, *, since: str | None = None, gaps_only: bool = False
) -> StationReconciliation:
    found = find_station_reconciliation(session, station_id, since=since, gaps_only=gaps_only)
    if found is None:
        raise NotFoundError(
            f"station {station_id} has not reported yet (every 10 minutes while connected)"
        )
    return found
