"""Web sessions, passwords, users and API tokens, as the API and the dashboard ask for them."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy.orm import Session

from fleet.access import sessions as web_sessions
from fleet.access import tokens, users
from fleet.access.passwords import verify_password
from fleet.context import FleetContext
from fleet.errors import InvalidError, LockedOutError, LoginRefusedError, NotFoundError
from fleet.roles import Principal, Role
from fleet.store.admin_models import ApiToken, User


class Client(NamedTuple):
    """Who is logging in, as far as the request says."""

    address: str
    user_agent: str


def login(
    session: Session,
    context: FleetContext,
    username: str,
    password: str,
    client: Client,
) -> web_sessions.NewSession:
    """A new web session, counted by outcome; failed logins are counted per username and per
    address, then locked out (``LockedOutError``)."""
    try:
        new = web_sessions.login(
            session,
            username,
            password,
            client_address=client.address,
            user_agent=client.user_agent,
            policy=context.session_policy,
        )
    except LockedOutError:
        context.metrics.logins.labels(outcome="locked").inc()
        raise
    except LoginRefusedError:
        context.metrics.logins.labels(outcome="failed").inc()
        raise
    context.metrics.logins.labels(outcome="ok").inc()
    return new


def logout(session: Session, caller: Principal) -> None:
    """End the caller's web session (with a bearer token there is nothing to end)."""
    if caller.session_hash is not None:
        web_sessions.logout(session, caller.session_hash, actor=caller.name)


def user_of(session: Session, caller: Principal) -> User | None:
    """The caller's user (None for the bootstrap admin token)."""
    return session.get(User, caller.user_id) if caller.user_id is not None else None


def change_password(session: Session, caller: Principal, current: str, new: str) -> None:
    """Ends all the caller's web sessions and revokes their API tokens."""
    user = user_of(session, caller)
    if user is None:
        raise InvalidError("the bootstrap token has no password")
    if not verify_password(user.password_hash, current):
        raise InvalidError("the current password is wrong")
    users.update_user(session, user.username, actor=caller.name, password=new)


def token_owner_name(session: Session, token: ApiToken) -> str:
    user = session.get(User, token.user_id)
    return user.username if user is not None else "?"


def create_token(
    session: Session,
    context: FleetContext,
    caller: Principal,
    *,
    name: str,
    username: str | None,
    role: str | None,
    days: int | None,
) -> tuple[ApiToken, User, str]:
    """A token for the caller, or (admins) for ``username``; its role is at most the owner's
    and the caller's. Returns the row, its owner and the token (shown only once)."""
    if username is not None:
        owner = users.get_user(session, username)
    else:
        found = user_of(session, caller)
        if found is None:
            raise InvalidError(
                "the bootstrap token is no user: name the token's owner in `username`"
            )
        owner = found
    chosen = (
        Role.parse(role)
        if role is not None
        else tokens.default_role(caller.role, Role.parse(owner.role))
    )
    access = context.settings.access
    row, secret = tokens.create_token(
        session,
        owner=owner,
        name=name,
        role=chosen,
        days=days or min(access.token_default_days, access.token_max_days),
        creator=caller,
        max_days=access.token_max_days,
    )
    return row, owner, secret


def revoke_token(session: Session, caller: Principal, token_id: int) -> ApiToken:
    """One of the caller's tokens (admins: anyone's); it stops working at once."""
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != caller.user_id and not caller.may(Role.ADMIN)):
        raise NotFoundError(f"no token {token_id}")
    return tokens.revoke(session, row, actor=caller.name)
