"""The fleet's HTTP API (FastAPI, OpenAPI at /api/v1/openapi.json). Routes stay thin: they
call the fleet's services."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from fleet.api import (
    alerts,
    central,
    configuration,
    overview,
    packets,
    provisioning,
    public_status,
    reconciliation,
    station_health,
    stations,
)
from fleet.context import FleetContext
from fleet.version import software_version

API_PREFIX = "/api/v1"


def create_app(context: FleetContext) -> FastAPI:
    app = FastAPI(
        title="ewp fleet service",
        version=software_version(),
        description="Stations, sealed packets and provisioning of the e-WorkPermit field stack.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.context = context
    api = APIRouter(prefix=API_PREFIX)
    api.include_router(overview.router)
    api.include_router(stations.router)
    api.include_router(packets.router)
    api.include_router(provisioning.router)
    api.include_router(station_health.router)
    api.include_router(alerts.router)
    api.include_router(configuration.router)
    api.include_router(reconciliation.router)
    api.include_router(central.router)
    api.include_router(public_status.router)
    app.include_router(api)
    app.include_router(public_status.page_router)  # /status: the applicants' page
    return app
