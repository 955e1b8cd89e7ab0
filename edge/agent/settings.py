"""The station agent's one settings model, validated at start-up (unknown keys are errors).

Loaded from TOML (see examples/agent.toml); secrets are never in this file: the station's key
and broker credentials live in ``{data_dir}/identity/``, written by ``ewp agent provision``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.station_config import CapturePolicy, UploadSchedule


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationSettings(Section):
    data_dir: Path = Field(description="outbox, identity and logs live here")
    operator_id: str = Field(default="operator", min_length=1, max_length=64)


class FingerprintSensorSettings(Section):
    port: str = Field(description="serial port URL: /dev/ttyUSB0, socket://host:port, a pty")
    baudrate: Annotated[int, Field(ge=9600, le=115200, multiple_of=9600)] = 57600
    password: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 0
    address: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 0xFFFFFFFF
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0


class IrisCameraSettings(Section):
    port: str = Field(description="serial port URL of the iris camera (USB CDC), or a simulator's")
    baudrate: Annotated[int, Field(ge=9600, le=3_000_000)] = 115200
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0
    capture_timeout_s: Annotated[float, Field(gt=0, le=120)] = 30.0


class SensorsSettings(Section):
    fingerprint: FingerprintSensorSettings
    iris: IrisCameraSettings | None = None


class ControllerSettings(Section):
    """The station controller board (RP2040 over USB serial)."""

    port: str = Field(description="serial port URL, e.g. /dev/ttyACM0 or a simulator's pty")
    baudrate: Annotated[int, Field(ge=9600, le=1_000_000)] = 115200
    reading_interval_s: Annotated[int, Field(ge=1, le=3600)] = 30
    ping_interval_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    host_timeout_s: Annotated[int, Field(ge=0, le=3600)] = 30

    @model_validator(mode="after")
    def _watchdog_after_pings(self) -> ControllerSettings:
        if self.host_timeout_s and self.host_timeout_s <= 2 * self.ping_interval_s:
            raise ValueError(
                "host_timeout_s must exceed two ping intervals, or a healthy agent looks hung"
            )
        return self


class UplinkSettings(Section):
    broker_url: str | None = Field(
        default=None,
        description="override the broker address received at provisioning: mqtts://host:port "
        "(mqtt:// only for a broker on this machine or in tests)",
    )
    ca_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) the broker's TLS certificate is checked against; "
        "default: the fleet CA pinned at provisioning",
    )
    chunk_size: Annotated[int, Field(ge=1024, le=1024 * 1024)] = 64 * 1024
    max_inflight: Annotated[int, Field(ge=1, le=256)] = 16
    keepalive_s: Annotated[int, Field(ge=5, le=600)] = 30
    heartbeat_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    reconciliation_interval_s: Annotated[float, Field(ge=1, le=86400)] = Field(
        default=600.0, description="how often the station reports what it created"
    )
    receipt_timeout_s: Annotated[float, Field(ge=1, le=86400)] = 120.0
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    session_expiry_s: Annotated[int, Field(ge=60)] = 7 * 24 * 3600

    @field_validator("broker_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        return value


class OutboxSettings(Section):
    quota_mb: Annotated[int, Field(ge=1)] = 2048
    min_free_mb: Annotated[int, Field(ge=0)] = 200
    retention_days: Annotated[float, Field(ge=0)] = 30.0


class AutopilotSettings(Section):
    """Training mode: enrol synthetic applicants without an operator (demos, soak tests).

    The biometrics still come from the configured sensor through the real driver.
    """

    enabled: bool = Field(default=False, description="enrol synthetic applicants on its own")
    enrolments: Annotated[int, Field(ge=0)] | None = Field(
        default=None,
        description="how many applicants in all, counted over restarts; unset: until stopped",
    )
    interval_s: Annotated[float, Field(ge=0)] = Field(
        default=1.0, description="seconds between one enrolment's end and the next one's start"
    )
    seed: int = Field(
        default=0, description="makes the made-up applicants repeatable (per station id)"
    )


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    wire: bool = False


class AgentSettings(Section):
    station: StationSettings
    sensors: SensorsSettings
    controller: ControllerSettings | None = None
    uplink: UplinkSettings = Field(default_factory=UplinkSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    capture: CapturePolicy = Field(default_factory=CapturePolicy)
    upload: UploadSchedule = Field(default_factory=UploadSchedule)
    autopilot: AutopilotSettings = Field(default_factory=AutopilotSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @property
    def identity_dir(self) -> Path:
        return self.station.data_dir / "identity"

    @property
    def outbox_path(self) -> Path:
        return self.station.data_dir / "outbox.sqlite"
