"""The station agent's one settings model, validated at start-up (unknown keys are errors).

Loaded from TOML (see examples/agent.toml); secrets are never in this file: the station's key
and broker credentials live in ``{data_dir}/identity/``, written by ``ewp agent provision``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from protocol.bounds import MAX_CHUNK_SIZE
from protocol.station_config import CapturePolicy, Section, UploadSchedule


class StationSettings(Section):
    data_dir: Path = Field(description="outbox, identity and logs live here")
    operator_id: str = Field(default="operator", min_length=1, max_length=64)
    """who enrols at this station when no operator session is open (terminal and autopilot)"""


class FingerprintSensorSettings(Section):
    port: str = Field(description="serial port URL: /dev/ttyUSB0, socket://host:port, a pty")
    baudrate: Annotated[int, Field(ge=9600, le=115200, multiple_of=9600)] = 57600
    """the module's serial speed (R30x modules ship at 57600)"""
    password: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 0
    """the module's handshake password (0: none, the factory setting)"""
    address: Annotated[int, Field(ge=0, le=0xFFFFFFFF)] = 0xFFFFFFFF
    """the module's address on its bus (0xFFFFFFFF: the factory setting)"""
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 2.0
    """a command not answered within this is an error (the module is unplugged or hung)"""


_SERIAL_ONLY = ("port", "baudrate")
_IDDK_ONLY = ("library", "device", "capture_seconds", "reconnect_s", "quality_mode")


class IrisCameraSettings(Section):
    """The iris camera: one speaking the ewp iris protocol over serial (``ewp-serial``), or an
    IriShield driven through IriTech's IDDK 2000 library (``iddk``). Keys of the other
    backend are errors, so a half-switched configuration fails at start-up."""

    backend: Literal["ewp-serial", "iddk"] = "ewp-serial"
    """ewp-serial: a camera speaking the ewp iris protocol; iddk: an IriShield through IDDK 2000"""
    port: str | None = Field(
        default=None,
        description="ewp-serial: serial port URL of the camera (USB CDC), or a simulator's",
    )
    baudrate: Annotated[int, Field(ge=9600, le=3_000_000)] = 115200
    """ewp-serial: the camera link's serial speed"""
    timeout_s: Annotated[float, Field(gt=0, le=30)] = Field(
        default=2.0, description="one command (ewp-serial) or one library call (iddk)"
    )
    capture_timeout_s: Annotated[float, Field(gt=0, le=120)] = 30.0
    """how long one eye's capture may take before it is abandoned with a retry"""
    library: str = Field(
        default="libIddk2000.so",
        min_length=1,
        description="iddk: libIddk2000.so's path (a bare name is found by the dynamic loader)",
    )
    device: str | None = Field(
        default=None, description="iddk: part of the device descriptor, to pick one camera"
    )
    capture_seconds: Annotated[int, Field(ge=1, le=60)] = Field(
        default=3,
        description="iddk: seconds the camera captures once it sees an eye (time-based; it "
        "keeps the best frame)",
    )
    reconnect_s: Annotated[float, Field(ge=0, le=300)] = Field(
        default=10.0, description="iddk: how long to look for a camera that was unplugged"
    )
    quality_mode: Literal["normal", "high", "very-high"] = Field(
        default="normal", description="iddk: the camera's own bar for a qualified frame"
    )

    @model_validator(mode="after")
    def _keys_of_the_backend(self) -> IrisCameraSettings:
        other = _IDDK_ONLY if self.backend == "ewp-serial" else _SERIAL_ONLY
        stray = sorted(set(other) & self.model_fields_set)
        if stray:
            raise ValueError(f"{', '.join(stray)}: not a setting of backend {self.backend!r}")
        if self.backend == "ewp-serial" and not self.port:
            raise ValueError("backend 'ewp-serial' needs port (e.g. /dev/ttyACM0)")
        return self


class SensorsSettings(Section):
    fingerprint: FingerprintSensorSettings
    iris: IrisCameraSettings | None = None


