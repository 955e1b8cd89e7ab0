"""`ewp fleet init`: a fleet data directory with fresh secrets and a settings file."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from fleet.broker.mosquitto import BrokerAccounts, write_broker_config
from fleet.errors import FleetError
from fleet.settings import FleetSettings, check_database_url
from protocol.keys import CentralPublicKey
from protocol.private_files import make_private, write_private

SECRET_NAMES = ("admin-token", "broker-admin-password", "broker-service-password")


@dataclass(frozen=True)
class FleetLayout:
    data_dir: Path

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @property
    def broker_dir(self) -> Path:
        return self.data_dir / "broker"

    @property
    def central_public_key(self) -> Path:
        return self.data_dir / "central.pub"

    def secret(self, name: str) -> Path:
        return self.secrets_dir / name


def _write_secret(path: Path) -> None:
    if path.exists():
        # Keep existing secrets (re-running init must not lock anyone out), owner-only.
        make_private(path)
        return
    write_private(path, (secrets.token_urlsafe(32) + "\n").encode())


def init_fleet(
    data_dir: Path,
    *,
    central_key: CentralPublicKey,
    listen_host: str = "127.0.0.1",
    listen_port: int = 8080,
    public_url: str | None = None,
    broker_host: str = "127.0.0.1",
    broker_port: int = 1883,
    station_broker_host: str | None = None,
    station_broker_port: int | None = None,
    ingest_workers: int = 1,
    database_url: str | None = None,
) -> str:
    """Create secrets (once), the central public key copy and return the settings TOML text."""
    if database_url is not None:
        try:
            check_database_url(database_url)
        except ValueError as exc:
            raise FleetError(f"--database-url: {exc}") from exc
    layout = FleetLayout(data_dir.resolve())
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    for name in SECRET_NAMES:
        _write_secret(layout.secret(name))
    central_key.save(layout.central_public_key)
    lines = [
        "# ewp fleet service settings (see docs/tools/ewp-fleet.md)",
        "[service]",
        f'listen_host = "{listen_host}"',
        f"listen_port = {listen_port}",
        f'public_url = "{public_url or f"http://{listen_host}:{listen_port}"}"',
        f'data_dir = "{layout.data_dir}"',
        f'admin_token = {{ file = "{layout.secret("admin-token")}" }}',
        *([f"database_url = {json.dumps(database_url)}"] if database_url else []),
        "",
        "[broker]",
        f'host = "{broker_host}"',
        f"port = {broker_port}",
        *([f'station_host = "{station_broker_host}"'] if station_broker_host else []),
        *([f"station_port = {station_broker_port}"] if station_broker_port else []),
        f'admin_password = {{ file = "{layout.secret("broker-admin-password")}" }}',
        f'service_password = {{ file = "{layout.secret("broker-service-password")}" }}',
        "",
        "[central]",
        f'public_key_file = "{layout.central_public_key}"',
        "",
        "[ingest]",
        f"workers = {ingest_workers}",
        "",
    ]
    return "\n".join(lines)


def broker_accounts(settings: FleetSettings) -> BrokerAccounts:
    b = settings.broker
    return BrokerAccounts(
        admin_username=b.admin_username,
        admin_password=b.admin_password.read("broker admin password"),
        service_username=b.service_username,
        service_password=b.service_password.read("broker service password"),
    )


def write_fleet_broker_config(settings: FleetSettings) -> Path:
    """The Mosquitto config for this fleet (dynamic-security file kept if it exists)."""
    layout = FleetLayout(settings.service.data_dir)
    return write_broker_config(
        layout.broker_dir,
        host=settings.broker.host,
        port=settings.broker.port,
        accounts=broker_accounts(settings),
    )
