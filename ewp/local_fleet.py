"""A whole fleet in one process, for tests and benchmarks: Mosquitto (auth and ACL on), the
fleet service in-process (HTTP on a free port, ingest workers), and provisioned stations."""

from __future__ import annotations

import secrets
import signal
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn

from edge.agent.identity import StationIdentity
from edge.agent.provisioning import provision
from ewp.cli.settings_loader import validate_settings
from fleet.api.app import create_app
from fleet.bootstrap import init_fleet, write_fleet_broker_config
from fleet.broker.mosquitto import MosquittoProcess, free_port
from fleet.context import FleetContext
from fleet.ingest import BrokerLogin, retire_sessions
from fleet.service import https_files, start_ingest_workers, start_ops_jobs, start_rollout_engine
from fleet.settings import FleetSettings
from protocol.keys import CentralPrivateKey


@dataclass
class IngestProcess:
    """An `ewp fleet ingest --name NAME` process, its log (stderr) appended to a file."""

    settings_path: Path
    name: str
    workers: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    _log_start: int = 0

    def start(self) -> IngestProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._log_start = self.log.stat().st_size if self.log.exists() else 0
        command = [
            sys.executable, "-m", "ewp", "fleet", "ingest", "--config", str(self.settings_path),
            "--name", self.name, "--workers", str(self.workers),
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        return self

    def log_text(self) -> str:
        """What this run (since the last start) logged."""
        with self.log.open("rb") as log:
            log.seek(self._log_start)
            return log.read().decode("utf-8", "replace")

    def wait_subscribed(self, timeout: float = 120.0) -> None:
        """Until every worker's subscriptions are acknowledged by the broker: messages
        published before then have no ingest subscriber and are dropped."""
        deadline = time.monotonic() + timeout
        while self.log_text().count(" subscribed") < self.workers:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"ingest process {self.name} exited; see {self.log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest process {self.name} not subscribed; see {self.log}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no goodbye to the broker, whatever it was handling left unacknowledged."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def central_token(admin: httpx.Client, username: str = "central") -> str:
    """Through an admin's client: a user with the central role (made if missing, with a random
    password nobody keeps) and a new API token for it."""
    created = admin.post(
        "/api/v1/users",
        json={"username": username, "password": secrets.token_urlsafe(24), "role": "central"},
    )
    if created.status_code not in (201, 409):
        created.raise_for_status()
    token = admin.post("/api/v1/tokens", json={"name": "central system", "username": username})
    token.raise_for_status()
    return str(token.json()["token"])


@dataclass
class FleetStack:
    root: Path
    settings: FleetSettings
    settings_path: Path
    broker: MosquittoProcess
    central: CentralPrivateKey
    context: FleetContext | None = None
    url: str = ""
    _server: uvicorn.Server | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: int = 0
    _central_token: str = ""

    @property
    def admin_token(self) -> str:
        return self.settings.service.admin_token.read("admin token")

    @property
    def ca_file(self) -> Path:
        """The fleet CA (stations check the broker's TLS certificate, and HTTPS, against it)."""
        files = self.settings.broker.tls_files
        assert files is not None
        return files.ca_file

    @property
    def tls_url(self) -> str:
        """The broker's TLS listener, as stations reach it."""
        return f"mqtts://127.0.0.1:{self.settings.broker.tls_port}"

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self.admin_token}"},
            timeout=30,
            verify=ssl.create_default_context(cafile=self.ca_file),
        )

    def central_api(self) -> httpx.Client:
        """A client with the central role (a ``central`` user and its token, made once)."""
        if not self._central_token:
            with self.api() as api:
                self._central_token = central_token(api)
        return httpx.Client(
            base_url=self.url,
            headers={"authorization": f"Bearer {self._central_token}"},
            timeout=30,
            verify=ssl.create_default_context(cafile=self.ca_file),
        )

    @property
    def service_login(self) -> BrokerLogin:
        b = self.settings.broker
        password = b.service_password.read("broker service password")
        return BrokerLogin(b.host, b.port, b.service_username, password, b.tls, b.ca_file)

    def start_service(self, workers: int = 1) -> None:
        self.context = FleetContext.create(self.settings)
        self._stop = threading.Event()
        self._workers = workers
        self._threads = start_ingest_workers(self.context, workers, self._stop)
        self._threads.append(start_ops_jobs(self.context, self._stop))
        self._threads.append(start_rollout_engine(self.context, self._stop))
        config = uvicorn.Config(
            create_app(self.context),
            host="127.0.0.1",
            port=self.settings.service.listen_port,
            log_config=None,
            access_log=False,
            ssl_certfile=https_files(self.settings)[0],
            ssl_keyfile=https_files(self.settings)[1],
        )
        self._server = uvicorn.Server(config)
        thread = threading.Thread(target=self._server.run, daemon=True)
        thread.start()
        self._threads.append(thread)
        deadline = time.monotonic() + 60  # generous: a loaded CI machine starts slowly
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fleet HTTP server did not start")
            time.sleep(0.02)

    def stop_service(self, *, retire_ingest: bool = False) -> None:
        """Stop the in-process service. ``retire_ingest`` also ends its ingest workers' broker
        sessions: otherwise the broker keeps their share of the shared subscription and
        queues messages for them until they come back (as it should for a restart)."""
        if self._server is not None:
            self._server.should_exit = True
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.context is not None:
            self.context.close()
        self.context = None
        self._server = None
        if retire_ingest and self._workers:
            retire_sessions(self.service_login, [f"ewp-ingest-{n}" for n in range(self._workers)])
            self._workers = 0

    def ingest_process(self, name: str, workers: int = 1) -> IngestProcess:
        """An `ewp fleet ingest` process on this fleet's settings (not started yet)."""
        return IngestProcess(
            self.settings_path, name, workers, self.root / "logs" / f"ingest-{name}.log"
        )

    def add_station(self, station_id: str, kind: str = "center") -> str:
        with self.api() as api:
            response = api.post("/api/v1/stations", json={"station_id": station_id, "kind": kind})
            response.raise_for_status()
            return str(response.json()["claim_token"])

    def provision_station(
        self, station_id: str, data_dir: Path, kind: str = "center"
    ) -> StationIdentity:
        token = self.add_station(station_id, kind)
        provision(
            data_dir / "identity",
            self.url,
            token,
            software_version="test",
            insecure_for_testing=self.url.startswith("http://"),
        )
        return StationIdentity.load(data_dir / "identity")

    def stop(self) -> None:
        self.stop_service()
        self.broker.stop()


