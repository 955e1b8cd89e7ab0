"""Tables of fleet operations: health history and liveness, alerts and their notifications,
desired configuration, reconciliation, and application status from the central system.

Kept apart from fleet/store/models.py (the registry and the packet spine); both share one
``Base``, so one Alembic history covers them (fleet/store/migrations/env.py imports this)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from fleet.store.models import Base, UtcDateTime, utcnow

_BIG_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only

# -- health ------------------------------------------------------------------------------------


class HealthSample(Base):
    """One heartbeat, as the time series keeps it (raw resolution, kept `raw_retention_days`)."""

    __tablename__ = "health_samples"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    station_id: Mapped[str] = mapped_column(ForeignKey("stations.station_id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # when the fleet received it
    queue_pending: Mapped[int] = mapped_column(Integer)  # pending + sending
    queue_pending_bytes: Mapped[int] = mapped_column(BigInteger)
    oldest_pending_age_s: Mapped[float | None] = mapped_column(Float)
    disk_free_pct: Mapped[float | None] = mapped_column(Float)
    cpu_temperature_c: Mapped[float | None] = mapped_column(Float)
    battery_v: Mapped[float | None] = mapped_column(Float)
    external_power: Mapped[bool | None] = mapped_column(Boolean)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    humidity_pct: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    sensors_faulty: Mapped[int] = mapped_column(Integer, default=0)
    sensors: Mapped[str] = mapped_column(Text, default="{}")  # {"fingerprint": "ok", ...}
    # The heartbeat's counters, for a rollout's soak check (fleet/updates/soak.py); since the
    # agent started (``agent_starts``: ever), so a fall means a restart.
    enrolments_completed: Mapped[int | None] = mapped_column(BigInteger)
    attempts_ok: Mapped[int | None] = mapped_column(BigInteger)
    attempts_failed: Mapped[int | None] = mapped_column(BigInteger)
    sensor_errors: Mapped[int | None] = mapped_column(BigInteger)
    agent_starts: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_health_samples_station_at", "station_id", "at"),
        Index("ix_health_samples_at", "at"),
    )


class HealthRollup(Base):
    """Heartbeats aggregated per station and bucket: 5 minutes (300) or one hour (3600)."""

    __tablename__ = "health_rollups"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    resolution_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    samples: Mapped[int] = mapped_column(Integer)
    queue_pending_avg: Mapped[float] = mapped_column(Float)
    queue_pending_max: Mapped[int] = mapped_column(Integer)
    oldest_pending_age_max_s: Mapped[float | None] = mapped_column(Float)
    disk_free_pct_min: Mapped[float | None] = mapped_column(Float)
    cpu_temperature_avg_c: Mapped[float | None] = mapped_column(Float)
    cpu_temperature_max_c: Mapped[float | None] = mapped_column(Float)
    battery_v_min: Mapped[float | None] = mapped_column(Float)
    temperature_avg_c: Mapped[float | None] = mapped_column(Float)
    humidity_avg_pct: Mapped[float | None] = mapped_column(Float)
    latitude: Mapped[float | None] = mapped_column(Float)  # the bucket's last position
    longitude: Mapped[float | None] = mapped_column(Float)
    sensor_fault_samples: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_health_rollups_resolution_bucket", "resolution_s", "bucket_start"),)


class OpsWatermark(Base):
    """How far a periodic job got (e.g. rollups done up to a bucket boundary)."""

    __tablename__ = "ops_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(UtcDateTime)


class StationLiveness(Base):
    """Online or offline, why and since when: from the status topic (last will) and from the
    missed-heartbeat timeout (1.5 x the station's heartbeat interval)."""

    __tablename__ = "station_liveness"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(16))  # online | offline
    reason: Mapped[str] = mapped_column(String(32))  # heartbeat | status | last will | ...
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    heartbeat_interval_s: Mapped[float] = mapped_column(Float)
    expected_by: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)


class StationLatestHealth(Base):
    """A station's newest heartbeat in typed columns (one row per station, replaced by each
    heartbeat): what the fleet-wide views and the alert rules compare across thousands of
    stations without reading every station's heartbeat JSON."""

    __tablename__ = "station_latest_health"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)  # when the fleet received it
    waiting: Mapped[int] = mapped_column(Integer)  # pending + sending
    waiting_bytes: Mapped[int] = mapped_column(BigInteger)
    # The oldest waiting packet's age as the station said, as a moment: its age now is
    # now - oldest_pending_since, and the oldest backlog is the smallest value.
    oldest_pending_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disk_used_pct: Mapped[float | None] = mapped_column(Float)
    cpu_temperature_c: Mapped[float | None] = mapped_column(Float)
    battery_v: Mapped[float | None] = mapped_column(Float)
    external_power: Mapped[bool | None] = mapped_column(Boolean)
    sensors_faulty: Mapped[int] = mapped_column(Integer)
    tamper_latched: Mapped[bool | None] = mapped_column(Boolean)

    # The fleet's extremes (fleet/health/reads.py: fleet_numbers) are index look-ups.
    __table_args__ = (
        Index("ix_station_latest_health_oldest_pending_since", "oldest_pending_since"),
        Index("ix_station_latest_health_disk_used_pct", "disk_used_pct"),
        Index("ix_station_latest_health_cpu_temperature_c", "cpu_temperature_c"),
        Index("ix_station_latest_health_battery_v", "battery_v"),
    )


