"""Who may use the fleet service: users, their web sessions, API tokens, and the record of
failed logins that slows down password guessing (fleet/access/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.models import Base, UtcDateTime, utcnow


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    role: Mapped[str] = mapped_column(String(32))  # Role.label
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A logged-in browser. Only hashes are stored: a copy of the database opens no session."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class ApiToken(Base):
    """A bearer token for scripts: shown once, stored as its SHA-256 (it is 256 random bits)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise it
    name: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(32))  # at most the owner's role
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class LoginThrottle(Base):
    """Failed logins per username (``user:NAME``) and per client address (``addr:IP``)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)


class StationKey(Base):
    """Every Ed25519 key a station ever registered (claim or rotation), so a packet signed
    before a rotation can still be verified later, by its header's signer key id."""

    __tablename__ = "station_keys"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    key_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 raw Ed25519
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    how: Mapped[str] = mapped_column(String(16))  # claim | rotation
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
