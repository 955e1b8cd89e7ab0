"""The fleet service's one settings model, validated at start-up (unknown keys are errors).

Secrets (broker passwords, the API admin token) are never written into the settings file: each
is read from a file named here (created with mode 0600 by ``ewp fleet init``) or from an
environment variable, and placeholder values are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from fleet.ops_settings import AlertSettings, HealthSettings, StatusPageSettings
from fleet.secret_ref import PLACEHOLDERS, SecretRef
from fleet.tls import TlsFiles
from fleet.updates.plan import RolloutSettings
from protocol.station_config import Section

__all__ = ["PLACEHOLDERS", "FleetSettings", "SecretRef"]


class ServiceSettings(Section):
    listen_host: str = "127.0.0.1"
    """the HTTP API and dashboard's listen address"""
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    """the HTTP API and dashboard's port (0: any free port)"""
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="how stations reach this service"
    )
    data_dir: Path
    """packets, secrets, the SQLite store and the broker's files live here"""
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL or SQLite store; default: SQLite in data_dir",
    )
    admin_token: SecretRef = Field(description="bearer token for admin API calls")
    tls_cert_file: Path | None = None
    """serve HTTPS with this certificate (PEM, issued by the fleet CA); unset behind a TLS
    reverse proxy"""
    tls_key_file: Path | None = None
    """its private key (PEM)"""

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

    max_request_bytes: Annotated[int, Field(ge=64 * 1024, le=1 << 30)] = 8 << 20
    """the largest request body from a caller with credentials (larger: 413 before reading)"""
    max_anonymous_request_bytes: Annotated[int, Field(ge=1024, le=1 << 20)] = 64 << 10
    """the largest request body without credentials: status page, logins, provisioning claim"""

    @field_validator("database_url")
    @classmethod
    def _store_url(cls, value: str | None) -> str | None:
        if value is not None:
            check_database_url(value)
        return value


def check_database_url(url: str) -> None:
    """A store we support, and no password in it: the settings file holds no secrets."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"the fleet store is SQLite or PostgreSQL, not {parsed.get_backend_name()}: "
            "e.g. postgresql+psycopg://ewp@db.example/ewp"
        )
    if parsed.password:
        raise ValueError(
            "keep the database password out of the settings file: give it to libpq in "
            "~/.pgpass or PGPASSFILE (or PGPASSWORD), or use peer authentication on the "
            "socket: postgresql+psycopg://ewp@/ewp?host=/var/run/postgresql"
        )


class BrokerSettings(Section):
    host: str = "127.0.0.1"
    """where the fleet's own processes reach Mosquitto"""
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    """the broker port the fleet's own processes use"""
    station_host: str | None = Field(
        default=None, description="broker host as stations see it (default: host)"
    )
    station_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    """broker port as stations see it (default: tls_port with TLS files, else port)"""
    tls: bool = False
    """the fleet's own processes reach the broker over TLS (host:port is then a TLS listener,
    e.g. on another host, checked against ca_file); default: the loopback plaintext listener"""
    tls_listen_host: str = "0.0.0.0"  # noqa: S104 (stations reach it from everywhere)
    """address of the stations' TLS listener"""
    tls_port: Annotated[int, Field(ge=1, le=65535)] = 8883
    """port of the stations' TLS listener"""
    ca_file: Path | None = None
    """the fleet CA certificate (PEM); stations pin its fingerprint (from the claim token)"""
    cert_file: Path | None = None
    """the broker's server certificate (PEM), issued by that CA"""
    key_file: Path | None = None
    """its private key (PEM)"""
    admin_username: str = "ewp-broker-admin"
    """the dynamic-security admin client (manages station accounts and ACLs)"""
    admin_password: SecretRef
    """its password"""
    service_username: str = "ewp-fleet"
    """the client the fleet's ingest and commands use"""
    service_password: SecretRef
    """its password"""

    @model_validator(mode="after")
    def _tls_files(self) -> BrokerSettings:
        given = [f is not None for f in (self.ca_file, self.cert_file, self.key_file)]
        if any(given) and not all(given):
            raise ValueError("ca_file, cert_file and key_file go together")
        return self

    @property
    def tls_files(self) -> TlsFiles | None:
        if self.ca_file is None or self.cert_file is None or self.key_file is None:
            return None
        return TlsFiles(self.ca_file, self.cert_file, self.key_file)


