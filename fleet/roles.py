"""Who may do what at the fleet: four roles, each including the ones below it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal


class Role(IntEnum):
    VIEWER = 1  # sees everything, changes nothing
    OPERATOR = 2  # acknowledges alerts, sends commands to stations
    RELEASE_MANAGER = 3  # configuration and software rollouts
    ADMIN = 4  # users, stations (add, revoke, rotate), everything else

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper().replace("-", "_")]
        except KeyError:
            choices = ", ".join(r.label for r in cls)
            raise ValueError(f"unknown role {text!r}: choose one of {choices}") from None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user (web session or API token) or the bootstrap token."""

    name: str
    role: Role
    via: Literal["bootstrap-token", "session", "api-token"] = "bootstrap-token"
    user_id: int | None = None  # None for the bootstrap token
    session_hash: str | None = None  # the web session, when ``via == "session"``
    token_id: int | None = None  # the API token, when ``via == "api-token"``

    def may(self, needed: Role) -> bool:
        return self.role >= needed
