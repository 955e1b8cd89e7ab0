"""What the operations routes show: health, alerts (and, further down, configuration,
reconciliation, central hand-off). Never secrets, never personal data."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from fleet.health.history import HealthPoint
from fleet.health.reads import FleetNumbers, StationHealth
from fleet.store.ops_models import Alert, AlertNotification
from protocol.ops_messages import ApplicationState

# -- health ------------------------------------------------------------------------------------


class QueueView(BaseModel):
    waiting: int = Field(description="pending + sending")
    waiting_bytes: int
    oldest_waiting_age_s: float | None = Field(
        description="the oldest waiting packet's age now (it keeps ageing between heartbeats)"
    )
    created_total: int
    last_seq: int


class SensorView(BaseModel):
    kind: str
    state: str
    detail: str | None


class PositionView(BaseModel):
    latitude: float
    longitude: float
    at: str | None


class StationHealthPublic(BaseModel):
    station_id: str
    kind: str
    state: Literal["online", "offline", "never-seen", "revoked"]
    reason: str | None = Field(description="heartbeat, status, last will, heartbeat-timeout, ...")
    since: datetime | None
    last_heartbeat_at: datetime | None
    heartbeat_interval_s: float | None
    expected_by: datetime | None = Field(description="offline if no heartbeat by then")
    software_version: str | None
    queue: QueueView | None
    disk_free_pct: float | None
    cpu_temperature_c: float | None
    battery_v: float | None
    external_power: bool | None
    temperature_c: float | None
    humidity_pct: float | None
    position: PositionView | None
    tamper_latched: bool | None
    sensors: list[SensorView]

    @classmethod
    def of(cls, health: StationHealth) -> StationHealthPublic:
        hb = health.heartbeat
        env = hb.environment if hb else None
        position = None
        if env is not None and env.latitude is not None and env.longitude is not None:
            position = PositionView(
                latitude=env.latitude, longitude=env.longitude, at=env.position_at
            )
        queue = None
        if hb is not None:
            queue = QueueView(
                waiting=hb.queue.pending + hb.queue.sending,
                waiting_bytes=hb.queue.pending_bytes,
                oldest_waiting_age_s=health.backlog_age_s,
                created_total=hb.queue.created_total,
                last_seq=hb.queue.last_seq,
            )
        used = health.disk_used_pct
        return cls(
            station_id=health.station_id,
            kind=health.kind,
            state=health.state,
            reason=health.reason,
            since=health.since,
            last_heartbeat_at=health.last_heartbeat_at,
            heartbeat_interval_s=health.heartbeat_interval_s,
            expected_by=health.expected_by,
            software_version=hb.software_version if hb else None,
            queue=queue,
            disk_free_pct=None if used is None else round(100 - used, 2),
            cpu_temperature_c=hb.cpu_temperature_c if hb else None,
            battery_v=env.battery_v if env else None,
            external_power=env.external_power if env else None,
            temperature_c=env.temperature_c if env else None,
            humidity_pct=env.humidity_pct if env else None,
            position=position,
            tamper_latched=env.tamper_latched if env else None,
            sensors=[
                SensorView(kind=s.kind, state=s.state, detail=s.detail)
                for s in (hb.sensors if hb else [])
            ],
        )


class HealthPointPublic(BaseModel):
    at: datetime
    samples: int
    queue_waiting: float = Field(description="average over the bucket (the value for raw)")
    queue_waiting_max: int
    oldest_waiting_age_s: float | None
    disk_free_pct: float | None = Field(description="lowest in the bucket")
    cpu_temperature_c: float | None = Field(description="average in the bucket")
    cpu_temperature_max_c: float | None
    battery_v: float | None = Field(description="lowest in the bucket")
    temperature_c: float | None
    humidity_pct: float | None
    latitude: float | None
    longitude: float | None
    sensor_faults: int = Field(description="samples with a faulty sensor")

    @classmethod
    def of(cls, point: HealthPoint) -> HealthPointPublic:
        return cls(
            at=point.at,
            samples=point.samples,
            queue_waiting=point.queue_pending,
            queue_waiting_max=point.queue_pending_max,
            oldest_waiting_age_s=point.oldest_pending_age_s,
            disk_free_pct=point.disk_free_pct,
            cpu_temperature_c=point.cpu_temperature_c,
            cpu_temperature_max_c=point.cpu_temperature_max_c,
            battery_v=point.battery_v,
            temperature_c=point.temperature_c,
            humidity_pct=point.humidity_pct,
            latitude=point.latitude,
            longitude=point.longitude,
            sensor_faults=point.sensor_faults,
        )


class HealthHistory(BaseModel):
    station_id: str
    since: datetime
    until: datetime
    resolution: Literal["raw", "5m", "1h"]
    points: list[HealthPointPublic]


class StationCounts(BaseModel):
    total: int
    online: int
    offline: int
    offline_by_timeout: int = Field(description="caught by the missed-heartbeat timeout")
    never_seen: int
    revoked: int


class Extreme(BaseModel):
    station_id: str
    value: float


class FleetHealth(BaseModel):
    at: datetime
    stations: StationCounts
    waiting_total: int = Field(description="packets waiting at all stations")
    waiting_bytes_total: int
    stations_with_backlog: int
    oldest_backlog: Extreme | None = Field(description="seconds: the oldest waiting packet")
    lowest_disk_free_pct: Extreme | None
    hottest_cpu_c: Extreme | None
    lowest_battery_v: Extreme | None
    stations_with_sensor_faults: int
    stations_tamper_latched: int
    stations_on_battery: int
    alerts_active: int
    alerts_unacknowledged: int
    alerts_by_rule: dict[str, int]


def fleet_health(at: datetime, numbers: FleetNumbers, active_alerts: list[Alert]) -> FleetHealth:
    def extreme(found: tuple[str, float] | None) -> Extreme | None:
        return None if found is None else Extreme(station_id=found[0], value=found[1])

    states = numbers.by_state
    return FleetHealth(
        at=at,
        stations=StationCounts(
            total=sum(states.values()),
            online=states.get("online", 0),
            offline=states.get("offline", 0),
            offline_by_timeout=numbers.offline_by_timeout,
            never_seen=states.get("never-seen", 0),
            revoked=states.get("revoked", 0),
        ),
        waiting_total=numbers.waiting_total,
        waiting_bytes_total=numbers.waiting_bytes_total,
        stations_with_backlog=numbers.stations_with_backlog,
        oldest_backlog=extreme(numbers.oldest_backlog),
        lowest_disk_free_pct=extreme(numbers.lowest_disk_free_pct),
        hottest_cpu_c=extreme(numbers.hottest_cpu_c),
        lowest_battery_v=extreme(numbers.lowest_battery_v),
        stations_with_sensor_faults=numbers.stations_with_sensor_faults,
        stations_tamper_latched=numbers.stations_tamper_latched,
        stations_on_battery=numbers.stations_on_battery,
        alerts_active=len(active_alerts),
        alerts_unacknowledged=sum(1 for a in active_alerts if a.acknowledged_at is None),
        alerts_by_rule=dict(Counter(a.rule for a in active_alerts)),
    )


# -- alerts ------------------------------------------------------------------------------------


class AlertPublic(BaseModel):
    id: int
    rule: str
    station_id: str
    severity: str
    summary: str
    detail: dict[str, object]
    state: Literal["active", "cleared"]
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledged_note: str | None

    @classmethod
    def of(cls, alert: Alert) -> AlertPublic:
        return cls(
            id=alert.id,
            rule=alert.rule,
            station_id=alert.station_id,
            severity=alert.severity,
            summary=alert.summary,
            detail=json.loads(alert.detail),
            state="active" if alert.cleared_at is None else "cleared",
            raised_at=alert.raised_at,
            updated_at=alert.updated_at,
            cleared_at=alert.cleared_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
            acknowledged_note=alert.acknowledged_note,
        )


class AcknowledgeRequest(BaseModel):
    note: str | None = Field(default=None, max_length=500)


class NotificationPublic(BaseModel):
    id: int
    alert_id: int
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, n: AlertNotification) -> NotificationPublic:
        return cls.model_validate(n, from_attributes=True)


# -- configuration -----------------------------------------------------------------------------


class ConfigLayerPublic(BaseModel):
    scope: Literal["fleet", "tag", "station"]
    target: str = Field(description='"*" for the fleet, else the tag or station id')
    version: int
    document: dict[str, object] = Field(description="a partial StationConfig")
    updated_at: datetime
    updated_by: str


class StationDesired(BaseModel):
    station_id: str
    desired_version: int
    desired_sha256: str | None


class LayerChangePublic(BaseModel):
    layer: ConfigLayerPublic | None
    stations: list[StationDesired] = Field(description="stations whose configuration changed")
    published: list[str] = Field(description="of those, delivered to the broker already")


class TagMembers(BaseModel):
    stations: list[str] = Field(max_length=10_000)


class TagPublic(BaseModel):
    tag: str
    stations: list[str]
    layer_version: int | None


class ConfigRevisionPublic(BaseModel):
    scope: str
    target: str
    version: int
    document: dict[str, object] | None = Field(description="null: the layer was removed")
    at: datetime
    by: str


class StationConfigPublic(BaseModel):
    station_id: str
    tags: list[str]
    drift: Literal["unmanaged", "in-sync", "pending", "not-published", "refused"] = Field(
        description="unmanaged: no layer applies, the station runs its local settings; "
        "in-sync: it runs the desired hash; not-published: the broker has not had it yet; "
        "pending: delivered, not yet applied (the station may be offline); refused: the "
        "station refused this version (see error)"
    )
    desired_version: int
    desired_sha256: str | None
    desired_at: datetime | None
    sources: list[dict[str, object]] = Field(description="the layers merged, in order")
    config: dict[str, object] | None = Field(description="the whole desired StationConfig")
    published_version: int
    applied_version: int | None
    applied_sha256: str | None
    applied_at: datetime | None
    report_status: str | None
    report_error: str | None
    report_at: datetime | None


# -- reconciliation ----------------------------------------------------------------------------


class ReconciliationDayPublic(BaseModel):
    day: str = Field(description="YYYY-MM-DD, Asia/Bangkok")
    created: int = Field(description="packets the station created that day")
    received: int = Field(description="of those, stored at the fleet")
    pending: int = Field(description="waiting at the station, not yet at the fleet (not a gap)")
    lost: int = Field(description="neither at the fleet nor waiting: the gap")
    lost_seqs: str = Field(description="sequence numbers lost, e.g. 2,5-7")
    first_seq: int | None
    last_seq: int | None


class ReconciliationPublic(BaseModel):
    station_id: str
    reported_at: datetime | None = Field(description="when the last report arrived")
    last_seq: int
    high_water_seq: int = Field(description="the highest sequence number ever reported")
    created_total: int
    received_total: int
    pending_total: int
    lost_total: int
    lost_seqs: str
    missing_at_station: str = Field(
        description="numbers with no row at the station (lost there unless received)"
    )
    duplicate_seqs: str = Field(description="numbers the fleet stored under two packet ids")


class StationReconciliation(ReconciliationPublic):
    days: list[ReconciliationDayPublic]


# -- central hand-off and application status ------------------------------------------------------


class ApplicationStatusPost(BaseModel):
    """What the central system posts. The first post for an application must name its packet
    and the applicant's passport number (kept only as a salted hash)."""

    model_config = ConfigDict(extra="forbid")

    application_number: str = Field(pattern=r"^[A-Z0-9-]{4,32}$", examples=["WP-MU-01-000001"])
    status: ApplicationState
    reason: str | None = Field(default=None, max_length=500, description="why, when rejected")
    at: datetime | None = Field(default=None, description="when it was decided (default: now)")
    packet_id: str | None = Field(default=None, pattern=r"^[0-9a-f]{32}$")
    passport_number: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9 -]{5,30}$", description="never stored in clear"
    )

    @field_validator("at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not 2000 <= value.year <= 2199:
            raise ValueError("must be a time between the years 2000 and 2199")
        return value

    @model_validator(mode="after")
    def _reason_for_rejection(self) -> ApplicationStatusPost:
        if self.status == "rejected" and not self.reason:
            raise ValueError("a rejection needs its reason")
        return self


class StatusEventPublic(BaseModel):
    status: str
    reason: str | None
    status_at: datetime
    recorded_at: datetime
    actor: str


class ApplicationStatusPublic(BaseModel):
    application_number: str
    packet_id: str
    station_id: str
    status: str
    reason: str | None
    status_at: datetime
    updated_at: datetime
    published_at: datetime | None = Field(description="sent to the station (null: not yet)")
    history: list[StatusEventPublic]


class PublicStatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    application_number: str = Field(min_length=1, max_length=40)
    passport_number: str = Field(min_length=1, max_length=40)


class PublicStatus(BaseModel):
    """What an applicant sees: the status only, in Thai and English."""

    application_number: str
    status: str
    status_en: str
    status_th: str
    reason: str | None
    updated_at: datetime