class IngestSettings(Section):
    workers: Annotated[int, Field(ge=0, le=64)] = 1
    """ingest workers in `ewp fleet serve` (one per core; 0 when `ewp fleet ingest` processes do
    all of it)"""
    duplicate_receipt_interval_s: Annotated[float, Field(ge=0)] = 5.0
    """a station resending a stored packet gets its receipt again at most this often"""
    stale_chunk_hours: Annotated[float, Field(gt=0, le=72)] = 6.0
    """chunks of a packet never completed are dropped after this long (the station sends it
    again from its first chunk when its receipt does not come: at most every 30 minutes)"""
    retained_sweep_interval_s: Annotated[float, Field(ge=0, le=86400)] = 300.0
    """how often the fleet looks for retained messages stations left on their up topics (all
    but `status`), keeps each in quarantine, flags the station and clears it (decision 0032);
    0: never"""
    retained_sweep_max_messages: Annotated[int, Field(ge=1, le=100_000)] = 1000
    """retained messages one sweep records and clears at most (a flood takes several sweeps)"""
    retained_sweep_time_limit_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    """one sweep stops after this long, whatever is left (the next sweep goes on)"""


class CentralSettings(Section):
    public_key_file: Path = Field(description="the central system's HPKE public key (JSON)")
    previous_public_key_files: list[Path] = Field(
        default_factory=list,
        max_length=4,
        description="central public keys replaced by a rotation whose packets are still "
        "accepted (stations not yet given the new key); remove one once every station has it",
    )


class ProvisioningSettings(Section):
    claim_token_ttl_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 168.0
    """how long a station's one-time claim token stays valid"""


class AccessSettings(Section):
    """Web sessions, API tokens and the brakes on password guessing (docs/tools/ewp-fleet.md)."""

    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = Field(
        default=12.0, description="a web session ends this long after login, whatever happens"
    )
    session_idle_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = Field(
        default=30.0, description="a web session unused this long ends"
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="mark cookies Secure (sent over HTTPS only); default: when public_url is https",
    )
    login_max_failures: Annotated[int, Field(ge=1, le=100)] = Field(
        default=5, description="failed logins for one username before it is locked for a while"
    )
    login_max_failures_per_address: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=20, description="failed logins from one client address before it is locked"
    )
    login_failure_window_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    """failed logins are counted over this window"""
    login_lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    """how long a locked username or address stays locked"""
    token_default_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """an API token's lifetime when none is asked for"""
    token_max_days: Annotated[int, Field(ge=1, le=3650)] = 365
    """the longest lifetime an API token may be given"""


class MetricsSettings(Section):
    access: Literal["viewer", "open", "off"] = Field(
        default="viewer",
        description="who may read /metrics: any viewer (an API token for Prometheus), anyone "
        "(only when the service listens on an internal address), or nobody (not served)",
    )


class RotationSettings(Section):
    key_grace_hours: Annotated[float, Field(ge=0, le=24 * 90)] = Field(
        default=24.0 * 14,
        description="how long packets signed with a station's previous key are still accepted",
    )


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """the fleet log's level"""


class UpdateSettings(Section):
    repository: Path | None = Field(
        default=None,
        description="the TUF release repository (metadata/, targets/), served at /updates/",
    )
    keys: Path | None = Field(
        default=None, description="the online signing keys (targets, snapshot, timestamp)"
    )
    timestamp_refresh_s: Annotated[float, Field(gt=0, le=86400)] = Field(
        default=600.0, description="how often the timestamp's expiry is checked and re-signed"
    )


class FleetSettings(Section):
    service: ServiceSettings
    broker: BrokerSettings
    central: CentralSettings
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)
    access: AccessSettings = Field(default_factory=AccessSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    rotation: RotationSettings = Field(default_factory=RotationSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    status_page: StatusPageSettings = Field(default_factory=StatusPageSettings)
    rollouts: RolloutSettings = Field(default_factory=RolloutSettings)
    updates: UpdateSettings = Field(default_factory=UpdateSettings)

    @property
    def database_url(self) -> str:
        return self.service.database_url or f"sqlite:///{self.service.data_dir / 'fleet.sqlite'}"

    @property
    def secure_cookies(self) -> bool:
        if self.access.secure_cookies is not None:
            return self.access.secure_cookies
        return self.service.public_url.startswith("https://")

    @property
    def packet_dir(self) -> Path:
        return self.service.data_dir / "packets"
