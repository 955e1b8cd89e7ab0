"""The dashboard's login form has its own CSRF token (a page of another site must not log a
browser into an account of the attacker's choosing)."""

from __future__ import annotations

from tests.fleet.api.conftest import PASSWORD, RoleFleet
from tests.fleet.api.test_route_roles import login_form_token

FORM = {"username": "user-viewer", "password": PASSWORD, "next": "/ui/"}


def test_a_login_without_the_form_token_is_refused(role_fleet: RoleFleet) -> None:
    with role_fleet.anonymous() as client:
        # No token at all, as a form on another site would post it.
        answer = client.post("/ui/login", data=FORM)
        assert answer.status_code == 403
        assert "security token" in answer.text and "ewp_session" not in client.cookies
        # A token in the form but no cookie (SameSite=Strict keeps it from cross-site posts).
        token = login_form_token(client)
        client.cookies.clear()
        answer = client.post("/ui/login", data={**FORM, "csrf_token": token})
        assert answer.status_code == 403 and "ewp_session" not in client.cookies
        # The cookie but a forged form field.
        login_form_token(client)
        answer = client.post("/ui/login", data={**FORM, "csrf_token": "forged" * 8})
        assert answer.status_code == 403 and "ewp_session" not in client.cookies


def test_a_login_from_the_page_passes_and_another_origin_does_not(role_fleet: RoleFleet) -> None:
    with role_fleet.anonymous() as client:
        token = login_form_token(client)
        cookie = client.cookies.get("ewp_login_csrf")
        assert cookie == token
        evil = client.post(
            "/ui/login",
            data={**FORM, "csrf_token": token},
            headers={"origin": "https://evil.example"},
        )
        assert evil.status_code == 403 and "ewp_session" not in client.cookies
        host = role_fleet.url.removeprefix("http://")
        answer = client.post(
            "/ui/login", data={**FORM, "csrf_token": token}, headers={"origin": f"http://{host}"}
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
        assert client.cookies.get("ewp_session")
        assert client.get("/ui/").status_code == 200


def test_behind_a_proxy_the_public_url_is_this_site(role_fleet: RoleFleet) -> None:
    """A reverse proxy may pass its own Host; the browser's Origin is then the public URL."""
    public = role_fleet.stack.settings.service.public_url.rstrip("/")
    with role_fleet.anonymous() as client:
        token = login_form_token(client)
        answer = client.post(
            "/ui/login",
            data={**FORM, "csrf_token": token},
            headers={"origin": public, "host": "backend.internal:8080"},
        )
        assert answer.status_code == 303, answer.text


def test_the_login_token_cookie_is_strict_and_http_only(role_fleet: RoleFleet) -> None:
    with role_fleet.anonymous() as client:
        page = client.get("/ui/login")
        cookie = page.headers["set-cookie"].lower()
        assert "ewp_login_csrf=" in cookie
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui/login" in cookie
        # A failed login shows the form again with the same token (the cookie still matches).
        token = login_form_token(client)
        failed = client.post("/ui/login", data={**FORM, "password": "wrong", "csrf_token": token})
        assert failed.status_code == 401 and f'value="{token}"' in failed.text


def test_the_json_login_takes_no_body_a_cross_site_form_could_send(role_fleet: RoleFleet) -> None:
    body = '{"username": "user-viewer", "password": "%s"}' % PASSWORD  # noqa: UP031
    with role_fleet.anonymous() as client:
        for content_type in ("text/plain", "application/x-www-form-urlencoded"):
            answer = client.post(
                "/api/v1/auth/login", content=body, headers={"content-type": content_type}
            )
            assert answer.status_code == 422 and "ewp_session" not in client.cookies
        ok = client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
        )
        assert ok.status_code == 200
