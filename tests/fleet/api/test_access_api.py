"""Logins, cookies, CSRF, logout, users and API tokens through the HTTP API."""

from __future__ import annotations

from contextlib import closing

from sqlalchemy import select

from fleet.roles import Role
from fleet.store.models import AuditEntry
from tests.fleet.api.conftest import PASSWORD, RoleFleet


def new_user(fleet: RoleFleet, username: str, role: str = "operator") -> None:
    with fleet.admin() as api:
        answer = api.post(
            "/api/v1/users", json={"username": username, "password": PASSWORD, "role": role}
        )
        assert answer.status_code == 201, answer.text


def test_login_sets_an_httponly_samesite_cookie_and_csrf_guards_changes(
    role_fleet: RoleFleet,
) -> None:
    new_user(role_fleet, "web-op")
    client, csrf = role_fleet.login("web-op")
    assert client.cookies.get("ewp_session") and client.cookies.get("ewp_csrf") == csrf
    login = client.post("/api/v1/auth/login", json={"username": "web-op", "password": PASSWORD})
    set_cookie = login.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("ewp_session="))
    assert "HttpOnly" in session_cookie and "samesite=lax" in session_cookie.lower()
    assert "Secure" not in session_cookie  # public_url is http here
    csrf = login.json()["csrf_token"]
    session_value = client.cookies["ewp_session"]
    me = client.get("/api/v1/auth/me").json()
    assert (me["name"], me["role"], me["via"]) == ("web-op", "operator", "session")
    # A state-changing call with the cookie but without the CSRF header is refused.
    refused = client.post("/api/v1/tokens", json={"name": "no csrf"})
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.json()["detail"]
    wrong = client.post(
        "/api/v1/tokens", json={"name": "bad csrf"}, headers={"X-CSRF-Token": "forged"}
    )
    assert wrong.status_code == 403
    made = client.post("/api/v1/tokens", json={"name": "ok"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    # Reads need no CSRF token.
    assert client.get("/api/v1/stations").status_code == 200
    out = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    client.close()
    with role_fleet.anonymous() as stale:
        stale.cookies.set("ewp_session", session_value)
        assert stale.get("/api/v1/auth/me").status_code == 401, "logged out sessions are gone"


def test_bearer_tokens_need_no_csrf(role_fleet: RoleFleet) -> None:
    with role_fleet.as_role(Role.VIEWER) as client:
        # A change through a bearer token: judged on its merits (404 here), never refused for
        # a missing CSRF header (403).
        answer = client.post("/api/v1/tokens/999999/revoke")
        assert answer.status_code == 404, answer.text


def test_wrong_passwords_then_lockout_with_retry_after(role_fleet: RoleFleet) -> None:
    new_user(role_fleet, "target")
    with role_fleet.anonymous() as client:
        for _ in range(5):
            bad = client.post(
                "/api/v1/auth/login", json={"username": "target", "password": "not it at all"}
            )
            assert bad.status_code == 401
            assert bad.json()["detail"] == "wrong username or password"
        locked = client.post(
            "/api/v1/auth/login", json={"username": "target", "password": PASSWORD}
        )
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert role_fleet.stack.context is not None
    with role_fleet.stack.context.sessions() as session:
        trail = [
            (e.action, e.target)
            for e in session.scalars(select(AuditEntry).where(AuditEntry.target == "target"))
        ]
    assert trail.count(("auth.login-failed", "target")) == 5
    assert ("security.login-lockout", "target") in trail
    metrics = role_fleet.as_role(Role.VIEWER).get("/metrics").text
    assert 'ewp_logins_total{outcome="locked"}' in metrics


def test_disabling_a_user_ends_sessions_and_tokens(role_fleet: RoleFleet) -> None:
    new_user(role_fleet, "leaver")
    client, csrf = role_fleet.login("leaver")
    token = client.post(
        "/api/v1/tokens", json={"name": "leaver's", "days": 1}, headers={"X-CSRF-Token": csrf}
    ).json()["token"]
    with role_fleet.admin() as api:
        assert api.patch("/api/v1/users/leaver", json={"disabled": True}).status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 401
    with role_fleet.anonymous() as script:
        script.headers["authorization"] = f"Bearer {token}"
        assert script.get("/api/v1/auth/me").status_code == 401
    with role_fleet.admin() as api:
        assert api.patch("/api/v1/users/leaver", json={"disabled": False}).status_code == 200
    with role_fleet.anonymous() as script:
        script.headers["authorization"] = f"Bearer {token}"
        assert script.get("/api/v1/auth/me").status_code == 200, "re-enabled: the token works"


def test_tokens_are_shown_once_capped_by_role_and_revocable(role_fleet: RoleFleet) -> None:
    with role_fleet.as_role(Role.OPERATOR) as script:
        refused = script.post("/api/v1/tokens", json={"name": "x", "role": "viewer"})
        assert refused.status_code == 403, "an API token cannot mint tokens"
    ops, csrf = role_fleet.login("user-operator")
    with closing(ops):
        ops.headers["x-csrf-token"] = csrf
        too_high = ops.post("/api/v1/tokens", json={"name": "x", "role": "admin"})
        assert too_high.status_code == 403
        for_other = ops.post("/api/v1/tokens", json={"name": "x", "username": "user-viewer"})
        assert for_other.status_code == 403
        made = ops.post("/api/v1/tokens", json={"name": "viewer only", "role": "viewer"}).json()
        assert made["role"] == "viewer" and made["token"].startswith("ewp_")
        listed = ops.get("/api/v1/tokens").json()
        assert all("token" not in t for t in listed)
        assert {t["username"] for t in listed} == {"user-operator"}, "only your own tokens"
    with role_fleet.anonymous() as script:
        script.headers["authorization"] = f"Bearer {made['token']}"
        me = script.get("/api/v1/auth/me").json()
        assert (me["role"], me["via"]) == ("viewer", "api-token")
        assert script.post("/api/v1/stations/x/revoke").status_code == 403
        with role_fleet.as_role(Role.VIEWER) as someone_else:
            assert someone_else.post(f"/api/v1/tokens/{made['id']}/revoke").status_code == 404
        revoked = script.post(f"/api/v1/tokens/{made['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert script.get("/api/v1/auth/me").status_code == 401
    with role_fleet.admin() as api:
        everyone = {t["username"] for t in api.get("/api/v1/tokens").json()}
        assert {"user-viewer", "user-operator", "user-admin"} <= everyone
        made = api.post(
            "/api/v1/tokens", json={"name": "for rm", "username": "user-release-manager"}
        )
        assert made.status_code == 201 and made.json()["role"] == "release-manager"


def test_users_are_managed_by_admins_and_change_their_own_password(role_fleet: RoleFleet) -> None:
    with role_fleet.as_role(Role.ADMIN) as admin:
        made = admin.post(
            "/api/v1/users",
            json={"username": "new.viewer", "password": PASSWORD, "display_name": "วิภา"},
        )
        assert made.status_code == 201 and made.json()["role"] == "viewer"
        assert (
            admin.post(
                "/api/v1/users", json={"username": "new.viewer", "password": PASSWORD}
            ).status_code
            == 409
        )
        assert (
            admin.post("/api/v1/users", json={"username": "weak", "password": "x" * 20}).status_code
            == 422
        )
        promoted = admin.patch("/api/v1/users/new.viewer", json={"role": "operator"})
        assert promoted.json()["role"] == "operator"
        names = [u["username"] for u in admin.get("/api/v1/users").json()]
        assert "new.viewer" in names
        assert admin.get("/api/v1/users/nobody-here").status_code == 404
    client, csrf = role_fleet.login("new.viewer")
    old_session = client.cookies["ewp_session"]
    changed = client.post(
        "/api/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase"},
        headers={"X-CSRF-Token": csrf},
    )
    assert changed.status_code == 204
    assert not client.cookies.get("ewp_session"), "the cookie is cleared"
    with role_fleet.anonymous() as stale:
        stale.cookies.set("ewp_session", old_session)
        assert stale.get("/api/v1/auth/me").status_code == 401, "sessions end"
    client.close()
    client, _ = role_fleet.login("new.viewer", "a brand new passphrase")
    client.close()
