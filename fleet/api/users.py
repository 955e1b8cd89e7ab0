"""/api/v1/users: user management (admins)."""

from __future__ import annotations

from fastapi import APIRouter, status

from fleet.access import users
from fleet.api.access_schemas import UserCreate, UserPublic, UserUpdate
from fleet.api.deps import AdminUser, DbSession
from fleet.api.schemas import errors
from fleet.roles import Role

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=list[UserPublic], responses=errors(401, 403))
def list_users(caller: AdminUser, session: DbSession) -> list[UserPublic]:
    return [UserPublic.of(u) for u in users.list_users(session)]


@router.post(
    "",
    response_model=UserPublic,
    status_code=status.HTTP_201_CREATED,
    responses=errors(401, 403, 409, 422),
)
def create_user(body: UserCreate, caller: AdminUser, session: DbSession) -> UserPublic:
    user = users.create_user(
        session,
        body.username,
        body.password,
        role=Role.parse(body.role),
        actor=caller.name,
        display_name=body.display_name,
    )
    return UserPublic.of(user)


@router.get("/{username}", response_model=UserPublic, responses=errors(401, 403, 404))
def get_user(username: str, caller: AdminUser, session: DbSession) -> UserPublic:
    return UserPublic.of(users.get_user(session, username))


@router.patch("/{username}", response_model=UserPublic, responses=errors(401, 403, 404, 409, 422))
def update_user(
    username: str, body: UserUpdate, caller: AdminUser, session: DbSession
) -> UserPublic:
    """Change role, display name, password, or disable; ends the user's web sessions when the
    role, password or enabled state changes. The last enabled admin cannot be demoted."""
    user = users.update_user(
        session,
        username,
        actor=caller.name,
        role=Role.parse(body.role) if body.role is not None else None,
        disabled=body.disabled,
        display_name=body.display_name,
        password=body.password,
    )
    return UserPublic.of(user)
