"""Users of the fleet service and their roles (viewer < operator < release manager < admin, and
central beside them)."""

from __future__ import annotations

import logging
import re

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fleet import audit
from fleet.access.passwords import hash_password
from fleet.errors import AccessError, LastAdminError, UnknownUserError, UserExistsError
from fleet.roles import Role
from fleet.store.admin_models import ApiToken, User, WebSession
from fleet.store.models import utcnow

log = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def validate_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise AccessError(
            f"username {username!r}: 2-64 characters of a-z, 0-9, '.', '_', '-', starting "
            "with a letter or digit"
        )
    return username


def get_user(session: Session, username: str) -> User:
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    if user is None:
        raise UnknownUserError(f"no user {username}: see `ewp fleet user list`")
    return user


def create_user(
    session: Session,
    username: str,
    password: str,
    *,
    role: Role,
    actor: str,
    display_name: str = "",
) -> User:
    validate_username(username)
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise UserExistsError(f"user {username} already exists")
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role.label,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, actor=actor, action="user.create", target=username, detail={"role": role.label}
    )
    session.commit()
    log.info("user %s created (%s) by %s", username, role.label, actor)
    return user


def _enabled_admins(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == Role.ADMIN.label, User.disabled.is_(False))
        )
        or 0
    )


def _keep_an_admin(session: Session, user: User) -> None:
    if user.role == Role.ADMIN.label and not user.disabled and _enabled_admins(session) <= 1:
        raise LastAdminError(f"{user.username} is the last enabled admin: make another admin first")


def end_sessions(session: Session, user_id: int) -> int:
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(result.rowcount)  # type: ignore[attr-defined]


def revoke_tokens(session: Session, user_id: int) -> int:
    """Revoke every live API token of a user (their password changed: whoever held the old
    one may have made tokens with it)."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def update_user(
    session: Session,
    username: str,
    *,
    actor: str,
    role: Role | None = None,
    disabled: bool | None = None,
    display_name: str | None = None,
    password: str | None = None,
) -> User:
    """Change a user; a role change, disabling or a new password ends their web sessions, and a
    new password also revokes their API tokens."""
    user = get_user(session, username)
    detail: audit.Detail = {}
    if role is not None and role.label != user.role:
        if role is not Role.ADMIN:
            _keep_an_admin(session, user)
        detail["role"] = role.label
        detail["previous_role"] = user.role
        user.role = role.label
    if disabled is not None and disabled != user.disabled:
        if disabled:
            _keep_an_admin(session, user)
        user.disabled = disabled
        detail["disabled"] = disabled
    if display_name is not None and display_name != user.display_name:
        user.display_name = display_name
        detail["display_name"] = display_name
    if password is not None:
        user.password_hash = hash_password(password)
        user.password_changed_at = utcnow()
        detail["password"] = "changed"  # noqa: S105 (an audit note, not a password)
        detail["tokens_revoked"] = revoke_tokens(session, user.id)
    if not detail:
        return user
    if {"role", "disabled", "password"} & detail.keys():
        detail["sessions_ended"] = end_sessions(session, user.id)
    audit.record(session, actor=actor, action="user.update", target=username, detail=detail)
    session.commit()
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)).all())
