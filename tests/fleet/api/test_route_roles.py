"""Every API route against every role: 401 without or with bad credentials, 403 below the
route's minimum role, through at or above it. The central role stands beside the ladder: only
it passes the central routes, and it passes nothing else but the caller's own session, password
and tokens. A route missing from ROUTES fails the build."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from fleet.api.app import create_app
from fleet.roles import Role
from tests.fleet.api.conftest import PASSWORD, RoleFleet

PUBLIC = None
VIEWER, OPERATOR, ADMIN = Role.VIEWER, Role.OPERATOR, Role.ADMIN
RELEASE, CENTRAL = Role.RELEASE_MANAGER, Role.CENTRAL
SIGNED_IN = "signed-in"  # any authenticated caller, whatever its role
NO_API_TOKEN = "no-api-token"  # a web session or the bootstrap token, never an API token


def _allowed(role: Role, needed: Role | str) -> bool:
    return needed == SIGNED_IN or (isinstance(needed, Role) and role.covers(needed))


# (method, path) -> the minimum role (None: public), and a request that passes validation.
ROUTES: dict[tuple[str, str], Role | str | None] = {
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/api/v1/docs"): PUBLIC,
    ("GET", "/api/v1/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/api/v1/health"): PUBLIC,
    ("POST", "/api/v1/provisioning/claim"): PUBLIC,  # the claim token is the credential
    ("GET", "/api/v1/provisioning/ca.pem"): PUBLIC,  # the fleet CA certificate stations pin
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): SIGNED_IN,
    ("GET", "/api/v1/summary"): VIEWER,
    ("GET", "/api/v1/rejections"): VIEWER,
    ("GET", "/api/v1/provinces"): VIEWER,
    ("GET", "/api/v1/stations"): VIEWER,
    ("POST", "/api/v1/stations"): ADMIN,
    ("GET", "/api/v1/stations/{station_id}"): VIEWER,
    ("PATCH", "/api/v1/stations/{station_id}"): ADMIN,
    ("POST", "/api/v1/stations/{station_id}/revoke"): ADMIN,
    ("POST", "/api/v1/stations/{station_id}/reissue"): ADMIN,
    ("POST", "/api/v1/stations/{station_id}/rotate-key"): ADMIN,
    ("POST", "/api/v1/stations/{station_id}/rotate-credentials"): ADMIN,
    ("POST", "/api/v1/stations/{station_id}/commands"): OPERATOR,
    ("GET", "/api/v1/stations/{station_id}/commands/{command_id}"): VIEWER,
    ("GET", "/api/v1/packets"): VIEWER,
    ("GET", "/api/v1/packets/{packet_id}"): VIEWER,
    ("GET", "/api/v1/packets/{packet_id}/envelope"): CENTRAL,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{username}"): ADMIN,
    ("PATCH", "/api/v1/users/{username}"): ADMIN,
    ("GET", "/api/v1/tokens"): SIGNED_IN,
    ("POST", "/api/v1/tokens"): NO_API_TOKEN,  # tokens cannot mint tokens
    ("POST", "/api/v1/tokens/{token_id}/revoke"): SIGNED_IN,
    ("GET", "/metrics"): VIEWER,
    ("POST", "/api/v1/stations/{station_id}/preregistrations"): OPERATOR,
    # Operations (health, alerts, configuration, reconciliation, central hand-off).
    ("GET", "/api/v1/fleet/health"): VIEWER,
    ("GET", "/api/v1/fleet/health/stations"): VIEWER,
    ("GET", "/api/v1/stations/{station_id}/health"): VIEWER,
    ("GET", "/api/v1/stations/{station_id}/health/history"): VIEWER,
    ("GET", "/api/v1/alerts"): VIEWER,
    ("GET", "/api/v1/alerts/rules"): VIEWER,
    ("GET", "/api/v1/alerts/notifications"): VIEWER,
    ("GET", "/api/v1/alerts/{alert_id}"): VIEWER,
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): OPERATOR,
    ("GET", "/api/v1/config/layers"): VIEWER,
    ("GET", "/api/v1/config/fleet"): VIEWER,
    ("PUT", "/api/v1/config/fleet"): RELEASE,
    ("DELETE", "/api/v1/config/fleet"): RELEASE,
    ("GET", "/api/v1/config/tags"): VIEWER,
    ("GET", "/api/v1/config/tags/{tag}"): VIEWER,
    ("PUT", "/api/v1/config/tags/{tag}"): RELEASE,
    ("DELETE", "/api/v1/config/tags/{tag}"): RELEASE,
    ("PUT", "/api/v1/config/tags/{tag}/members"): RELEASE,
    ("GET", "/api/v1/config/stations"): VIEWER,
    ("GET", "/api/v1/config/stations/{station_id}"): VIEWER,
    ("PUT", "/api/v1/config/stations/{station_id}"): RELEASE,
    ("DELETE", "/api/v1/config/stations/{station_id}"): RELEASE,
    ("GET", "/api/v1/config/stations/{station_id}/effective"): VIEWER,
    ("GET", "/api/v1/config/history"): VIEWER,
    ("GET", "/api/v1/reconciliation"): VIEWER,
    ("GET", "/api/v1/stations/{station_id}/reconciliation"): VIEWER,
    ("GET", "/api/v1/quarantine"): ADMIN,
    ("GET", "/api/v1/central/packets"): CENTRAL,
    ("GET", "/api/v1/central/packets/{packet_id}"): CENTRAL,
    ("GET", "/api/v1/central/packets/{packet_id}/envelope"): CENTRAL,
    ("POST", "/api/v1/central/packets/{packet_id}/processed"): CENTRAL,
    ("POST", "/api/v1/central/application-status"): CENTRAL,
    ("GET", "/api/v1/central/application-status/{application_number}"): CENTRAL,
    # Software rollouts.
    ("GET", "/api/v1/rollouts"): VIEWER,
    ("POST", "/api/v1/rollouts"): RELEASE,
    ("GET", "/api/v1/rollouts/{rollout_id}"): VIEWER,
    ("POST", "/api/v1/rollouts/{rollout_id}/pause"): RELEASE,
    ("POST", "/api/v1/rollouts/{rollout_id}/resume"): RELEASE,
    ("POST", "/api/v1/rollouts/{rollout_id}/cancel"): RELEASE,
    ("POST", "/api/v1/rollouts/{rollout_id}/approve"): RELEASE,
    ("POST", "/api/v1/rollouts/{rollout_id}/rollback"): RELEASE,
    # The applicants' status page and its JSON twin: public, rate-limited.
    ("GET", "/status"): PUBLIC,
    ("POST", "/status"): PUBLIC,
    ("POST", "/api/v1/public/application-status"): PUBLIC,
}

# The dashboard (fleet/web): pages for browsers, authenticated by the web session only. Without
# one a page redirects to the login page (303); below the minimum role it is a 403 page; a
# change (POST) also needs the session's CSRF token.
WEB_ROUTES: dict[tuple[str, str], Role | str | None] = {
    ("GET", "/"): PUBLIC,  # redirects to /ui/
    ("GET", "/ui/login"): PUBLIC,
    ("POST", "/ui/login"): PUBLIC,
    ("GET", "/ui/lang/{choice}"): PUBLIC,
    ("POST", "/ui/logout"): SIGNED_IN,
    ("GET", "/ui/"): VIEWER,
    ("GET", "/ui/stations/{station_id}"): VIEWER,
    ("GET", "/ui/alerts"): VIEWER,
    ("POST", "/ui/alerts/{alert_id}/acknowledge"): OPERATOR,
    ("GET", "/ui/config"): VIEWER,
    ("GET", "/ui/config/open"): VIEWER,
    ("GET", "/ui/config/fleet"): VIEWER,
    ("POST", "/ui/config/fleet"): RELEASE,
    ("GET", "/ui/config/{scope}/{target}"): VIEWER,
    ("POST", "/ui/config/{scope}/{target}"): RELEASE,
    ("POST", "/ui/config/tag/{tag}/members"): RELEASE,
    ("GET", "/ui/rollouts"): VIEWER,
    ("GET", "/ui/rollouts/{rollout_id}"): VIEWER,
    ("POST", "/ui/rollouts/{rollout_id}/{action}"): RELEASE,
}
WEB_PATH_VALUES = {"choice": "en", "scope": "tag", "target": "vans", "action": "pause"}
WEB_FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/ui/login"): {"username": "user-viewer", "password": PASSWORD},
    ("POST", "/ui/alerts/{alert_id}/acknowledge"): {"note": "seen"},
    ("POST", "/ui/config/fleet"): {"document": '{"retention_days": 30}'},
    ("POST", "/ui/config/{scope}/{target}"): {"document": '{"retention_days": 20}'},
    ("POST", "/ui/config/tag/{tag}/members"): {"stations": ""},
}

PATH_VALUES = {
    "station_id": "zz-no-such-station",
    "command_id": "0" * 32,
    "packet_id": "0" * 32,
    "username": "no-such-user",
    "token_id": "999999",
    "alert_id": "999999",
    "tag": "vans",
    "application_number": "WP-NONE-1",
    "rollout_id": "zz-no-such-rollout",
}
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/v1/provisioning/claim"): {
        "token": "x" * 32,
        "public_key": "A" * 43 + "=",
        "proof": "A" * 86 + "==",
    },
    ("POST", "/api/v1/auth/login"): {"username": "user-viewer", "password": PASSWORD},
    ("POST", "/api/v1/auth/password"): {
        "current_password": "not the password",
        "new_password": "another long passphrase",
    },
    ("POST", "/api/v1/stations"): {"station_id": "zz-role-test", "kind": "center"},
    ("PATCH", "/api/v1/stations/{station_id}"): {"tags": ["x"]},
    ("POST", "/api/v1/stations/{station_id}/commands"): {"kind": "ping"},
    ("POST", "/api/v1/users"): {
        "username": "zz-role-test",
        "password": "a long enough passphrase",
    },
    ("PATCH", "/api/v1/users/{username}"): {"display_name": "x"},
    ("POST", "/api/v1/tokens"): {"name": "role test", "days": 1},
    ("POST", "/api/v1/stations/{station_id}/preregistrations"): {"applications": []},
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): {"note": "seen"},
    ("PUT", "/api/v1/config/fleet"): {"retention_days": 30},
    ("PUT", "/api/v1/config/tags/{tag}"): {"retention_days": 20},
    ("PUT", "/api/v1/config/tags/{tag}/members"): {"stations": []},
    ("PUT", "/api/v1/config/stations/{station_id}"): {"retention_days": 10},
    ("POST", "/api/v1/rollouts"): {
        "component": "agent",
        "version": "1.5.0",
        "target": "agent/ewp-agent-1.5.0.tar",
        "selector": {"stations": ["zz-no-such-station"]},
    },
    ("POST", "/api/v1/rollouts/{rollout_id}/rollback"): {},
    ("POST", "/api/v1/central/application-status"): {
        "application_number": "WP-NONE-1",
        "status": "received",
    },
    ("POST", "/api/v1/public/application-status"): {
        "application_number": "WP-NONE-1",
        "passport_number": "MA1234567",
    },
}


def _request(client: Any, method: str, path: str) -> Any:
    url = path.format(**PATH_VALUES)
    body = BODIES.get((method, path))
    return (
        client.request(method, url, json=body) if body is not None else client.request(method, url)
    )


def _app_routes(role_fleet: RoleFleet) -> set[tuple[str, str]]:
    assert role_fleet.stack.context is not None
    app = create_app(role_fleet.stack.context)
    found = set()
    # Included routers are flattened by FastAPI's own walk (the one its OpenAPI uses).
    for route in iter_route_contexts(app.routes):
        for method in getattr(route, "methods", None) or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


def test_every_route_has_a_minimum_role(role_fleet: RoleFleet) -> None:
    routes = _app_routes(role_fleet)
    known = ROUTES.keys() | WEB_ROUTES.keys()
    missing = routes - known
    assert not missing, (
        f"routes without an entry in ROUTES or WEB_ROUTES (give each a minimum role): {missing}"
    )
    assert not known - routes, f"ROUTES names routes that do not exist: {known - routes}"


PROTECTED = [key for key, role in ROUTES.items() if role is not None]
CASES = [(key, role) for key in PROTECTED for role in Role]


def _id(key: tuple[str, str]) -> str:
    return f"{key[0]} {key[1]}"


@pytest.mark.parametrize("key", PROTECTED, ids=_id)
def test_without_or_with_bad_credentials_is_401(
    role_fleet: RoleFleet, key: tuple[str, str]
) -> None:
    with role_fleet.anonymous() as client:
        assert _request(client, *key).status_code == 401
        client.headers["authorization"] = "Bearer ewp_not-a-real-token"
        assert _request(client, *key).status_code == 401
        client.headers["authorization"] = "Bearer something-else"
        assert _request(client, *key).status_code == 401
    with role_fleet.anonymous() as client:
        client.cookies.set("ewp_session", "not-a-session")
        assert _request(client, *key).status_code == 401


@pytest.mark.parametrize(("key", "role"), CASES, ids=[f"{_id(k)} as {r.label}" for k, r in CASES])
def test_role_below_the_minimum_is_403_and_at_or_above_passes(
    role_fleet: RoleFleet, key: tuple[str, str], role: Role
) -> None:
    needed = ROUTES[key]
    assert needed is not None
    with role_fleet.as_role(role) as client:
        status = _request(client, *key).status_code
    if not _allowed(role, needed):
        assert status == 403, f"{role.label} got {status}"
    else:
        assert status not in (401, 403), f"{role.label} was refused ({status})"


@pytest.mark.parametrize("key", [k for k, r in ROUTES.items() if r is None], ids=_id)
def test_public_routes_need_no_credentials(role_fleet: RoleFleet, key: tuple[str, str]) -> None:
    with role_fleet.anonymous() as client:
        assert _request(client, *key).status_code not in (401,)


def test_the_bootstrap_token_is_admin(role_fleet: RoleFleet) -> None:
    with role_fleet.admin() as api:
        me = api.get("/api/v1/auth/me").json()
        assert (me["name"], me["role"], me["via"], me["user"]) == (
            "admin-token",
            "admin",
            "bootstrap-token",
            None,
        )
        assert api.get("/api/v1/users").status_code == 200


def login_form_token(client: Any) -> str:
    """What a browser gets from the login page: the form's CSRF token (and its cookie)."""
    page = client.get("/ui/login")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None, "the login page has no CSRF field"
    return found.group(1)


