"""The fleet's HTTP API (FastAPI, OpenAPI at /api/v1/openapi.json) and the dashboard. Routes
stay thin: they call the fleet's services (``fleet/services``); one handler answers the
fleet's errors for both (``fleet/api/error_handler.py``)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Response

from fleet.api import (
    alerts,
    auth,
    central,
    configuration,
    error_handler,
    overview,
    packets,
    provisioning,
    public_status,
    quarantine,
    reconciliation,
    rollouts,
    station_health,
    stations,
    tokens,
    users,
)
from fleet.api.body_limit import BodyLimit
from fleet.api.deps import Viewer
from fleet.api.schemas import errors
from fleet.context import FleetContext
from fleet.version import software_version
from fleet.web import dashboard

API_PREFIX = "/api/v1"


def create_app(context: FleetContext) -> FastAPI:
    app = FastAPI(
        title="ewp fleet service",
        version=software_version(),
        description="Stations, sealed packets and provisioning of the e-WorkPermit field stack.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        swagger_ui_oauth2_redirect_url=f"{API_PREFIX}/docs/oauth2-redirect",
        redoc_url=None,
    )
    app.state.context = context
    service = context.settings.service
    app.add_middleware(
        BodyLimit,
        anonymous=service.max_anonymous_request_bytes,
        signed_in=service.max_request_bytes,
    )
    # Any route may answer 400 to a body that is not JSON at all.
    api = APIRouter(prefix=API_PREFIX, responses=errors(400))
    api.include_router(overview.router)
    api.include_router(stations.router)
    api.include_router(packets.router)
    api.include_router(provisioning.router)
    api.include_router(station_health.router)
    api.include_router(alerts.router)
    api.include_router(configuration.router)
    api.include_router(reconciliation.router)
    api.include_router(quarantine.router)
    api.include_router(rollouts.router)
    api.include_router(central.router)
    api.include_router(public_status.router)
    api.include_router(auth.router)
    api.include_router(users.router)
    api.include_router(tokens.router)
    app.include_router(api)
    app.include_router(public_status.page_router)  # /status: the applicants' page
    dashboard.install(app)  # / and /ui/...: the dashboard (fleet/web)
    error_handler.install(app, page=dashboard.fleet_error_page)
    if context.settings.updates.repository is not None:
        from fleet.updates.serve import repository_app

        # the stations' updater reads metadata and targets here (Range requests resume)
        app.mount("/updates", repository_app(context.settings.updates.repository))
    _add_metrics(app, context)
    return app


def _add_metrics(app: FastAPI, context: FleetContext) -> None:
    """``GET /metrics`` for Prometheus, readable as ``[metrics] access`` says."""
    access = context.settings.metrics.access
    if access == "off":
        return
    responses: dict[int | str, dict[str, object]] = {
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition"}
    }

    def render() -> Response:
        body, content_type = context.metrics.render()
        return Response(body, media_type=content_type)

    if access == "open":

        @app.get("/metrics", response_class=Response, responses=responses, tags=["metrics"])
        def open_metrics() -> Response:
            """Prometheus metrics (open: serve the API on an internal address only)."""
            return render()

        return

    @app.get(
        "/metrics",
        response_class=Response,
        responses={**responses, **errors(401)},
        tags=["metrics"],
    )
    def metrics(caller: Viewer) -> Response:
        """Prometheus metrics, for any viewer (give Prometheus a viewer's API token)."""
        return render()