def start_fleet_stack(
    root: Path,
    *,
    workers: int = 1,
    serve: bool = True,
    database_url: str | None = None,
    extra_settings: str = "",
    https: bool = False,
) -> FleetStack:
    """Broker and (``serve``) the fleet service; the store is SQLite in ``root`` unless
    ``database_url`` names another (a PostgreSQL database of ewp/local_postgres.py).
    ``extra_settings``: TOML appended to the generated settings (e.g. an alert webhook).

    The broker always has its TLS listener (stations provisioned here use ``mqtts://``, the
    fleet CA pinned); the service serves HTTPS with ``https``, else plain HTTP on loopback."""
    central = CentralPrivateKey.generate()
    broker_port, http_port, tls_port = free_port(), free_port(), free_port()
    text = init_fleet(
        root / "fleet",
        central_key=central.public_key(),
        listen_port=http_port,
        broker_port=broker_port,
        ingest_workers=workers,
        database_url=database_url,
        tls=True,
        https=https,
        broker_tls_port=tls_port,
        broker_tls_listen_host="127.0.0.1",
    )
    text += extra_settings
    settings_path = root / "fleet.toml"
    settings_path.write_text(text)
    settings = validate_settings(FleetSettings, tomllib.loads(text), source=str(settings_path))
    conf = write_fleet_broker_config(settings)
    broker = MosquittoProcess(conf, "127.0.0.1", broker_port)
    broker.start()
    scheme = "https" if https else "http"
    stack = FleetStack(
        root, settings, settings_path, broker, central, url=f"{scheme}://127.0.0.1:{http_port}"
    )
    if serve:
        stack.start_service(workers)
    return stack


def wait_until(
    condition: object, timeout: float = 30.0, interval: float = 0.05, message: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)
