"""/api/v1/summary, /api/v1/rejections and /api/v1/health (``fleet/services/summary.py``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from fleet.api.deps import ReadSession, Viewer
from fleet.api.schemas import RejectionPublic, Summary, errors
from fleet.services import summary as totals
from fleet.version import software_version

router = APIRouter(tags=["overview"])


class Health(BaseModel):
    status: str
    version: str


@router.get("/health", response_model=Health)
def health() -> Health:
    """Liveness: answers when the service runs (no authentication)."""
    return Health(status="ok", version=software_version())


@router.get("/summary", response_model=Summary, responses=errors(401, 403))
def summary(
    caller: Viewer,
    session: ReadSession,
    per_station_limit: Annotated[int, Query(ge=0, le=10_000)] = 100,
    per_station_offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Summary:
    """Fleet totals, and the packets of a page of the stations in station id order (those of
    the page that have packets)."""
    return totals.summary(
        session, per_station_limit=per_station_limit, per_station_offset=per_station_offset
    )


@router.get("/rejections", response_model=list[RejectionPublic], responses=errors(401, 403))
def rejections(
    caller: Viewer, session: ReadSession, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[RejectionPublic]:
    return totals.rejections(session, limit=limit)
