"""The fleet service's one settings model, validated at start-up (unknown keys are errors).

Secrets (broker passwords, the API admin token) are never written into the settings file: each
is read from a file named here (created with mode 0600 by ``ewp fleet init``) or from an
environment variable, and placeholder values are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from fleet.ops_settings import AlertSettings, HealthSettings, StatusPageSettings
from fleet.secret_ref import PLACEHOLDERS, SecretRef
from fleet.tls import TlsFiles

__all__ = ["PLACEHOLDERS", "FleetSettings", "SecretRef"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceSettings(Section):
    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    public_url: str = Field(
        default="http://127.0.0.1:8080", description="how stations reach this service"
    )
    data_dir: Path
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a PostgreSQL or SQLite store; default: SQLite in data_dir",
    )
    admin_token: SecretRef = Field(description="bearer token for admin API calls")
    tls_cert_file: Path | None = Field(
        default=None,
        description="serve HTTPS directly with this certificate (PEM; e.g. the fleet CA's server "
        "certificate); leave unset behind a TLS reverse proxy",
    )
    tls_key_file: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self) -> ServiceSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file go together")
        return self

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
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    station_host: str | None = Field(
        default=None, description="broker host as stations see it (default: host)"
    )
    station_port: Annotated[int, Field(ge=1, le=65535)] | None = Field(
        default=None, description="broker port as stations see it (default: tls_port with TLS)"
    )
    tls: bool = Field(
        default=False,
        description="the fleet's own processes reach the broker over TLS (host:port is then a "
        "TLS listener, e.g. on another host); default: the loopback plaintext listener",
    )
    tls_listen_host: str = Field(
        default="0.0.0.0",  # noqa: S104 (stations reach it from everywhere; TLS and a login)
        description="address of the stations' TLS listener",
    )
    tls_port: Annotated[int, Field(ge=1, le=65535)] = 8883
    ca_file: Path | None = Field(
        default=None, description="the fleet CA certificate (PEM) stations pin"
    )
    cert_file: Path | None = Field(default=None, description="the broker's server certificate")
    key_file: Path | None = Field(default=None, description="its private key")
    admin_username: str = "ewp-broker-admin"
    admin_password: SecretRef
    service_username: str = "ewp-fleet"
    service_password: SecretRef

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
    duplicate_receipt_interval_s: Annotated[float, Field(ge=0)] = 5.0
    stale_chunk_hours: Annotated[float, Field(gt=0)] = 72.0


class CentralSettings(Section):
    public_key_file: Path = Field(description="the central system's HPKE public key (JSON)")


class ProvisioningSettings(Section):
    claim_token_ttl_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 168.0


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
    login_lockout_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 15.0
    token_default_days: Annotated[int, Field(ge=1, le=3650)] = 90
    token_max_days: Annotated[int, Field(ge=1, le=3650)] = 365


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
