"""The fleet API in-process (no broker) with a fake clock, called in any role."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from fleet.api.app import create_app
from fleet.api.deps import current_principal
from fleet.context import FleetContext
from fleet.ingest import Ingest
from fleet.metrics import FleetMetrics
from fleet.ops import FleetOps
from fleet.packet_files import PacketFiles
from fleet.roles import Principal, Role
from fleet.store.db import make_engine, migrate, session_factory
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import CENTRAL, FakeClock, fleet_settings

ADMIN_TOKEN = "api-test-admin-token-0123456789"
ROLES = ("viewer", "operator", "release-manager", "admin")


def _principal_from_test_header(request: Request) -> Principal:
    """Stands in for authentication: the role named by the X-Test-Role header."""
    role = request.headers.get("x-test-role")
    if role is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "authentication required")
    return Principal(f"test-{role}", Role.parse(role))


@dataclass
class ApiRig(OpsRig):
    context: FleetContext
    app: FastAPI

    def client(self, role: str | None = "admin") -> TestClient:
        headers = {"x-test-role": role} if role else {}
        return TestClient(self.app, headers=headers)

    def real_auth_client(self, token: str | None) -> TestClient:
        app = create_app(self.context)
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return TestClient(app, headers=headers)


@contextmanager
def api_rig(
    tmp_path: Path, extra_settings: str = "", *, database_url: str | None = None
) -> Iterator[ApiRig]:
    """SQLite in ``tmp_path`` unless ``database_url`` (the fixture of that name runs a test
    on both backends)."""
    settings = fleet_settings(tmp_path, extra_settings, database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions: sessionmaker[Session] = session_factory(engine)
    files = PacketFiles(settings.packet_dir)
    metrics = FleetMetrics(sessions)
    ingest = Ingest(sessions, files, central_keys=[CENTRAL.public_key()], metrics=metrics)
    context = FleetContext(
        settings,
        engine,
        sessions,
        files,
        CENTRAL.public_key(),
        ADMIN_TOKEN,
        ingest,
        metrics,
    )
    clock = FakeClock()
    context.ops.close()
    context.ops = FleetOps(sessions, settings, clock=clock)
    ingest.ops = context.ops
    app = create_app(context)
    app.dependency_overrides[current_principal] = _principal_from_test_header
    try:
        yield ApiRig(sessions, clock, settings, context.ops, ingest, context, app)
    finally:
        context.close()