# -- alerts ------------------------------------------------------------------------------------


class Alert(Base):
    """A raised alert. While active, ``active_key`` = "rule/station" is unique: one alert per
    rule and station, however often the condition is seen. Cleared alerts keep their row."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(32))
    station_id: Mapped[str] = mapped_column(String(63), index=True)
    active_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_note: Mapped[str | None] = mapped_column(String(500))


class AlertNotification(Base):
    """A webhook notification waiting to be delivered (outbox: it survives a fleet restart)."""

    __tablename__ = "alert_notifications"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))  # raised | cleared | acknowledged
    payload: Mapped[str] = mapped_column(Text)  # the JSON body, fixed when queued
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_alert_notifications_due", "state", "next_attempt_at"),)


# -- configuration -----------------------------------------------------------------------------


class ConfigLayer(Base):
    """One layer of desired configuration: the fleet's (target "*"), a tag's or a station's.
    ``document`` is a partial StationConfig (JSON); layers merge fleet -> tags -> station."""

    __tablename__ = "config_layers"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)  # fleet | tag | station
    target: Mapped[str] = mapped_column(String(63), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class ConfigLayerRevision(Base):
    """Every version a layer ever had (``document`` null: the layer was removed)."""

    __tablename__ = "config_layer_revisions"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (Index("ix_config_layer_revisions_layer", "scope", "target", "version"),)


class StationTag(Base):
    """Group membership for configuration: a station may carry several tags."""

    __tablename__ = "station_tags"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)


class StationConfigState(Base):
    """A station's merged desired configuration, what was published, and what it applied."""

    __tablename__ = "station_config"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    desired_version: Mapped[int] = mapped_column(Integer, default=0)  # 0: none (local settings)
    desired_sha256: Mapped[str | None] = mapped_column(String(64))
    desired_document: Mapped[str | None] = mapped_column(Text)  # the whole StationConfig
    desired_sources: Mapped[str] = mapped_column(Text, default="[]")  # the layers merged
    desired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_version: Mapped[int | None] = mapped_column(Integer)
    applied_sha256: Mapped[str | None] = mapped_column(String(64))
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    report_status: Mapped[str | None] = mapped_column(String(16))  # applied | refused
    report_desired_version: Mapped[int | None] = mapped_column(Integer)
    report_error: Mapped[str | None] = mapped_column(Text)
    report_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# -- reconciliation ----------------------------------------------------------------------------


class ReconciliationState(Base):
    """A station's latest reconciliation: what it says it created against what arrived."""

    __tablename__ = "reconciliation_stations"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    station_at: Mapped[str] = mapped_column(String(40))  # the report's own timestamp
    last_seq: Mapped[int] = mapped_column(BigInteger)
    high_water_seq: Mapped[int] = mapped_column(BigInteger)  # the highest last_seq ever seen
    created_total: Mapped[int] = mapped_column(BigInteger)
    received_total: Mapped[int] = mapped_column(BigInteger)
    pending_total: Mapped[int] = mapped_column(BigInteger)
    lost_total: Mapped[int] = mapped_column(BigInteger)
    lost_seqs: Mapped[str] = mapped_column(Text, default="[]")  # ranges (JSON)
    missing_at_station: Mapped[str] = mapped_column(Text, default="[]")  # ranges (JSON)
    duplicate_seqs: Mapped[str] = mapped_column(Text, default="[]")  # ranges (JSON)


class ReconciliationDayRow(Base):
    """Per station and Bangkok day: created, received, still waiting, lost."""

    __tablename__ = "reconciliation_days"

    station_id: Mapped[str] = mapped_column(
        ForeignKey("stations.station_id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, Asia/Bangkok
    created: Mapped[int] = mapped_column(Integer)
    received: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    lost: Mapped[int] = mapped_column(Integer)
    lost_seqs: Mapped[str] = mapped_column(Text, default="[]")  # ranges (JSON)
    first_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_seq: Mapped[int | None] = mapped_column(BigInteger)


# -- central hand-off and application status ------------------------------------------------------


class ApplicationRecord(Base):
    """An application as the central system reports it: where it came from and its status.

    Personal data stays sealed: the passport number is kept only as a salted scrypt hash, to
    check an applicant's status lookup."""

    __tablename__ = "applications"

    application_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    packet_id: Mapped[str] = mapped_column(String(32), index=True)
    station_id: Mapped[str] = mapped_column(String(63), index=True)
    passport_salt: Mapped[str] = mapped_column(String(32))  # hex
    passport_hash: Mapped[str] = mapped_column(String(64))  # hex scrypt
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    status_at: Mapped[datetime] = mapped_column(UtcDateTime)  # as the central system says
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)  # when the fleet recorded it
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # sent to the station


class ApplicationStatusEvent(Base):
    """Every status the central system posted for an application."""

    __tablename__ = "application_status_events"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    application_number: Mapped[str] = mapped_column(
        ForeignKey("applications.application_number", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(500))
    status_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))
