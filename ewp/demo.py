"""The whole system on one machine: broker, fleet service and a simulated fleet of stations.

Every station is a real `ewp agent run` process with its own simulated fingerprint sensor (the
simulators run in one `ewp sim fingerprint --count N` process, one sensor per TCP port). Mobile
units reach the broker through fault-injecting proxies; some lose their link for part of the
run and catch up later. At the end the demo checks, packet by packet, that what the stations
created is what the fleet stored (same hash, exactly once) and that the central key opens it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edge.agent.identity import StationIdentity
from edge.agent.provisioning import provision
from ewp.demo_rollout import RolloutDemo, RolloutResult, render_rollout
from ewp.kiosk_demo import KioskStation
from ewp.local_fleet import central_token
from fleet.bootstrap import init_fleet, write_fleet_broker_config
from fleet.broker.mosquitto import MosquittoProcess, free_port
from fleet.central import open_and_check
from fleet.errors import FleetError
from protocol.envelope import SealedPacket
from protocol.errors import ProtocolError
from protocol.keys import CentralPrivateKey
from protocol.reference_data import provinces
from protocol.station_config import ALL_FINGERS
from simulators.network import FaultyLink, NetworkSimulator

log = logging.getLogger(__name__)

SIMS_PER_PROCESS = 8  # simulated devices per `ewp sim` process
SENSOR_TIMEOUT_S = 20.0
# While the dashboard is held after the summary, each station enrols someone about this often
# (48 stations: one enrolment every few seconds across the fleet), so the first look is a live
# fleet, not 48 stations gone offline.
LIVE_ENROLMENT_INTERVAL_S = 150.0
DEMO_ADMIN = "demo-admin"
# Where the demo's vans work: border provinces where migrant workers cross (ISO 3166-2:TH).
MOBILE_PROVINCES = ("TH-63", "TH-57", "TH-27", "TH-85", "TH-71", "TH-43", "TH-49", "TH-90")


@dataclass
class DemoOptions:
    stations: int = 48
    mobile: int = 8
    enrolments_per_station: int = 3
    fingers: tuple[str, ...] = ALL_FINGERS
    eyes: tuple[str, ...] = ("left", "right")
    cut_links: int | None = None  # mobile units that lose their link; default: half of them
    cut_after_s: float = 0.0  # 0: those vans start out of coverage and enrol offline
    cut_for_s: float = 40.0
    timeout_s: float = 900.0
    workdir: Path | None = None
    keep: bool = False
    seed: int = 7
    kiosk: bool = False  # one more station serving its kiosk, driven by an autopilot
    enrolment_interval_s: float = 1.0  # the autopilot's pause between applicants
    rollout: bool = False  # roll a new agent release out over `updatable` stations
    rollout_fail_canary: bool = False  # ... a broken one: the canary rolls back, it halts
    updatable: int = 6


@dataclass
class Station:
    station_id: str
    kind: str
    data_dir: Path
    config: Path
    link: FaultyLink | None = None
    process: subprocess.Popen[bytes] | None = None
    broker_url: str = ""


@dataclass
class DemoResult:
    stations: int
    expected: int  # stations x enrolments per station
    packets_created: int
    packets_received: int
    lost: int
    duplicates: int
    hash_mismatches: int
    opened_by_central: int
    resends_acknowledged: int
    links_cut: int
    average_attempts: dict[str, float]
    exceptions: int
    packet_kb: dict[str, float]
    elapsed_s: float
    fleet_url: str
    workdir: str
    problems: list[str] = field(default_factory=list)
    dashboard_url: str = ""
    dashboard_user: str = ""
    dashboard_password: str = ""  # a throwaway demo fleet's admin, shown at the end
    kiosk_url: str = ""
    kiosk_saved: str = ""  # what the kiosk said when its applicant was saved
    rollout: dict[str, Any] | None = None  # `--rollout`: RolloutResult.as_dict()

    @property
    def ok(self) -> bool:
        return (
            not self.problems
            and self.packets_created == self.expected
            and self.lost == 0
            and self.duplicates == 0
            and self.hash_mismatches == 0
            and self.packets_received == self.packets_created == self.opened_by_central
            and (self.rollout is None or bool(self.rollout["ok"]))
        )


def _ewp_command(*args: str) -> list[str]:
    """The installed `ewp` script (not `python -m`, which would put the working directory
    first on sys.path), falling back to the module."""
    script = Path(sys.executable).with_name("ewp")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "ewp", *args]


class Demo:
    def __init__(self, options: DemoOptions, console: Console) -> None:
        if not 0 <= options.mobile <= options.stations:
            raise FleetError("--mobile must be between 0 and --stations")
        self.o = options
        self.console = console
        self.root = options.workdir or Path(tempfile.mkdtemp(prefix="ewp-demo-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs = self.root / "logs"
        self.logs.mkdir(exist_ok=True)
        self.central = CentralPrivateKey.generate()
        self.stations: list[Station] = []
        self.broker: MosquittoProcess | None = None
        self.fleet_proc: subprocess.Popen[bytes] | None = None
        self.sim_procs: list[subprocess.Popen[bytes]] = []
        self.net = NetworkSimulator()
        self.fleet_url = ""
        self.admin_token = ""
        self.broker_port = 0
        self.tls_port = 0
        self.ca_file = Path()
        self.dashboard_password = ""
        self.kiosk: KioskStation | None = None
        self.rollout: RolloutDemo | None = None
        if options.rollout or options.rollout_fail_canary:
            self.rollout = RolloutDemo(
                self.root, broken=options.rollout_fail_canary, updatable=options.updatable
            )

    # -- start ---------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{name}.log").open("ab")
        return subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, cwd=self.logs, start_new_session=True
        )

    def start_fleet(self) -> None:
        self.broker_port, http_port, self.tls_port = free_port(), free_port(), free_port()
        # TLS on every hop, as in the field: the fleet serves HTTPS with the certificate of
        # its private CA, stations pin that CA through their claim tokens and reach the
        # broker's TLS listener; the plaintext listener is the fleet's own, on loopback.
        # With --rollout the stations' updaters fetch releases over the same HTTPS, checked
        # against the CA they pinned (edge/agent/updater/tuf_client.py).
        self.https = True
        self.fleet_url = f"{'https' if self.https else 'http'}://127.0.0.1:{http_port}"
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
        if self.rollout is not None:
            settings_text += self.rollout.fleet_settings()
        config = self.root / "fleet.toml"
        config.write_text(settings_text)
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
        self.fleet_proc = self._spawn(
            "fleet", _ewp_command("fleet", "serve", "--config", str(config))
        )
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                health = httpx.get(f"{self.fleet_url}/api/v1/health", timeout=1, verify=self._tls())
                if health.status_code == 200:
                    break
            if self.fleet_proc.poll() is not None or time.monotonic() > deadline:
                raise FleetError(f"the fleet service did not start; see {self.logs}/fleet.log")
            time.sleep(0.2)
        self.create_dashboard_admin(settings.service.data_dir)

    def create_dashboard_admin(self, data_dir: Path) -> None:
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

    def _start_simulators(self, kind: str) -> list[str]:
        """`ewp sim KIND --count N` processes, at most SIMS_PER_PROCESS devices each (so the
        simulated devices use every core); the URLs of all the devices, in order."""
        procs = []
        for first in range(0, self.o.stations, SIMS_PER_PROCESS):
            count = min(SIMS_PER_PROCESS, self.o.stations - first)
            command = [
                "sim",
                kind,
                "--listen",
                "tcp://127.0.0.1:0",
                "--count",
                str(count),
                "--seed",
                str(self.o.seed + first),
            ]
            proc = subprocess.Popen(
                _ewp_command(*command),
                stdout=subprocess.PIPE,
                stderr=(self.logs / f"sim-{kind}-{first // SIMS_PER_PROCESS}.log").open("ab"),
                cwd=self.logs,
                start_new_session=True,
            )
            self.sim_procs.append(proc)
            procs.append((proc, count))
        urls = []
        for proc, count in procs:
            assert proc.stdout is not None
            for _ in range(count):
                line = proc.stdout.readline().decode().strip()
                if not line:
                    raise FleetError(f"the {kind} simulators did not start; see {self.logs}")
                urls.append(line)
        return urls

    def start_sensors(self) -> tuple[list[str], list[str] | None]:
        fingerprints = self._start_simulators("fingerprint")
        irises = self._start_simulators("iris") if self.o.eyes else None
        return fingerprints, irises

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.fleet_url,
            verify=self._tls(),
            timeout=30,
            headers={"authorization": f"Bearer {self.admin_token}"},
        )

    def create_stations(
        self, sensor_urls: list[str], iris_urls: list[str] | None, progress: Progress
    ) -> None:
        task = progress.add_task("provisioning stations", total=self.o.stations)
        with self.api() as api:
            for n in range(self.o.stations):
                mobile = n < self.o.mobile
                station_id = f"mu-{n + 1:02d}" if mobile else f"ct-{n + 1 - self.o.mobile:02d}"
                kind = "mobile" if mobile else "center"
                response = api.post(
                    "/api/v1/stations", json={"station_id": station_id, "kind": kind}
                )
                response.raise_for_status()
                # Where the station is, for the dashboard's map (the registry's province).
                placed = api.patch(
                    f"/api/v1/stations/{station_id}", json={"province": _demo_province(n, mobile)}
                )
                placed.raise_for_status()
                data_dir = self.root / "stations" / station_id
                provision(
                    data_dir / "identity",
                    self.fleet_url,
                    response.json()["claim_token"],
                    software_version="demo",
                    insecure_for_testing=not self.https,
                )
                station = Station(station_id, kind, data_dir, data_dir / "agent.toml")
                broker_url = f"mqtts://127.0.0.1:{self.tls_port}"
                if mobile:
                    station.link = self.net.add_link(("127.0.0.1", self.tls_port), name=station_id)
                    broker_url = f"mqtts://{station.link.address}"
                station.broker_url = broker_url
                station.config.write_text(
                    self._agent_config(
                        station, sensor_urls[n], iris_urls[n] if iris_urls else None, broker_url
                    )
                )
                self.stations.append(station)
                progress.advance(task)

    def _agent_config(
        self,
        station: Station,
        sensor_url: str,
        iris_url: str | None,
        broker_url: str,
        *,
        live: bool = False,
    ) -> str:
        fingers = ", ".join(f'"{f}"' for f in self.o.fingers)
        interval = LIVE_ENROLMENT_INTERVAL_S if live else self.o.enrolment_interval_s
        eyes = ", ".join(f'"{e}"' for e in self.o.eyes)
        # The simulated sensors of the whole fleet share this machine's cores: with dozens of
        # stations they answer more slowly than a real module (under a second), so give them
        # SENSOR_TIMEOUT_S instead of the driver's 2 s before a command counts as unanswered.
        timeout = f"timeout_s = {SENSOR_TIMEOUT_S:g}"
        iris = [] if iris_url is None else ["[sensors.iris]", f'port = "{iris_url}"', timeout]
        return "\n".join(
            [
                "[station]",
                f'data_dir = "{station.data_dir}"',
                'operator_id = "demo-operator"',
                "[sensors.fingerprint]",
                f'port = "{sensor_url}"',
                timeout,
                *iris,
                "[uplink]",
                f'broker_url = "{broker_url}"',
                "heartbeat_interval_s = 5",
                "receipt_timeout_s = 20",
                "reconnect_max_s = 5",
                "[capture]",
                f"fingers = [{fingers}]",
                f"eyes = [{eyes}]",
                "[autopilot]",
                "enabled = true",
                # Live: no count, so enrolments go on until the agent is stopped.
                *([] if live else [f"enrolments = {self.o.enrolments_per_station}"]),
                f"interval_s = {interval:g}",
                f"seed = {self.o.seed}",
                "",
            ]
        )

    def start_kiosk(self) -> None:
        """`--kiosk`: one more station, serving its kiosk from this process (ewp/kiosk_demo.py)."""
        station_id = KioskStation.station_id
        with self.api() as api:
            response = api.post(
                "/api/v1/stations", json={"station_id": station_id, "kind": "center"}
            )
            response.raise_for_status()
            api.patch(f"/api/v1/stations/{station_id}", json={"province": "TH-10"})
            data_dir = self.root / "stations" / station_id
            provision(
                data_dir / "identity",
                self.fleet_url,
                response.json()["claim_token"],
                software_version="demo",
                insecure_for_testing=not self.https,
            )
        self.kiosk = KioskStation(
            data_dir, f"mqtts://127.0.0.1:{self.tls_port}", self.o.fingers, self.o.eyes
        )
        self.kiosk.start()
        self.console.print(
            f"kiosk of {station_id}: {self.kiosk.url} — open {self.kiosk.unlock_url()} "
            "(a one-time link; the next one is in "
            f"{data_dir / 'kiosk' / 'unlock-url'}); an autopilot enrols one applicant there now"
        )
        self.kiosk.drive()

    def _data_dirs(self) -> list[Path]:
        """Every station's data directory, the kiosk's too (what they created is counted)."""
        kiosk = [self.kiosk.data_dir] if self.kiosk is not None else []
        return [s.data_dir for s in self.stations] + kiosk

    @property
    def expected(self) -> int:
        return len(self.stations) * self.o.enrolments_per_station + (1 if self.kiosk else 0)

    def start_agents(self, progress: Progress) -> None:
        task = progress.add_task("starting station agents", total=len(self.stations))
        for station in self.stations:
            if self.rollout is not None and self.rollout.supervised(station):
                self.rollout.start_agent(station, self.logs)  # from its release layout
            else:
                station.process = self._spawn(
                    station.station_id,
                    _ewp_command("agent", "run", "--config", str(station.config)),
                )
            progress.advance(task)
            time.sleep(0.05)  # spread the start-up load a little

    def keep_live(self) -> None:
        """After the summary: the stations run again (fresh simulated devices, every link up),
        heartbeating and enrolling someone now and then, while the dashboard is held."""
        sensor_urls, iris_urls = self.start_sensors()
        for n, station in enumerate(self.stations):
            if station.link is not None:
                station.link.restore()
            station.config.write_text(
                self._agent_config(
                    station,
                    sensor_urls[n],
                    iris_urls[n] if iris_urls else None,
                    station.broker_url,
                    live=True,
                )
            )
            station.process = self._spawn(
                station.station_id, _ewp_command("agent", "run", "--config", str(station.config))
            )
            time.sleep(0.05)

    def roll_out(self, progress: Progress) -> RolloutResult | None:
        """`--rollout`: while the fleet enrols, a new release to the updatable stations."""
        if self.rollout is None:
            return None
        with self.api() as api:
            return self.rollout.run(
                api, progress, lambda: self.outbox_counts()[0], self.o.timeout_s
            )

    # -- watch ---------------------------------------------------------------------------------

    def outbox_counts(self) -> tuple[int, int]:
        created = acked = 0
        for data_dir in self._data_dirs():
            path = data_dir / "outbox.sqlite"
            if not path.exists():
                continue
            try:
                with contextlib.closing(
                    sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
                ) as db:
                    for state, count in db.execute(
                        "SELECT state, COUNT(*) FROM packets GROUP BY state"
                    ):
                        created += count
                        if state in ("acked", "purged"):
                            acked += count
            except sqlite3.Error:
                continue
        return created, acked

    def received(self, api: httpx.Client) -> int:
        try:
            return int(api.get("/api/v1/summary").json()["packets"])
        except (httpx.HTTPError, KeyError, ValueError):
            return 0

    def links_to_cut(self) -> list[Station]:
        cut = self.o.cut_links if self.o.cut_links is not None else self.o.mobile // 2
        return [s for s in self.stations if s.link is not None][:cut]

    def run_fleet(self, progress: Progress, start: float) -> int:
        expected = self.expected
        to_cut = self.links_to_cut()
        created_task = progress.add_task("packets created at stations", total=expected)
        received_task = progress.add_task("packets stored at the fleet", total=expected)
        links_task = progress.add_task(f"mobile links to cut: {len(to_cut)}", total=len(to_cut))
        cut_done = restored = not to_cut
        with self.api() as api:
            while True:
                elapsed = time.monotonic() - start
                if not cut_done and elapsed >= self.o.cut_after_s:
                    for station in to_cut:
                        assert station.link is not None
                        station.link.cut()
                    cut_done = True
                    progress.update(
                        links_task,
                        description=f"mobile links cut: {len(to_cut)} vans out of coverage",
                    )
                if cut_done and not restored and elapsed >= self.o.cut_after_s + self.o.cut_for_s:
                    for station in to_cut:
                        assert station.link is not None
                        station.link.restore()
                    restored = True
                    progress.update(
                        links_task,
                        completed=len(to_cut),
                        description="mobile links restored: catching up",
                    )
                created, _ = self.outbox_counts()
                received = self.received(api)
                progress.update(created_task, completed=created)
                progress.update(received_task, completed=received)
                dead = [
                    s.station_id
                    for s in self.stations
                    if s.process is not None
                    and s.process.poll() is not None
                    and not (self.rollout is not None and self.rollout.supervised(s))
                ]
                if dead:
                    raise FleetError(f"station agents exited: {', '.join(dead)}; see {self.logs}")
                if restored and created >= expected and received >= expected:
                    return len(to_cut)
                if elapsed > self.o.timeout_s:
                    log.warning("demo timed out after %.0f s", elapsed)
                    return len(to_cut)
                time.sleep(1.0)

    # -- check ---------------------------------------------------------------------------------

    def check(self, links_cut: int, elapsed: float) -> DemoResult:
        created: dict[str, str] = {}
        problems: list[str] = []
        for data_dir in self._data_dirs():
            with contextlib.closing(sqlite3.connect(data_dir / "outbox.sqlite")) as db:
                created.update(db.execute("SELECT packet_id, sha256 FROM packets").fetchall())
        stored: list[dict[str, object]] = []
        with self.api() as api:
            offset = 0
            while True:
                page = api.get("/api/v1/packets", params={"limit": 1000, "offset": offset}).json()
                stored.extend(page)
                if len(page) < 1000:
                    break
                offset += 1000
            summary = api.get("/api/v1/summary").json()
            opened = 0
            attempts: dict[str, list[int]] = {"finger": [], "iris": []}
            exceptions = 0
            sizes: list[int] = []
            public_keys = {s.station_id: _station_public_key(s.data_dir) for s in self.stations}
            if self.kiosk is not None:
                public_keys[self.kiosk.station_id] = _station_public_key(self.kiosk.data_dir)
            # Only the central role fetches envelopes (decision 0040): the demo acts as central.
            central = {"authorization": f"Bearer {central_token(api)}"}
            for row in stored:
                envelope = api.get(
                    f"/api/v1/packets/{row['packet_id']}/envelope", headers=central
                ).content
                sizes.append(len(envelope))
                try:
                    packet = SealedPacket.from_bytes(envelope)
                    content = open_and_check(packet, self.central, public_keys[packet.station_id])
                    opened += 1
                except (ProtocolError, KeyError) as exc:
                    problems.append(f"packet {row['packet_id']} does not open: {exc}")
                    continue
                for record in content.manifest.records:
                    if record.kind == "image":
                        attempts[record.modality].append(record.attempts)
                exceptions += len(content.manifest.exceptions)
        ids = [str(row["packet_id"]) for row in stored]
        fleet_hashes = {str(row["packet_id"]): str(row["sha256"]) for row in stored}
        lost = sorted(set(created) - set(fleet_hashes))
        mismatched = [p for p, sha in fleet_hashes.items() if created.get(p) not in (None, sha)]
        unknown = sorted(set(fleet_hashes) - set(created))
        if unknown:
            problems.append(f"{len(unknown)} packets at the fleet that no station created")
        if self.kiosk is not None and not self.kiosk.saved:
            problems.append(f"the kiosk's applicant was not saved: {self.kiosk.error or 'timeout'}")
        return DemoResult(
            stations=len(self._data_dirs()),
            expected=self.expected,
            packets_created=len(created),
            packets_received=len(set(ids)),
            lost=len(lost),
            duplicates=len(ids) - len(set(ids)),
            hash_mismatches=len(mismatched),
            opened_by_central=opened,
            resends_acknowledged=int(summary.get("resends_acknowledged", 0)),
            links_cut=links_cut,
            average_attempts={m: round(sum(v) / len(v), 2) for m, v in attempts.items() if v},
            exceptions=exceptions,
            packet_kb={
                "mean": round(sum(sizes) / len(sizes) / 1024, 1) if sizes else 0.0,
                "max": round(max(sizes, default=0) / 1024, 1),
            },
            elapsed_s=round(elapsed, 1),
            fleet_url=self.fleet_url,
            workdir=str(self.root),
            problems=problems,
            dashboard_url=f"{self.fleet_url}/ui/",
            dashboard_user=DEMO_ADMIN,
            dashboard_password=self.dashboard_password,
            kiosk_url=self.kiosk.url if self.kiosk else "",
            kiosk_saved=self.kiosk.saved if self.kiosk else "",
        )

    # -- stop ----------------------------------------------------------------------------------

    def stop_stations(self) -> None:
        if self.rollout is not None:
            self.rollout.stop()  # no more restarts
        for station in self.stations:
            if station.process is not None and station.process.poll() is None:
                station.process.send_signal(signal.SIGTERM)
        for station in self.stations:
            if station.process is not None:
                try:
                    station.process.wait(20)
                except subprocess.TimeoutExpired:
                    station.process.kill()
        if self.rollout is not None:
            self.rollout.join()
        for proc in self.sim_procs:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
            if proc.poll() is None:
                proc.kill()
        self.sim_procs = []

    def stop_fleet(self) -> None:
        if self.fleet_proc is not None and self.fleet_proc.poll() is None:
            self.fleet_proc.send_signal(signal.SIGTERM)
            try:
                self.fleet_proc.wait(20)
            except subprocess.TimeoutExpired:
                self.fleet_proc.kill()
        if self.broker is not None:
            self.broker.stop()
        self.net.close()

    def cleanup(self) -> None:
        if not self.o.keep and self.o.workdir is None:
            shutil.rmtree(self.root, ignore_errors=True)


def _demo_province(n: int, mobile: bool) -> str:
    """Vans on the borders; centres spread over the country (29 is prime to 77: no repeats)."""
    if mobile:
        return MOBILE_PROVINCES[n % len(MOBILE_PROVINCES)]
    codes = sorted(provinces())
    return codes[(n * 29) % len(codes)]


def _station_public_key(data_dir: Path) -> ed25519.Ed25519PublicKey:
    """The key the station registered (read from its own identity, as a cross-check)."""
    return StationIdentity.load(data_dir / "identity").signing_key.public_key()


def render(result: DemoResult, console: Console) -> None:
    table = Table(title="ewp demo: what the stations created vs what the fleet stored")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, value in (
        ("stations", result.stations),
        ("mobile links cut for part of the run", result.links_cut),
        ("enrolments asked for", result.expected),
        ("packets created at stations", result.packets_created),
        ("packets stored at the fleet", result.packets_received),
        ("lost", result.lost),
        ("stored twice (duplicates)", result.duplicates),
        ("hash mismatches", result.hash_mismatches),
        ("opened and checked with the central key", result.opened_by_central),
        ("resent packets acknowledged again", result.resends_acknowledged),
        ("average attempts per finger", result.average_attempts.get("finger", "-")),
        ("average attempts per iris", result.average_attempts.get("iris", "-")),
        ("biometric exceptions recorded", result.exceptions),
        (
            "sealed packet size, mean / max",
            f"{result.packet_kb['mean']:.0f} / {result.packet_kb['max']:.0f} KB",
        ),
        ("elapsed", f"{result.elapsed_s:.0f} s"),
    ):
        table.add_row(name, str(value))
    console.print(table)
    if result.rollout is not None:
        render_rollout(result.rollout, console)
    for problem in result.problems:
        console.print(f"[red]problem:[/red] {problem}")
    if result.packets_created < result.expected:
        console.print(
            f"[red]only {result.packets_created} of {result.expected} enrolments were made "
            f"in time: see the station logs in {result.workdir}/logs[/red]"
        )
    verdict = "[green]every packet arrived exactly once[/green]" if result.ok else "[red]FAILED"
    console.print(f"{verdict}  fleet: {result.fleet_url}")
    if result.kiosk_url:
        console.print(f"kiosk: {result.kiosk_url} — {result.kiosk_saved or 'nothing saved'}")
    if result.dashboard_url:
        console.print(
            f"dashboard: {result.dashboard_url}  log in as {result.dashboard_user} "
            f"with the password {result.dashboard_password}"
        )


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_demo(options: DemoOptions, console: Console, *, hold: bool) -> DemoResult:
    demo = Demo(options, console)
    started = time.monotonic()
    succeeded = False
    # `kill` (SIGTERM) stops the demo as Ctrl-C does: its stations, simulators, fleet and
    # broker run in their own sessions and would otherwise outlive it.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            if demo.rollout is not None:
                releases = progress.add_task("building the running agent release", total=1)
                demo.rollout.prepare()
                progress.advance(releases)
            boot = progress.add_task("starting broker and fleet service", total=2)
            demo.start_fleet()
            progress.advance(boot)
            sensor_urls, iris_urls = demo.start_sensors()
            progress.advance(boot)
            demo.create_stations(sensor_urls, iris_urls, progress)
            if demo.rollout is not None:
                demo.rollout.provision(demo.stations, demo.fleet_url)
            run_started = time.monotonic()
            if options.cut_after_s <= 0:
                for station in demo.links_to_cut():
                    assert station.link is not None
                    station.link.cut()  # these vans start out of coverage
            demo.start_agents(progress)
            if options.kiosk:
                demo.start_kiosk()
            rollout = demo.roll_out(progress)
            links_cut = demo.run_fleet(progress, run_started)
        demo.stop_stations()
        result = demo.check(links_cut, time.monotonic() - started)
        result.rollout = rollout.as_dict() if rollout is not None else None
        succeeded = result.ok
        render(result, console)
        if hold and result.fleet_url:
            demo.keep_live()
            console.print(
                f"fleet service still running: open {result.dashboard_url} in a browser "
                f"(HTTPS with the demo fleet's own CA: accept the warning, or trust "
                f"{demo.ca_file}) "
                f"({result.dashboard_user} / {result.dashboard_password}; API admin token in "
                f"{demo.root}/fleet-data/secrets/admin-token). The stations keep running and "
                "enrol someone now and then; Ctrl-C stops"
            )
            with contextlib.suppress(KeyboardInterrupt):
                while demo.fleet_proc is not None and demo.fleet_proc.poll() is None:
                    time.sleep(1)
        return result
    finally:
        if demo.kiosk is not None:
            demo.kiosk.stop()
        demo.stop_stations()
        demo.stop_fleet()
        if not succeeded:
            # The logs are the way to find out what went wrong: never delete them then.
            console.print(f"kept the demo's files and logs in {demo.root}")
        elif os.environ.get("EWP_DEMO_KEEP") != "1":
            demo.cleanup()


def result_json(result: DemoResult) -> str:
    data = {k: v for k, v in result.__dict__.items()}
    data["ok"] = result.ok
    return json.dumps(data)
