"""Settings of fleet operations: health history, alert rules and their webhook, the public
status page. Sections of `fleet.settings.FleetSettings` (``[health]``, ``[alerts]``,
``[status_page]``); every one has defaults, so a settings file without them still loads."""

from __future__ import annotations

import re
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from fleet.secret_ref import SecretRef
from protocol.station_config import Section

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

RuleName = Literal[
    "station-offline",
    "backlog-old",
    "disk-full",
    "cpu-hot",
    "sensor-fault",
    "tamper",
    "reconciliation-gap",
    "station-misbehaving",
]
RULES: tuple[RuleName, ...] = get_args(RuleName)


class HealthSettings(Section):
    """Heartbeat history and the missed-heartbeat timeout."""

    raw_retention_days: Annotated[float, Field(gt=0, le=90)] = 7.0
    """every heartbeat is kept this long"""
    rollup_5m_retention_days: Annotated[float, Field(gt=0, le=3660)] = 90.0
    """5-minute summaries are kept this long"""
    rollup_1h_retention_days: Annotated[float, Field(gt=0, le=3660)] = 730.0
    """hourly summaries are kept this long"""
    timeout_factor: Annotated[float, Field(ge=1.1, le=10)] = Field(
        default=1.5, description="offline after this many heartbeat intervals of silence"
    )
    default_heartbeat_interval_s: Annotated[float, Field(ge=1, le=3600)] = Field(
        default=30.0, description="for stations whose heartbeats do not say their interval"
    )
    check_interval_s: Annotated[float, Field(gt=0, le=600)] = Field(
        default=10.0, description="how often the missed-heartbeat check runs"
    )
    rollup_interval_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    """how often summaries are brought up to date"""
    retention_interval_s: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    """how often expired history is deleted"""


class ServiceHours(Section):
    """When stations are expected to be up (Asia/Bangkok local time)."""

    start: str = "08:00"
    """service starts, HH:MM"""
    end: str = "18:00"
    """service ends, HH:MM (24:00 allowed)"""
    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:6]))
    """the days stations are in service"""
    timezone: Literal["Asia/Bangkok"] = "Asia/Bangkok"
    """the hours' time zone"""

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.fullmatch(value):
            raise ValueError("use HH:MM, 24-hour clock (end may be 24:00)")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ServiceHours:
        if self.start >= self.end:
            raise ValueError("service hours must end after they start on the same day")
        return self


class WebhookSettings(Section):
    """Where alert notifications are POSTed (JSON), and how hard to try."""

    url: str | None = Field(default=None, description="http(s) URL; none: alerts are not sent")
    secret: SecretRef | None = Field(
        default=None, description="signs each body: X-Ewp-Signature: sha256=HMAC(secret, body)"
    )
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    """one delivery attempt's time limit"""
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 12
    """a notification is given up after this many failed attempts"""
    backoff_initial_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    """the first wait after a failed delivery (doubling after each)"""
    backoff_max_s: Annotated[float, Field(gt=0, le=86400)] = 3600.0
    """the longest wait between attempts"""
    poll_interval_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    """how often waiting notifications are looked for"""

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class AlertSettings(Section):
    """Alert rules (thresholds), when they apply, and the webhook."""

    offline_minutes: Annotated[float, Field(gt=0, le=10080)] = Field(
        default=15.0, description="offline this long within service hours raises station-offline"
    )
    service_hours: ServiceHours = Field(default_factory=ServiceHours)
    backlog_hours: Annotated[float, Field(gt=0)] = Field(
        default=24.0, description="oldest packet waiting at a station longer than this"
    )
    disk_used_pct: Annotated[float, Field(gt=0, le=100)] = 90.0
    """a station's disk fuller than this raises disk-full"""
    cpu_temperature_c: Annotated[float, Field(gt=0, le=120)] = 75.0
    """a station's CPU hotter than this raises cpu-hot"""
    disabled: list[RuleName] = Field(default_factory=list, description="rules that never raise")
    evaluate_interval_s: Annotated[float, Field(gt=0, le=3600)] = 30.0
    """how often the rules are evaluated"""
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)

    def enabled(self, rule: RuleName) -> bool:
        return rule not in self.disabled


class StatusPageSettings(Section):
    """The public application-status page (/status) and its JSON API."""

    enabled: bool = True
    """serve the public status page and its API"""
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=10_000)] = 10
    """lookups per client address per minute"""
    rate_limit_burst: Annotated[int, Field(ge=1, le=1000)] = 5
    """lookups a client may make at once before the rate applies"""
