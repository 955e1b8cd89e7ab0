"""Every operations route, every role: 401 without credentials, 403 below the needed role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fleet.api_helpers import ADMIN_TOKEN, ROLES, ApiRig, api_rig

# (method, path, body, the lowest role allowed)
ROUTES: list[tuple[str, str, object, str]] = [
    ("GET", "/api/v1/fleet/health", None, "viewer"),
    ("GET", "/api/v1/fleet/health/stations", None, "viewer"),
    ("GET", "/api/v1/stations/ct-01/health", None, "viewer"),
    ("GET", "/api/v1/stations/ct-01/health/history", None, "viewer"),
    ("GET", "/api/v1/alerts", None, "viewer"),
    ("GET", "/api/v1/alerts/rules", None, "viewer"),
    ("GET", "/api/v1/alerts/notifications", None, "viewer"),
    ("GET", "/api/v1/alerts/1", None, "viewer"),
    ("POST", "/api/v1/alerts/1/acknowledge", {"note": "seen"}, "operator"),
    ("GET", "/api/v1/config/layers", None, "viewer"),
    ("GET", "/api/v1/config/fleet", None, "viewer"),
    ("PUT", "/api/v1/config/fleet", {"retention_days": 30}, "release-manager"),
    ("DELETE", "/api/v1/config/fleet", None, "release-manager"),
    ("GET", "/api/v1/config/tags", None, "viewer"),
    ("GET", "/api/v1/config/tags/vans", None, "viewer"),
    ("PUT", "/api/v1/config/tags/vans", {"retention_days": 20}, "release-manager"),
    ("DELETE", "/api/v1/config/tags/vans", None, "release-manager"),
    ("PUT", "/api/v1/config/tags/vans/members", {"stations": ["ct-01"]}, "release-manager"),
    ("GET", "/api/v1/config/stations", None, "viewer"),
    ("GET", "/api/v1/config/stations/ct-01", None, "viewer"),
    ("PUT", "/api/v1/config/stations/ct-01", {"retention_days": 10}, "release-manager"),
    ("DELETE", "/api/v1/config/stations/ct-01", None, "release-manager"),
    ("GET", "/api/v1/config/stations/ct-01/effective", None, "viewer"),
    ("GET", "/api/v1/config/history", None, "viewer"),
    ("GET", "/api/v1/reconciliation", None, "viewer"),
    ("GET", "/api/v1/stations/ct-01/reconciliation", None, "viewer"),
    ("GET", "/api/v1/central/packets", None, "operator"),
    ("GET", "/api/v1/central/packets/" + "0" * 32, None, "operator"),
    ("GET", "/api/v1/central/packets/" + "0" * 32 + "/envelope", None, "operator"),
    ("POST", "/api/v1/central/packets/" + "0" * 32 + "/processed", None, "operator"),
    ("POST", "/api/v1/central/application-status",
     {"application_number": "WP-1", "status": "received"}, "operator"),
    ("GET", "/api/v1/central/application-status/WP-1", None, "operator"),
]  # fmt: skip


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiRig]:
    with api_rig(tmp_path_factory.mktemp("roles")) as rig:
        rig.station("ct-01")
        yield rig


def _call(rig: ApiRig, role: str | None, method: str, path: str, body: object) -> int:
    with rig.client(role) as client:
        return client.request(method, path, json=body).status_code


@pytest.mark.parametrize(("method", "path", "body", "needed"), ROUTES, ids=[r[1] for r in ROUTES])
def test_route_is_authorised_by_role(
    rig: ApiRig, method: str, path: str, body: object, needed: str
) -> None:
    assert _call(rig, None, method, path, body) == 401
    allowed = ROLES[ROLES.index(needed) :]
    for role in ROLES:
        code = _call(rig, role, method, path, body)
        if role in allowed:
            assert code not in (401, 403), f"{role} refused {method} {path}: {code}"
        else:
            assert code == 403, f"{role} allowed {method} {path}: {code}"


def test_the_real_bearer_check_guards_the_routes(tmp_path: Path) -> None:
    with api_rig(tmp_path) as rig:
        with rig.real_auth_client(None) as client:
            assert client.get("/api/v1/fleet/health").status_code == 401
        with rig.real_auth_client("wrong-token-0123456789") as client:
            assert client.get("/api/v1/fleet/health").status_code == 401
        with rig.real_auth_client(ADMIN_TOKEN) as client:
            assert client.get("/api/v1/fleet/health").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/status", None),
        ("POST", "/api/v1/public/application-status",
         {"application_number": "WP-1", "passport_number": "AB12345"}),
    ],
)  # fmt: skip
def test_the_public_status_routes_need_no_login(
    rig: ApiRig, method: str, path: str, body: object
) -> None:
    assert _call(rig, None, method, path, body) in (200, 404)