class ControllerSettings(Section):
    """The station controller board (RP2040 over USB serial)."""

    port: str = Field(description="serial port URL, e.g. /dev/ttyACM0 or a simulator's pty")
    baudrate: Annotated[int, Field(ge=9600, le=1_000_000)] = 115200
    """the board link's serial speed"""
    reading_interval_s: Annotated[int, Field(ge=1, le=3600)] = 30
    """how often the board reports its sensors (climate, power, GPS)"""
    ping_interval_s: Annotated[float, Field(gt=0, le=60)] = 5.0
    """how often the agent tells the board it is alive"""
    host_timeout_s: Annotated[int, Field(ge=0, le=3600)] = 30
    """the board shows a hung agent on its panel after this long without a ping; 0: never"""

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
    chunk_size: Annotated[int, Field(ge=1024, le=MAX_CHUNK_SIZE)] = 64 * 1024
    """bytes of a sealed packet per MQTT message"""
    max_inflight: Annotated[int, Field(ge=1, le=256)] = 16
    """chunks sent ahead of the broker's acknowledgements"""
    keepalive_s: Annotated[int, Field(ge=5, le=600)] = 30
    """MQTT keep-alive: a silent link is noticed after about 1.5 times this"""
    heartbeat_interval_s: Annotated[float, Field(ge=1, le=3600)] = 30.0
    """how often the station reports its health (the fleet may override it)"""
    reconciliation_interval_s: Annotated[float, Field(ge=1, le=86400)] = Field(
        default=600.0, description="how often the station reports what it created"
    )
    receipt_timeout_s: Annotated[float, Field(ge=1, le=86400)] = 120.0
    """a packet without the fleet's receipt this long after its last chunk is sent again
    (doubling per attempt); safe, the fleet stores a packet once"""
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 1.0
    """the first wait before reconnecting after a failed try (a connection that had been up
    10 s or more and drops, a link reset, is tried again at once, within 0.25 s)"""
    reconnect_max_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    """the longest wait between reconnect attempts (the wait doubles up to it)"""
    session_expiry_s: Annotated[int, Field(ge=60)] = 7 * 24 * 3600
    """how long the broker keeps the station's session (and messages for it) while it is offline"""

    @field_validator("broker_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("mqtt://", "mqtts://")):
            raise ValueError("must look like mqtt://host:port or mqtts://host:port")
        return value


class OutboxSettings(Section):
    quota_mb: Annotated[int, Field(ge=1)] = 2048
    """the most the outbox may hold; acknowledged packets are purged first to make room"""
    min_free_mb: Annotated[int, Field(ge=0)] = 200
    """an enrolment is refused (with a clear message) rather than fill the disk below this"""
    retention_days: Annotated[float, Field(ge=0)] = 30.0
    """acknowledged packets are kept this long, then purged (the fleet may override it)"""


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


class KioskSettings(Section):
    """The kiosk UI (edge/agent/kiosk): served on 127.0.0.1 only, for Chromium in kiosk mode."""

    enabled: bool = False
    """`ewp agent run` serves the kiosk too (as `ewp agent kiosk` does)"""
    port: Annotated[int, Field(ge=1024, le=65535)] = 8470
    """the kiosk's port on 127.0.0.1 (never another address)"""
    idle_logout_s: Annotated[float, Field(ge=10, le=3600)] = 300.0
    """the operator is logged out after this long without a touch (never mid-capture)"""
    language: Literal["th", "en"] = "th"
    """the staff's language until they switch; the applicant's follows the nationality"""


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """the agent log's level (stderr)"""
    wire: bool = False
    """log every frame on the sensor, controller and MQTT links (ewp.wire loggers)"""


class UpdatesSettings(Section):
    """Software updates (docs/updates.md); off unless ``root`` and ``repository_url`` are set."""

    root: Path | None = Field(
        default=None, description="where releases are installed side by side, e.g. /opt/ewp"
    )
    repository_url: str | None = Field(
        default=None, description="the fleet's release repository, e.g. https://fleet/updates"
    )
    max_download_kbps: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="bandwidth cap of update downloads (kilobits/s); 0: no cap"
    )
    health_check_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=120.0, description="how long a new version may take to pass its health check"
    )


class AgentSettings(Section):
    station: StationSettings
    sensors: SensorsSettings
    controller: ControllerSettings | None = None
    uplink: UplinkSettings = Field(default_factory=UplinkSettings)
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    capture: CapturePolicy = Field(default_factory=CapturePolicy)
    upload: UploadSchedule = Field(default_factory=UploadSchedule)
    autopilot: AutopilotSettings = Field(default_factory=AutopilotSettings)
    kiosk: KioskSettings = Field(default_factory=KioskSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    updates: UpdatesSettings = Field(default_factory=UpdatesSettings)

    @property
    def identity_dir(self) -> Path:
        return self.station.data_dir / "identity"

    @property
    def outbox_path(self) -> Path:
        return self.station.data_dir / "outbox.sqlite"
