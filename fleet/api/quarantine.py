"""/api/v1/quarantine: the messages ingest could not handle (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from fleet.api.deps import AdminUser, ReadSession
from fleet.api.schemas import errors
from fleet.quarantine_list import MAX_LIMIT, QuarantinedView, list_quarantined

router = APIRouter(prefix="/quarantine", tags=["quarantine"], responses=errors(401, 403))


@router.get("", response_model=list[QuarantinedView])
def list_quarantine(
    session: ReadSession,
    caller: AdminUser,
    station_id: Annotated[str | None, Query(min_length=1, max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
) -> list[QuarantinedView]:
    """Newest first; the payload only as its size, sha256 and an escaped preview."""
    return list_quarantined(session, station_id=station_id, limit=limit)
