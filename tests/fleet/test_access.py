"""Users, logins, sessions and API tokens at the service level, with a controllable clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.access import sessions as web_sessions
from fleet.access import tokens, users
from fleet.access.throttle import ThrottlePolicy
from fleet.errors import (
    AccessError,
    LastAdminError,
    LockedOutError,
    LoginRefusedError,
    RoleTooHighError,
    TokenMintingError,
)
from fleet.roles import Principal, Role
from fleet.store.admin_models import User
from fleet.store.db import make_engine, session_factory
from fleet.store.models import AuditEntry, utcnow

PASSWORD = "a long enough test passphrase"
POLICY = web_sessions.SessionPolicy(
    lifetime=timedelta(hours=12),
    idle=timedelta(minutes=30),
    per_user=ThrottlePolicy(5, timedelta(minutes=15), timedelta(minutes=15)),
    per_address=ThrottlePolicy(8, timedelta(minutes=15), timedelta(minutes=15)),
)
BOOTSTRAP = Principal("admin-token", Role.ADMIN)


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def add(session: Session, name: str, role: Role = Role.VIEWER) -> User:
    return users.create_user(session, name, PASSWORD, role=role, actor="test")


def attempt(
    session: Session,
    name: str,
    password: str,
    address: str = "10.0.0.1",
    now: datetime | None = None,
) -> web_sessions.NewSession:
    return web_sessions.login(
        session, name, password, client_address=address, user_agent="t", policy=POLICY, now=now
    )


def actions(session: Session) -> list[str]:
    return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_passwords_are_argon2id_and_weak_ones_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        user = add(session, "somchai")
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        for weak in ("short", "aaaaaaaaaaaaaaaa"):
            with pytest.raises(AccessError):
                users.create_user(session, "weak-one", weak, role=Role.VIEWER, actor="test")


def test_failed_logins_lock_the_username_for_a_while(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions() as session:
        add(session, "malee")
        for n in range(5):
            with pytest.raises(LoginRefusedError):
                attempt(session, "malee", f"wrong guess {n}", now=now + timedelta(seconds=n))
        with pytest.raises(LockedOutError) as locked:
            attempt(session, "malee", PASSWORD, now=now + timedelta(minutes=1))
        assert 0 < locked.value.retry_after <= 15 * 60
        # From another address too: the username itself is locked.
        with pytest.raises(LockedOutError):
            attempt(session, "malee", PASSWORD, "10.9.9.9", now=now + timedelta(minutes=2))
        opened = attempt(session, "malee", PASSWORD, now=now + timedelta(minutes=16))
        assert opened.user.username == "malee"
        trail = actions(session)
    assert trail.count("auth.login-failed") == 5
    assert "security.login-lockout" in trail and "auth.login-locked" not in trail
    assert trail[-1] == "auth.login"


def test_one_address_guessing_many_usernames_is_locked(sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    with sessions() as session:
        add(session, "niran")
        for n in range(8):
            with pytest.raises(LoginRefusedError):
                attempt(session, f"guess-{n}", "whatever password", "10.6.6.6", now=now)
        with pytest.raises(LockedOutError):
            attempt(session, "niran", PASSWORD, "10.6.6.6", now=now)
        assert attempt(session, "niran", PASSWORD, "10.7.7.7", now=now).user.username == "niran"


def test_unknown_and_disabled_users_are_refused_alike(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        add(session, "kanya")
        users.update_user(session, "kanya", actor="test", disabled=True)
        for name in ("kanya", "nobody-at-all"):
            with pytest.raises(LoginRefusedError, match="wrong username or password"):
                attempt(session, name, PASSWORD)


def test_sessions_end_at_expiry_when_idle_and_on_role_change(
    sessions: sessionmaker[Session],
) -> None:
    now = utcnow()
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        add(session, "prasert", Role.OPERATOR)
        idle = attempt(session, "prasert", PASSWORD, now=now)
        assert web_sessions.resolve(session, idle.session_id, POLICY, now + timedelta(minutes=29))
        assert (
            web_sessions.resolve(session, idle.session_id, POLICY, now + timedelta(minutes=70))
            is None
        )
        busy = attempt(session, "prasert", PASSWORD, now=now)
        for minutes in range(20, 12 * 60, 20):  # used every 20 minutes: idle never strikes
            assert web_sessions.resolve(
                session, busy.session_id, POLICY, now + timedelta(minutes=minutes)
            )
        assert (
            web_sessions.resolve(session, busy.session_id, POLICY, now + timedelta(hours=12))
            is None
        )
        demoted = attempt(session, "prasert", PASSWORD, now=utcnow())
        users.update_user(session, "prasert", actor="test", role=Role.VIEWER)
        assert web_sessions.resolve(session, demoted.session_id, POLICY) is None


def test_a_page_polling_by_itself_does_not_keep_an_idle_session_alive(
    sessions: sessionmaker[Session],
) -> None:
    now = utcnow()
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        wall = attempt(session, "admin1", PASSWORD, now=now)
        for minutes in (5, 10, 15, 20, 25):  # the dashboard's overview refreshing itself
            when = now + timedelta(minutes=minutes)
            assert web_sessions.resolve(session, wall.session_id, POLICY, when, touch=False)
        after = now + timedelta(minutes=31)
        assert web_sessions.resolve(session, wall.session_id, POLICY, after, touch=False) is None


def test_the_last_admin_cannot_be_demoted_or_disabled(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        add(session, "boss", Role.ADMIN)
        with pytest.raises(LastAdminError):
            users.update_user(session, "boss", actor="test", role=Role.OPERATOR)
        with pytest.raises(LastAdminError):
            users.update_user(session, "boss", actor="test", disabled=True)
        add(session, "boss2", Role.ADMIN)
        users.update_user(session, "boss", actor="test", role=Role.OPERATOR)


def test_api_tokens_role_cap_expiry_revocation_and_last_use(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        ops = add(session, "ops", Role.OPERATOR)
        me = Principal("ops", Role.OPERATOR, via="session", user_id=ops.id)
        with pytest.raises(RoleTooHighError):
            tokens.create_token(
                session, owner=ops, name="x", role=Role.ADMIN, days=1, creator=BOOTSTRAP, max_days=9
            )
        other = add(session, "other")
        with pytest.raises(RoleTooHighError, match="another user"):
            tokens.create_token(
                session, owner=other, name="x", role=Role.VIEWER, days=1, creator=me, max_days=9
            )
        with pytest.raises(AccessError):
            tokens.create_token(
                session, owner=ops, name="x", role=Role.VIEWER, days=10, creator=me, max_days=9
            )
        row, secret = tokens.create_token(
            session, owner=ops, name="cron", role=Role.OPERATOR, days=1, creator=me, max_days=9
        )
        assert secret.startswith("ewp_") and secret not in row.token_hash
        found = tokens.resolve(session, secret)
        assert found is not None and (found.name, found.role, found.via) == (
            "ops",
            Role.OPERATOR,
            "api-token",
        )
        assert row.last_used_at is not None
        users.update_user(session, "ops", actor="test", role=Role.VIEWER)
        capped = tokens.resolve(session, secret)
        assert capped is not None and capped.role == Role.VIEWER, (
            "a demoted owner demotes the token"
        )
        assert tokens.resolve(session, secret, utcnow() + timedelta(days=2)) is None, "expired"
        tokens.revoke(session, row, actor="ops")
        assert tokens.resolve(session, secret) is None
        assert "token.revoke" in actions(session)


def test_central_stands_beside_the_ladder() -> None:
    central = Principal("central", Role.CENTRAL)
    assert central.may(Role.CENTRAL)
    assert not any(central.may(r) for r in Role if r is not Role.CENTRAL)
    assert not any(Principal("x", r).may(Role.CENTRAL) for r in Role if r is not Role.CENTRAL)
    assert Role.parse("central") is Role.CENTRAL and Role.CENTRAL.label == "central"


def test_central_tokens_are_made_by_an_admin_and_only_for_a_central_user(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        system = add(session, "central", Role.CENTRAL)
        ops = add(session, "ops", Role.OPERATOR)
        assert tokens.default_role(Role.ADMIN, Role.CENTRAL) is Role.CENTRAL
        _, secret = tokens.create_token(
            session,
            owner=system,
            name="c",
            role=Role.CENTRAL,
            days=1,
            creator=BOOTSTRAP,
            max_days=9,
        )
        found = tokens.resolve(session, secret)
        assert found is not None and found.role is Role.CENTRAL
        for owner, role in ((ops, Role.CENTRAL), (system, Role.VIEWER), (system, Role.ADMIN)):
            with pytest.raises(RoleTooHighError):
                tokens.create_token(
                    session, owner=owner, name="x", role=role, days=1, creator=BOOTSTRAP, max_days=9
                )
        # A central user moved onto the ladder: their central token no longer works at all.
        users.update_user(session, "central", actor="test", role=Role.ADMIN)
        assert tokens.resolve(session, secret) is None
        # The last admin cannot be moved off the ladder to central either.
        users.update_user(session, "admin1", actor="test", role=Role.VIEWER)
        with pytest.raises(LastAdminError):
            users.update_user(session, "central", actor="test", role=Role.CENTRAL)


def test_a_new_password_revokes_the_users_tokens_and_tokens_mint_none(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        add(session, "admin1", Role.ADMIN)
        ops = add(session, "ops", Role.OPERATOR)
        other = add(session, "other", Role.OPERATOR)
        me = Principal("ops", Role.OPERATOR, via="session", user_id=ops.id)
        _, mine = tokens.create_token(
            session, owner=ops, name="a", role=Role.OPERATOR, days=1, creator=me, max_days=9
        )
        _, theirs = tokens.create_token(
            session, owner=other, name="b", role=Role.VIEWER, days=1, creator=BOOTSTRAP, max_days=9
        )
        as_token = tokens.resolve(session, mine)
        assert as_token is not None and as_token.via == "api-token"
        with pytest.raises(TokenMintingError):
            tokens.create_token(
                session, owner=ops, name="c", role=Role.VIEWER, days=1, creator=as_token, max_days=9
            )
        users.update_user(session, "ops", actor="test", password="a brand new passphrase")
        assert tokens.resolve(session, mine) is None, "the old password's tokens are revoked"
        assert tokens.resolve(session, theirs) is not None, "another user's tokens stay"
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user.update").order_by(AuditEntry.id)
        ).all()[-1]
        assert json.loads(entry.detail)["tokens_revoked"] == 1
