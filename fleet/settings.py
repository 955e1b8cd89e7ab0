"""The fleet service's one settings model, validated at start-up (unknown keys are errors).

Secrets (broker passwords, the API admin token) are never written into the settings file: each
is read from a file named here (created with mode 0600 by ``ewp fleet init``) or from an
environment variable, and placeholder values are refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from fleet.ops_settings import AlertSettings, HealthSettings, StatusPageSettings
from fleet.secret_ref import PLACEHOLDERS, SecretRef

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
        default=None, description="SQLAlchemy URL; default: SQLite in data_dir"
    )
    admin_token: SecretRef = Field(description="bearer token for admin API calls")


class BrokerSettings(Section):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 1883
    station_host: str | None = Field(
        default=None, description="broker host as stations see it (default: host)"
    )
    station_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    tls: bool = False
    admin_username: str = "ewp-broker-admin"
    admin_password: SecretRef
    service_username: str = "ewp-fleet"
    service_password: SecretRef


class IngestSettings(Section):
    workers: Annotated[int, Field(ge=0, le=64)] = 1
    duplicate_receipt_interval_s: Annotated[float, Field(ge=0)] = 5.0
    stale_chunk_hours: Annotated[float, Field(gt=0)] = 72.0


class CentralSettings(Section):
    public_key_file: Path = Field(description="the central system's HPKE public key (JSON)")


class ProvisioningSettings(Section):
    claim_token_ttl_hours: Annotated[float, Field(gt=0, le=24 * 90)] = 168.0


class LogSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class FleetSettings(Section):
    service: ServiceSettings
    broker: BrokerSettings
    central: CentralSettings
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    status_page: StatusPageSettings = Field(default_factory=StatusPageSettings)

    @property
    def database_url(self) -> str:
        return self.service.database_url or f"sqlite:///{self.service.data_dir / 'fleet.sqlite'}"

    @property
    def packet_dir(self) -> Path:
        return self.service.data_dir / "packets"