def _web_request(client: Any, method: str, path: str, csrf: str | None = None) -> Any:
    url = path.format(**{**PATH_VALUES, **WEB_PATH_VALUES})
    form = dict(WEB_FORMS.get((method, path), {}))
    if (method, path) == ("POST", "/ui/login"):
        form["csrf_token"] = login_form_token(client)
    if csrf is not None:
        form["csrf_token"] = csrf
    if method == "GET":
        return client.get(url)
    return client.post(url, data=form)


WEB_PROTECTED = [key for key, role in WEB_ROUTES.items() if role is not None]


@pytest.mark.parametrize("key", WEB_PROTECTED, ids=_id)
def test_a_dashboard_page_without_a_session_goes_to_the_login(
    role_fleet: RoleFleet, key: tuple[str, str]
) -> None:
    with role_fleet.anonymous() as client:
        answer = _web_request(client, *key)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/login?next=")
        # A bearer token is no way into the pages (they are for browsers).
        client.headers["authorization"] = f"Bearer {role_fleet.tokens[Role.ADMIN]}"
        assert _web_request(client, *key).status_code == 303
        del client.headers["authorization"]
        client.cookies.set("ewp_session", "not-a-session")
        assert _web_request(client, *key).status_code == 303
        client.headers["hx-request"] = "true"  # htmx follows HX-Redirect instead
        answer = _web_request(client, *key)
        assert answer.status_code == 401 and answer.headers["hx-redirect"].startswith("/ui/login")


