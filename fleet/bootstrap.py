"""`ewp fleet init`: a fleet data directory with fresh secrets and a settings file."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from fleet.broker.mosquitto import BrokerAccounts, TlsListener, write_broker_config
from fleet.errors import FleetError
from fleet.settings import FleetSettings, check_database_url
from fleet.tls import (
    CA_CERT_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    TlsFiles,
    create_fleet_tls,
)
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
    def tls_dir(self) -> Path:
        return self.data_dir / "tls"

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
    tls: bool = True,
    tls_files: TlsFiles | None = None,
    tls_names: list[str] | None = None,
    broker_tls_port: int = 8883,
    broker_tls_listen_host: str = "0.0.0.0",  # noqa: S104 (the stations' listener)
    https: bool = True,
) -> str:
    """Create secrets (once), the central public key copy and return the settings TOML text.

    ``tls``: stations reach the broker over TLS (port ``broker_tls_port``) with ``tls_files``
    (the operator's CA, server certificate and key) or, if not given, a private CA and a server
    certificate for ``tls_names`` made here (once: kept if they exist); ``https``: the fleet
    service serves HTTPS with that certificate itself (False: behind a TLS reverse proxy, or
    plain HTTP on the loopback address for a test bench)."""
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
    scheme = "https" if tls and https else "http"
    if tls and tls_files is None:
        names = list(tls_names or [])
        for candidate in (station_broker_host, broker_host, urlsplit(public_url or "").hostname):
            if candidate and candidate not in names:
                names.append(candidate)
        names += [n for n in ("localhost", "127.0.0.1") if n not in names]
        tls_files = _fleet_tls(layout, names)
    lines = [
        "# ewp fleet service settings (see docs/tools/ewp-fleet.md)",
        "[service]",
        f'listen_host = "{listen_host}"',
        f"listen_port = {listen_port}",
        f'public_url = "{public_url or f"{scheme}://{listen_host}:{listen_port}"}"',
        f'data_dir = "{layout.data_dir}"',
        f'admin_token = {{ file = "{layout.secret("admin-token")}" }}',
        *([f"database_url = {json.dumps(database_url)}"] if database_url else []),
        *(
            [
                f"tls_cert_file = {json.dumps(str(tls_files.cert_file))}",
                f"tls_key_file = {json.dumps(str(tls_files.key_file))}",
            ]
            if tls_files is not None and https
            else []
        ),
        "",
        "[broker]",
        f'host = "{broker_host}"',
        f"port = {broker_port}",
        *([f'station_host = "{station_broker_host}"'] if station_broker_host else []),
        *([f"station_port = {station_broker_port}"] if station_broker_port else []),
        *(
            [
                f'tls_listen_host = "{broker_tls_listen_host}"',
                f"tls_port = {broker_tls_port}",
                f"ca_file = {json.dumps(str(tls_files.ca_file))}",
                f"cert_file = {json.dumps(str(tls_files.cert_file))}",
                f"key_file = {json.dumps(str(tls_files.key_file))}",
            ]
            if tls_files is not None
            else []
        ),
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


def _fleet_tls(layout: FleetLayout, names: list[str]) -> TlsFiles:
    """The fleet's own CA and server certificate: made once, kept on later runs of init."""
    existing = TlsFiles(
        layout.tls_dir / CA_CERT_FILE,
        layout.tls_dir / SERVER_CERT_FILE,
        layout.tls_dir / SERVER_KEY_FILE,
    )
    if existing.ca_file.exists():
        return existing
    layout.tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return create_fleet_tls(layout.tls_dir, names)


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
    b = settings.broker
    files = b.tls_files
    return write_broker_config(
        layout.broker_dir,
        host=b.host,
        port=b.port,
        accounts=broker_accounts(settings),
        tls=TlsListener(b.tls_listen_host, b.tls_port, files) if files is not None else None,
    )
