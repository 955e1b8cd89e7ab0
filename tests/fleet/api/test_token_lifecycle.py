"""API tokens over HTTP: a web session makes one, the token cannot make more, and changing the
password revokes them all."""

from __future__ import annotations

from contextlib import closing

import httpx

from tests.fleet.api.conftest import PASSWORD, RoleFleet

NEW_PASSWORD = "another long enough passphrase"


def _bearer(role_fleet: RoleFleet, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=role_fleet.url, headers={"authorization": f"Bearer {token}"}, timeout=30
    )


def test_a_token_cannot_mint_tokens_and_a_password_change_revokes_them(
    role_fleet: RoleFleet,
) -> None:
    with role_fleet.admin() as admin:
        made = admin.post(
            "/api/v1/users",
            json={"username": "token-owner", "password": PASSWORD, "role": "operator"},
        )
        assert made.status_code == 201, made.text
    browser, csrf = role_fleet.login("token-owner")
    with closing(browser):
        created = browser.post(
            "/api/v1/tokens", json={"name": "cron", "days": 1}, headers={"x-csrf-token": csrf}
        )
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        with _bearer(role_fleet, token) as script:
            assert script.get("/api/v1/auth/me").json()["via"] == "api-token"
            minted = script.post("/api/v1/tokens", json={"name": "more", "days": 1})
            assert minted.status_code == 403
            assert "cannot create tokens" in minted.json()["detail"]
            changed = browser.post(
                "/api/v1/auth/password",
                json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                headers={"x-csrf-token": csrf},
            )
            assert changed.status_code == 204, changed.text
            assert script.get("/api/v1/auth/me").status_code == 401
    # The user logs in again with the new password; their old token is listed as revoked.
    again, csrf = role_fleet.login("token-owner", NEW_PASSWORD)
    with closing(again):
        listed = again.get("/api/v1/tokens").json()
        assert [t["revoked_at"] is not None for t in listed] == [True]
