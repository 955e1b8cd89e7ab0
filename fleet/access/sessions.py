"""Logins and web sessions.

A successful login creates a server-side session: the browser gets a random session id in an
HttpOnly, SameSite=Lax cookie and a random CSRF token (in a readable cookie and in the login
answer). The database keeps only SHA-256 hashes of both. A session ends at its absolute expiry,
after ``session_idle_minutes`` without use, at logout, or when the user is disabled, changes
role or password. State-changing requests authenticated by the cookie must repeat the CSRF
token in the ``X-CSRF-Token`` header (fleet/api/deps.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.access import throttle
from fleet.access.passwords import hash_password, needs_rehash, verify_password
from fleet.errors import LockedOutError, LoginRefusedError
from fleet.settings import AccessSettings
from fleet.store.admin_models import LoginThrottle, User, WebSession
from fleet.store.models import utcnow

log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

SESSION_COOKIE = "ewp_session"
CSRF_COOKIE = "ewp_csrf"
CSRF_HEADER = "X-CSRF-Token"
LAST_SEEN_EVERY = timedelta(seconds=60)  # write last_seen_at at most this often per session


def secret_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionPolicy:
    lifetime: timedelta
    idle: timedelta
    per_user: throttle.ThrottlePolicy
    per_address: throttle.ThrottlePolicy

    @classmethod
    def from_settings(cls, access: AccessSettings) -> SessionPolicy:
        window = timedelta(minutes=access.login_failure_window_minutes)
        lockout = timedelta(minutes=access.login_lockout_minutes)
        return cls(
            lifetime=timedelta(hours=access.session_hours),
            idle=timedelta(minutes=access.session_idle_minutes),
            per_user=throttle.ThrottlePolicy(access.login_max_failures, window, lockout),
            per_address=throttle.ThrottlePolicy(
                access.login_max_failures_per_address, window, lockout
            ),
        )


@dataclass(frozen=True)
class NewSession:
    session_id: str  # the cookie's value: given to the browser, never stored
    csrf_token: str
    expires_at: datetime
    user: User


def login(
    session: Session,
    username: str,
    password: str,
    *,
    client_address: str,
    user_agent: str,
    policy: SessionPolicy,
    now: datetime | None = None,
) -> NewSession:
    """Check the password and open a session; LoginRefusedError / LockedOutError if not."""
    now = now or utcnow()
    username = username[:64]
    user_key, address_key = f"user:{username}", f"addr:{client_address[:64]}"
    actor = f"anonymous@{client_address[:64]}"
    wait = max(
        throttle.locked_for(session, user_key, now),
        throttle.locked_for(session, address_key, now),
    )
    if wait:
        # Not audited one by one (the lockout itself is): attempts on a locked key cost no
        # password check, and must not let anyone flood the hash-chained log.
        security.warning("login for %s from %s refused: locked out", username, client_address)
        raise LockedOutError(f"too many failed logins: try again in {wait} s", wait)
    user = session.scalars(select(User).where(User.username == username)).one_or_none()
    password_ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not password_ok or user.disabled:
        reason = "disabled" if user is not None and password_ok else "bad credentials"
        locked = throttle.record_failure(session, user_key, policy.per_user, now)
        locked = throttle.record_failure(session, address_key, policy.per_address, now) or locked
        audit.record(
            session,
            actor=actor,
            action="auth.login-failed",
            target=username,
            detail={"reason": reason},
        )
        if locked:
            audit.record(
                session,
                actor="fleet:access",
                action="security.login-lockout",
                target=username,
                detail={"address": client_address[:64]},
            )
        _forget_old_failures(session, now, policy)
        session.commit()
        security.warning("failed login for %s from %s (%s)", username, client_address, reason)
        raise LoginRefusedError("wrong username or password")
    throttle.clear(session, user_key)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session_id, csrf_token = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + policy.lifetime
    session.add(
        WebSession(
            id_hash=secret_hash(session_id),
            user_id=user.id,
            csrf_hash=secret_hash(csrf_token),
            created_at=now,
            expires_at=expires_at,
            last_seen_at=now,
            client_address=client_address[:64],
            user_agent=user_agent[:200],
        )
    )
    user.last_login_at = now
    audit.record(
        session,
        actor=user.username,
        action="auth.login",
        target=user.username,
        detail={"address": client_address[:64]},
    )
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    session.commit()
    return NewSession(session_id, csrf_token, expires_at, user)


def _forget_old_failures(session: Session, now: datetime, policy: SessionPolicy) -> None:
    """Failure counts of long ago (a flood of made-up usernames must not grow the table)."""
    horizon = now - max(policy.per_user.window, policy.per_address.window) - timedelta(hours=1)
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.window_start < horizon,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now),
        )
    )


def resolve(
    session: Session,
    session_id: str,
    policy: SessionPolicy,
    now: datetime | None = None,
    *,
    touch: bool = True,
) -> tuple[WebSession, User] | None:
    """The live session and its user for a cookie value; None if ended (and then removed).
    ``touch=False``: a page polling by itself, which must not keep an idle session alive."""
    now = now or utcnow()
    row = session.get(WebSession, secret_hash(session_id))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    if row.expires_at <= now or now - row.last_seen_at > policy.idle or user is None:
        session.delete(row)
        session.commit()
        return None
    if user.disabled:
        session.delete(row)
        session.commit()
        return None
    if touch and now - row.last_seen_at >= LAST_SEEN_EVERY:
        row.last_seen_at = now
        session.commit()
    return row, user


def csrf_matches(row: WebSession, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(secret_hash(token), row.csrf_hash)


def logout(session: Session, id_hash: str, *, actor: str) -> None:
    row = session.get(WebSession, id_hash)
    if row is None:
        return
    session.delete(row)
    audit.record(session, actor=actor, action="auth.logout", target=actor)
    session.commit()
