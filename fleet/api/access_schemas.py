"""What the access routes take and show: logins, users, API tokens (never a password or hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from fleet.api.schemas import ReadOff, Strict, shown_from
from fleet.store.admin_models import ApiToken

RoleName = Literal["viewer", "operator", "release-manager", "admin", "central"]
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(ReadOff):
    id: int
    username: str
    display_name: str
    role: RoleName
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None


class LoginResult(BaseModel):
    user: UserPublic
    csrf_token: str = Field(description="send it in X-CSRF-Token with every state-changing call")
    expires_at: datetime


class Me(BaseModel):
    name: str
    role: RoleName
    via: Literal["bootstrap-token", "session", "api-token"]
    user: UserPublic | None


class UserCreate(Strict):
    username: str = Field(pattern=USERNAME_PATTERN, examples=["somchai.k"])
    password: str = Field(min_length=12, max_length=1024)
    role: RoleName = "viewer"
    display_name: str = Field(default="", max_length=200)


class UserUpdate(Strict):
    role: RoleName | None = None
    disabled: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(
        default=None, min_length=12, max_length=1024, description="an admin's reset"
    )


class PasswordChange(Strict):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=100, examples=["prometheus"])
    role: RoleName | None = Field(default=None, description="default: the owner's role")
    days: int | None = Field(default=None, ge=1, le=3650, description="default: 90")
    username: str | None = Field(
        default=None, pattern=USERNAME_PATTERN, description="admins only: another user's token"
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    username: str
    role: RoleName
    created_by: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, username: str) -> TokenPublic:
        return shown_from(cls, token, username=username)


class TokenCreated(TokenPublic):
    token: str = Field(description="the token itself: shown only this once")
