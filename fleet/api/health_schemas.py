"""What the health routes show: liveness and the latest health of stations, their history, the
fleet at a glance."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from fleet.api.schemas import shown_from
from fleet.health.history import HealthPoint
from fleet.health.reads import FleetNumbers, StationHealth
from fleet.store.ops_models import Alert


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
        return shown_from(
            cls,
            point,
            queue_waiting=point.queue_pending,
            queue_waiting_max=point.queue_pending_max,
            oldest_waiting_age_s=point.oldest_pending_age_s,
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
