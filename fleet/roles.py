"""Who may do what at the fleet: four roles on a ladder, each including the ones below it, and
the central e-WorkPermit system's role beside the ladder.

``central`` is held by the central system's account only: it lists and fetches the sealed
packets, marks them processed and posts application decisions. No other role (admin included)
may do that, and ``central`` may do nothing else (decision 0040)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal


class Role(IntEnum):
    VIEWER = 1  # sees everything, changes nothing
    OPERATOR = 2  # acknowledges alerts, sends commands to stations
    RELEASE_MANAGER = 3  # configuration and software rollouts
    ADMIN = 4  # users, stations (add, revoke, rotate), everything else
    CENTRAL = 10  # the central system: its packet queue and application decisions, nothing else

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")

    @property
    def on_ladder(self) -> bool:
        return self is not Role.CENTRAL

    def covers(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may: up the ladder, or exactly central."""
        if not (self.on_ladder and needed.on_ladder):
            return self is needed
        return self >= needed

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
        return self.role.covers(needed)
