"""The demo's fleet: Mosquitto and `ewp fleet serve` over TLS, an admin's way into the API,
and each demo station registered and provisioned through it."""

from __future__ import annotations

import contextlib
import secrets
import ssl
import subprocess
import time
from pathlib import Path

import httpx

from edge.agent.provisioning import provision
from ewp.demo.processes import ewp_command, spawn, stop_all
from fleet.bootstrap import init_fleet, write_fleet_broker_config
from fleet.broker.mosquitto import MosquittoProcess, free_port
from fleet.errors import FleetError
from protocol.keys import CentralPrivateKey

DEMO_ADMIN = "demo-admin"
START_TIMEOUT_S = 60.0


class DemoFleet:
    """The broker and the fleet service of one demo, under ``root``, logging to ``logs``."""

    def __init__(self, root: Path, logs: Path, central: CentralPrivateKey) -> None:
        self.root = root
        self.logs = logs
        self.central = central
        self.broker: MosquittoProcess | None = None
        self.process: subprocess.Popen[bytes] | None = None
        # TLS on every hop, as in the field: the fleet serves HTTPS with the certificate of
        # its private CA, stations pin that CA through their claim tokens and reach the
        # broker's TLS listener; the plaintext listener is the fleet's own, on loopback.
        # With --rollout the stations' updaters fetch releases over the same HTTPS, checked
        # against the CA they pinned (edge/agent/updater/tuf_client.py).
        self.https = True
        self.url = ""
        self.admin_token = ""
        self.broker_port = 0
        self.tls_port = 0
        self.ca_file = Path()
        self.dashboard_password = ""

    @property
    def station_broker_url(self) -> str:
        """The broker's TLS listener, as a station at a service centre reaches it."""
        return f"mqtts://127.0.0.1:{self.tls_port}"

    def start(self, extra_settings: str = "") -> None:
        """Write the fleet's settings (plus ``extra_settings``), start the broker and the fleet
        service, wait for its health endpoint, and create the dashboard's admin."""
        self.broker_port, http_port, self.tls_port = free_port(), free_port(), free_port()
        self.url = f"{'https' if self.https else 'http'}://127.0.0.1:{http_port}"
        settings_text = init_fleet(
            self.root / "fleet-data",
            central_key=self.central.public_key(),
            listen_port=http_port,
            broker_port=self.broker_port,
            ingest_workers=2,
            tls=True,
            https=self.https,
            broker_tls_port=self.tls_port,
            broker_tls_listen_host="127.0.0.1",
        )
        config = self.root / "fleet.toml"
        config.write_text(settings_text + extra_settings)
        from ewp.cli.settings_loader import load_settings
        from fleet.settings import FleetSettings

        settings = load_settings(FleetSettings, config)
        self.admin_token = settings.service.admin_token.read("admin token")
        assert settings.broker.ca_file is not None
        self.ca_file = settings.broker.ca_file
        conf = write_fleet_broker_config(settings)
        self.broker = MosquittoProcess(
            conf, "127.0.0.1", self.broker_port, log_path=self.logs / "mosquitto.log"
        )
        self.broker.start()
        self.process = spawn(
            self.logs, "fleet", ewp_command("fleet", "serve", "--config", str(config))
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(httpx.HTTPError):
                health = httpx.get(f"{self.url}/api/v1/health", timeout=1, verify=self.tls())
                if health.status_code == 200:
                    break
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise FleetError(f"the fleet service did not start; see {self.logs}/fleet.log")
            time.sleep(0.2)
        self._create_dashboard_admin(settings.service.data_dir)

    def _create_dashboard_admin(self, data_dir: Path) -> None:
        """An admin for the dashboard, with a generated password (kept in the fleet's secrets
        directory, 0600, and shown at the end)."""
        self.dashboard_password = secrets.token_urlsafe(12)
        with self.api() as api:
            created = api.post(
                "/api/v1/users",
                json={"username": DEMO_ADMIN, "password": self.dashboard_password, "role": "admin"},
            )
            created.raise_for_status()
        path = data_dir / "secrets" / "demo-admin-password"
        path.touch(mode=0o600)
        path.write_text(self.dashboard_password + "\n")

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            verify=self.tls(),
            timeout=30,
            headers={"authorization": f"Bearer {self.admin_token}"},
        )

    def register(
        self, api: httpx.Client, station_id: str, kind: str, province: str, data_dir: Path
    ) -> None:
        """Register the station, place it in ``province`` (the dashboard's map) and provision
        its identity under ``data_dir`` with the claim token the fleet gave."""
        response = api.post("/api/v1/stations", json={"station_id": station_id, "kind": kind})
        response.raise_for_status()
        placed = api.patch(f"/api/v1/stations/{station_id}", json={"province": province})
        placed.raise_for_status()
        provision(
            data_dir / "identity",
            self.url,
            response.json()["claim_token"],
            software_version="demo",
            insecure_for_testing=not self.https,
        )

    def received(self, api: httpx.Client) -> int:
        """Packets the fleet has stored so far (0 while it does not answer)."""
        try:
            return int(api.get("/api/v1/summary").json()["packets"])
        except (httpx.HTTPError, KeyError, ValueError):
            return 0

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        stop_all([self.process], timeout_s=20)
        if self.broker is not None:
            self.broker.stop()
