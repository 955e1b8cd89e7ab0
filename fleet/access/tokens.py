"""API tokens for scripts: ``ewp_`` + 256 random bits, shown once, stored as SHA-256 (a random
token of that size needs no slow hash: there is nothing to guess). A token has a name, an
expiry, a role at most its owner's (and never more than the owner has now: demoting a user
demotes their tokens), a last-used time, and can be revoked."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.access.sessions import LAST_SEEN_EVERY, secret_hash
from fleet.errors import AccessError, RoleTooHighError, TokenMintingError
from fleet.roles import Principal, Role
from fleet.store.admin_models import ApiToken, User
from fleet.store.models import utcnow

TOKEN_PREFIX = "ewp_"  # noqa: S105 (a prefix, not a secret)


def may_grant(creator: Role, owner: Role, role: Role) -> bool:
    """A token's role is within its owner's, and within its creator's unless an admin creates
    it (an admin sets up the central system's tokens without holding the central role)."""
    return owner.covers(role) and (creator is Role.ADMIN or creator.covers(role))


def default_role(creator: Role, owner: Role) -> Role:
    """A new token's role when none is asked for: the owner's, or the creator's if lower."""
    if may_grant(creator, owner, owner) or not owner.on_ladder or not creator.on_ladder:
        return owner
    return min(owner, creator)


def effective_role(token_role: Role, user_role: Role) -> Role | None:
    """What a token may do now: its role, lowered with its owner's (a demoted user's tokens are
    demoted); ``None`` when the owner's role no longer covers it at all (off the ladder)."""
    if user_role.covers(token_role):
        return token_role
    if token_role.on_ladder and user_role.on_ladder:
        return user_role
    return None


def create_token(
    session: Session,
    *,
    owner: User,
    name: str,
    role: Role,
    days: int,
    creator: Principal,
    max_days: int,
) -> tuple[ApiToken, str]:
    """A new token for ``owner``; returns the row and the token (its only appearance).

    Only a person (a web session, the command line) or the bootstrap token creates tokens: an
    API token cannot mint more (a leaked token must not outlive its own revocation)."""
    if creator.via == "api-token":
        raise TokenMintingError(
            "an API token cannot create tokens: log in (web session) or use `ewp fleet token "
            "create` on the fleet host"
        )
    if creator.user_id != owner.id and not creator.may(Role.ADMIN):
        raise RoleTooHighError("only an admin may create tokens for another user")
    owner_role = Role.parse(owner.role)
    if not may_grant(creator.role, owner_role, role):
        raise RoleTooHighError(
            f"a token's role cannot exceed its owner's ({owner_role.label}) or its creator's "
            f"({creator.role.label})"
        )
    if owner.disabled:
        raise AccessError(f"user {owner.username} is disabled")
    if not 1 <= days <= max_days:
        raise AccessError(f"a token lives 1 to {max_days} days")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        token_hash=secret_hash(secret),
        prefix=secret[:10],
        name=name,
        user_id=owner.id,
        role=role.label,
        created_by=creator.name,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=creator.name,
        action="token.create",
        target=owner.username,
        detail={"token_id": row.id, "name": name, "role": role.label, "days": days},
    )
    session.commit()
    return row, secret


def resolve(session: Session, secret: str, now: datetime | None = None) -> Principal | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    now = now or utcnow()
    row = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == secret_hash(secret))
    ).one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    if row.last_used_at is None or now - row.last_used_at >= LAST_SEEN_EVERY:
        row.last_used_at = now
        session.commit()
    role = effective_role(Role.parse(row.role), Role.parse(user.role))
    if role is None:
        return None
    return Principal(user.username, role, via="api-token", user_id=user.id, token_id=row.id)


def revoke(session: Session, token: ApiToken, *, actor: str) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action="token.revoke",
            target=str(token.id),
            detail={"name": token.name},
        )
        session.commit()
    return token


def visible_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    """An admin sees every token; anyone else their own."""
    query = select(ApiToken).order_by(ApiToken.id)
    if not principal.may(Role.ADMIN):
        query = query.where(ApiToken.user_id == (principal.user_id or -1))
    return list(session.scalars(query).all())
