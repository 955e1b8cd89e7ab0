"""One fleet (broker + service) per test module, with a user and an API token per role."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ewp.local_fleet import FleetStack, start_fleet_stack
from fleet.roles import Role

PASSWORD = "a long enough test passphrase"


@dataclass
class RoleFleet:
    stack: FleetStack
    tokens: dict[Role, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.stack.url

    def admin(self) -> httpx.Client:
        """The bootstrap admin token."""
        return self.stack.api()

    def as_role(self, role: Role) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=30
        )

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def login(self, username: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
        """A browser-like client logged in; returns it and its CSRF token."""
        client = self.anonymous()
        answer = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert answer.status_code == 200, answer.text
        return client, str(answer.json()["csrf_token"])


def make_users(stack: FleetStack) -> dict[Role, str]:
    tokens = {}
    with stack.api() as api:
        for role in Role:
            username = f"user-{role.label}"
            created = api.post(
                "/api/v1/users",
                json={"username": username, "password": PASSWORD, "role": role.label},
            )
            assert created.status_code == 201, created.text
            token = api.post(
                "/api/v1/tokens", json={"name": f"tests {role.label}", "username": username}
            )
            assert token.status_code == 201, token.text
            tokens[role] = str(token.json()["token"])
    return tokens


@pytest.fixture(scope="module")
def role_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoleFleet]:
    stack = start_fleet_stack(Path(tmp_path_factory.mktemp("fleet")))
    try:
        yield RoleFleet(stack, make_users(stack))
    finally:
        stack.stop()