@pytest.fixture(scope="module")
def browser_sessions(role_fleet: RoleFleet) -> Iterator[dict[Role, tuple[Any, str]]]:
    """A logged-in web session (client, CSRF token) per role, shared by the module's tests."""
    logged_in = {role: role_fleet.login(f"user-{role.label}") for role in Role}
    yield logged_in
    for client, _ in logged_in.values():
        client.close()


@pytest.mark.parametrize("key", WEB_PROTECTED, ids=_id)
def test_a_dashboard_route_refuses_roles_below_its_minimum_and_changes_need_csrf(
    role_fleet: RoleFleet,
    browser_sessions: dict[Role, tuple[Any, str]],
    key: tuple[str, str],
) -> None:
    needed = WEB_ROUTES[key]
    assert needed is not None
    for role in Role:
        fresh = key == ("POST", "/ui/logout")  # it ends the session: not the shared one
        client, csrf = role_fleet.login(f"user-{role.label}") if fresh else browser_sessions[role]
        if key[0] == "POST" and _allowed(role, needed):
            assert _web_request(client, *key).status_code == 403  # no CSRF token
            assert _web_request(client, *key, csrf="forged").status_code == 403
        status = _web_request(client, *key, csrf=csrf).status_code
        if fresh:
            client.close()
        if not _allowed(role, needed):
            assert status == 403, f"{role.label} got {status}"
        else:
            assert status not in (401, 403), f"{role.label} was refused ({status})"


@pytest.mark.parametrize("key", [k for k, r in WEB_ROUTES.items() if r is None], ids=_id)
def test_public_dashboard_routes_need_no_session(
    role_fleet: RoleFleet, key: tuple[str, str]
) -> None:
    with role_fleet.anonymous() as client:
        assert _web_request(client, *key).status_code in (200, 303)
