"""The fleet's durable state (SQLAlchemy 2, SQLite by default, PostgreSQL when one box is not
enough). Schema changes go through Alembic migrations in fleet/store/migrations/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Clock = Callable[[], datetime]  # the time now, an aware UTC datetime; tests drive it by hand


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored: use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Station(Base):
    __tablename__ = "stations"

    station_id: Mapped[str] = mapped_column(String(63), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # mobile | center
    state: Mapped[str] = mapped_column(String(16))  # awaiting_claim | active | revoked
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    claim_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    public_key: Mapped[str | None] = mapped_column(String(64))  # base64 Ed25519
    key_id: Mapped[str | None] = mapped_column(String(16))
    online: Mapped[bool] = mapped_column(default=False)
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    software_version: Mapped[str | None] = mapped_column(String(64))
    last_heartbeat: Mapped[str | None] = mapped_column(Text)  # the latest Heartbeat JSON
    # The registry (fleet/registry.py).
    region: Mapped[str | None] = mapped_column(String(64))
    province: Mapped[str | None] = mapped_column(String(8))  # ISO 3166-2 code, e.g. TH-10
    tags: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    operators: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON list
    firmware_version: Mapped[str | None] = mapped_column(String(64))  # controller board
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Rotation (fleet/rotation.py): the key before the last rotation, accepted until a deadline.
    previous_public_key: Mapped[str | None] = mapped_column(String(64))
    previous_key_id: Mapped[str | None] = mapped_column(String(16))
    previous_key_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    key_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    credentials_rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Packet(Base):
    """A sealed packet stored at the fleet: exactly one row per packet id."""

    __tablename__ = "packets"

    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[str] = mapped_column(String(40))  # the station's timestamp, as signed
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    path: Mapped[str] = mapped_column(String(500))  # relative to the packet directory
    resends: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="received")

    __table_args__ = (Index("ix_packets_station_seq", "station_id", "seq"),)


class StationPacketCount(Base):
    """Running totals of a station's stored packets, kept with each packet's row (packets are
    never deleted): the summary reads one row per station, not every packet."""

    __tablename__ = "station_packet_counts"

    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), primary_key=True)
    packets: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    resends: Mapped[int] = mapped_column(BigInteger)


class PacketChunk(Base):
    """Chunks received but not yet assembled; any ingest worker may hold the last one."""

    __tablename__ = "packet_chunks"

    packet_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    station_id: Mapped[str] = mapped_column(String(63), index=True)
    count: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    header: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Rejection(Base):
    """Something a station sent that was refused: kept as a security record."""

    __tablename__ = "rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    station_id: Mapped[str] = mapped_column(String(63), index=True)  # as the topic claimed
    packet_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)


class QuarantinedMessage(Base):
    """A message from a station that could not be handled (fleet/ingest/quarantine.py): kept
    here with why, acknowledged to the broker, never handled again."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    station_id: Mapped[str] = mapped_column(String(63), index=True)  # as the topic claimed
    topic: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    excerpt: Mapped[bytes] = mapped_column(LargeBinary)  # the first bytes, for a diagnosis


class StationEventRow(Base):
    __tablename__ = "station_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)


class StationCommand(Base):
    """A command sent to a station and, once it answers, its signed response."""

    __tablename__ = "station_commands"

    command_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    args: Mapped[str] = mapped_column(Text)  # JSON
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="sent")  # sent | answered
    status: Mapped[str | None] = mapped_column(String(16))
    response: Mapped[str | None] = mapped_column(Text)  # the signed CommandResponse JSON
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AuditEntry(Base):
    """One entry of the hash-chained audit log (fleet/audit.py)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's newest entry (one row), locked by every append so appends serialise."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
