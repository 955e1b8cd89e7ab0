"""`ewp demo --rollout`: a new agent release rolled out in phases over the demo's fleet.

Before the fleet starts, the project is built once as a wheel (`pip wheel --no-deps`, what
`ewp release build agent` bundles) and published as the running release into a TUF repository
the fleet serves at /updates/. A subset of the centres (``updatable``, 6 by default: every
station running from a release layout costs an unpacked copy of the project and restarts on
the shared 2-core machine) is provisioned like a real station: the release installed under
``<station>/opt/releases/<version>/site``, the update root trusted, and the agent started
from ``opt/current/site`` by a small supervisor doing systemd's part (the boot counter step
before each start, a restart whenever the agent exits). Once the fleet runs, the next version
is built and published, and a rollout (canary 1 station, then 25 %, then the rest) takes it to
those stations while the whole fleet keeps enrolling: each station's own updater downloads it
(a delta when it can), installs it, restarts into it and passes its health check, or not.

``--rollout-fail-canary`` publishes a broken build instead: its agent carries a default
fingerprint sensor password the stations' sensors do not have, so the canary's health check
fails for real on the sensor's own refusal, the station rolls back by itself and the rollout
halts. No status message is made up here: every state shown is what the fleet's API reports.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from edge.agent.updater.layout import Layout
from ewp.demo_releases import Releases
from fleet.errors import FleetError

if TYPE_CHECKING:
    from ewp.demo.stations import Station

log = logging.getLogger(__name__)

HEALTH_CHECK_S = 15.0  # how long a new version may take to pass its health check
PHASE_TIMEOUT_S = 300.0  # a station silent this long after its offer counts as failed
FINAL = {"completed", "halted", "cancelled"}


def demo_plan() -> dict[str, Any]:
    """Canary, a quarter, the rest; no soak check: over the demo's few seconds one station's
    enrolment pace says nothing (a station that just restarted enrolled less)."""
    timeout = {"timeout_s": PHASE_TIMEOUT_S, "soak_s": 0}
    return {
        "phases": [
            {"name": "canary", "stations": 1, **timeout},
            {"name": "quarter", "percent": 25, **timeout},
            {"name": "rest", "rest": True, **timeout},
        ],
        "health_deadline_s": 120,
    }


class Supervisor:
    """systemd's part for one station (deploy/systemd/ewp-agent.service, in miniature): the
    boot counter step, then the agent from ``current/site``, started again whenever it exits
    (a new version installed, or a rollback), until the demo stops."""

    def __init__(self, station: Station, layout: Layout, *, max_starts: int = 20) -> None:
        self.station = station
        self.layout = layout
        self.max_starts = max_starts
        self.starts = 0
        self.exits: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"sup-{station.station_id}")

    def _env(self) -> dict[str, str]:
        return os.environ | {"PYTHONPATH": str(self.layout.current / "site")}

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while self.station.process is None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _run(self) -> None:
        log_path = self.layout.log_file
        log_path.parent.mkdir(parents=True, exist_ok=True)
        while not self._stop.is_set() and self.starts < self.max_starts:
            with log_path.open("ab") as out:
                subprocess.run(
                    [sys.executable, "-m", "edge.agent.updater", "boot", "--root",
                     str(self.layout.root)],
                    env=self._env(), stdout=out, stderr=subprocess.STDOUT, check=False,
                    timeout=60, cwd=self.layout.root,
                )  # fmt: skip
                with self._lock:
                    if self._stop.is_set():
                        return
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "ewp", "agent", "run", "--config",
                         str(self.station.config)],
                        env=self._env(), stdout=out, stderr=subprocess.STDOUT,
                        cwd=self.layout.root, start_new_session=True,
                    )  # fmt: skip
                    self.station.process = proc
                    self.starts += 1
            self.exits.append(proc.wait())
            self._stop.wait(0.5)

    @property
    def restarts(self) -> int:
        return max(0, self.starts - 1)

    def stop(self) -> None:
        """No more starts; the running agent is stopped by the demo (SIGTERM)."""
        with self._lock:
            self._stop.set()

    def join(self) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout=30)


@dataclass
class RolloutResult:
    rollout_id: str
    from_version: str
    to_version: str
    broken: bool
    state: str
    halt_reason: str | None
    phases: list[dict[str, Any]]
    stations: list[dict[str, Any]]  # per station: phase, state, running version, restarts
    release_bytes: int
    delta_bytes: int
    packets_during_rollout: int
    elapsed_s: float
    offered_outside_canary: list[str] = field(default_factory=list)

    @property
    def updated(self) -> int:
        return sum(1 for s in self.stations if s["running"] == self.to_version)

    @property
    def rolled_back(self) -> int:
        return sum(1 for s in self.stations if s["state"] == "rolled-back")

    @property
    def ok(self) -> bool:
        if self.broken:
            return (
                self.state == "halted"
                and self.rolled_back == 1
                and self.updated == 0
                and not self.offered_outside_canary
            )
        return self.state == "completed" and self.updated == len(self.stations)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data |= {"updated": self.updated, "rolled_back": self.rolled_back, "ok": self.ok}
        return data


class RolloutDemo:
    def __init__(self, root: Path, *, broken: bool, updatable: int) -> None:
        self.releases = Releases(root / "releases")
        self.broken = broken
        self.updatable = updatable
        self.first_bundle: Path | None = None
        self.supervisors: dict[str, Supervisor] = {}
        self.layouts: dict[str, Layout] = {}

    def prepare(self) -> None:
        self.first_bundle = self.releases.prepare()

    def fleet_settings(self) -> str:
        return self.releases.fleet_settings()

    def provision(self, stations: list[Station], fleet_url: str) -> None:
        """The first centres (mobile units only if there are too few) run from a release
        layout, with the updater on."""
        assert self.first_bundle is not None
        ordered = [s for s in stations if s.kind == "center"] + [
            s for s in stations if s.kind != "center"
        ]
        for station in ordered[: self.updatable]:
            layout = Layout(station.data_dir / "opt")
            layout.install_bundle(self.first_bundle)
            layout.activate_first(self.releases.running)
            layout.trust_root(self.releases.root_json())
            self.layouts[station.station_id] = layout
            with station.config.open("a") as config:
                config.write(
                    "[updates]\n"
                    f'root = "{layout.root}"\n'
                    f'repository_url = "{fleet_url}/updates"\n'
                    f"health_check_s = {HEALTH_CHECK_S:g}\n"
                )

    def supervised(self, station: Station) -> bool:
        return station.station_id in self.layouts

    def start_agent(self, station: Station, logs: Path) -> None:
        layout = self.layouts[station.station_id]
        supervisor = Supervisor(station, layout)
        self.supervisors[station.station_id] = supervisor
        link = logs / f"{station.station_id}.log"
        if not link.exists():
            link.symlink_to(layout.log_file)
        supervisor.start()

    def stop(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.stop()

    def join(self) -> None:
        for supervisor in self.supervisors.values():
            supervisor.join()

    # -- the rollout ------------------------------------------------------------------------

    def run(
        self,
        api: httpx.Client,
        progress: Progress,
        created: Callable[[], int],
        timeout_s: float,
    ) -> RolloutResult:
        started = time.monotonic()
        self._wait_online(api, progress, timeout_s)
        packets_before = created()
        size, deltas = self.releases.publish_new(broken=self.broken)
        station_ids = sorted(self.layouts)
        body = {
            "component": "agent",
            "version": self.releases.new,
            "selector": {"stations": station_ids},
            "plan": demo_plan(),
        }
        response = api.post("/api/v1/rollouts", json=body)
        if response.status_code != 201:
            raise FleetError(f"the rollout was refused: {response.status_code} {response.text}")
        rollout_id = str(response.json()["rollout_id"])
        kind = "a broken build" if self.broken else "the next version"
        tasks: dict[str, TaskID] = {}
        shown = response.json()
        while True:
            for phase in shown["phases"]:
                if phase["name"] not in tasks:
                    tasks[phase["name"]] = progress.add_task("", total=phase["stations"])
                progress.update(
                    tasks[phase["name"]],
                    completed=phase["healthy"] + phase["failed"],
                    description=f"rollout of {self.releases.new} ({kind}), phase "
                    f"{phase['name']}: {phase['state']}",
                )
            if shown["state"] in FINAL or time.monotonic() - started > timeout_s:
                break
            time.sleep(1.0)
            got = api.get(f"/api/v1/rollouts/{rollout_id}")
            if got.status_code == 200:
                shown = got.json()
        self._wait_settled(shown)
        return self._result(shown, size, deltas, created() - packets_before, started)

    def _wait_online(self, api: httpx.Client, progress: Progress, timeout_s: float) -> None:
        """The rollout starts once every updatable station has come online (the fleet puts
        online stations first, and a demo should not wait on a station still starting)."""
        task = progress.add_task("updatable stations online", total=len(self.layouts))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            online = 0
            for station_id in self.layouts:
                got = api.get(f"/api/v1/stations/{station_id}")
                online += got.status_code == 200 and bool(got.json().get("online"))
            progress.update(task, completed=online)
            if online == len(self.layouts):
                return
            time.sleep(1.0)

    def _wait_settled(self, shown: dict[str, Any], timeout_s: float = 30.0) -> None:
        """A station that rolled back restarts on its previous version: wait for it to run."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(layout.trial() is None for layout in self.layouts.values()):
                return
            time.sleep(0.5)

    def _result(
        self,
        shown: dict[str, Any],
        size: int,
        deltas: dict[str, int],
        packets: int,
        started: float,
    ) -> RolloutResult:
        names = {p["index"]: p["name"] for p in shown["phases"]}
        stations = []
        outside: list[str] = []
        for s in shown["stations"]:
            layout = self.layouts[s["station_id"]]
            received = (layout.releases / self.releases.new).exists()
            if s["phase"] > 0 and (s["offered_at"] is not None or received):
                outside.append(s["station_id"])
            stations.append(
                {
                    "station_id": s["station_id"],
                    "phase": names.get(s["phase"], str(s["phase"])),
                    "state": s["state"],
                    "running": layout.installed_version(),
                    "delta": bool(s["delta"]),
                    "bytes": int(s["bytes_done"]),
                    "restarts": self.supervisors[s["station_id"]].restarts,
                    "reason": s["reason"],
                }
            )
        return RolloutResult(
            rollout_id=str(shown["rollout_id"]),
            from_version=self.releases.running,
            to_version=self.releases.new,
            broken=self.broken,
            state=str(shown["state"]),
            halt_reason=shown.get("halt_reason"),
            phases=[
                {k: p[k] for k in ("name", "state", "stations", "healthy", "failed")}
                for p in shown["phases"]
            ],
            stations=stations,
            release_bytes=size,
            delta_bytes=deltas.get(self.releases.running, 0),
            packets_during_rollout=packets,
            elapsed_s=round(time.monotonic() - started, 1),
            offered_outside_canary=outside,
        )


def _size(n: int) -> str:
    return f"{n} B" if n < 10240 else f"{n / 1024:.0f} KB"


def render_rollout(result: dict[str, Any], console: Console) -> None:
    """The per-station table and the summary of ``RolloutResult.as_dict()``."""
    title = f"rollout {result['rollout_id']}: {result['from_version']} -> {result['to_version']}"
    table = Table(title=title)
    for column in ("station", "phase", "state", "running", "download", "restarts"):
        table.add_column(column)
    for s in result["stations"]:
        download = f"{_size(s['bytes'])}{' (delta)' if s['delta'] else ''}"
        table.add_row(
            s["station_id"], s["phase"], s["state"], str(s["running"]), download,
            str(s["restarts"]),
        )  # fmt: skip
    console.print(table)
    summary = Table(title="rollout summary")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    broken = " (broken build)" if result["broken"] else ""
    sizes = f"{_size(result['release_bytes'])} / {_size(result['delta_bytes'])}"
    for name, value in (
        ("stations running from release layouts (updatable)", len(result["stations"])),
        ("release built and published", f"{result['to_version']}{broken}"),
        ("full bundle / delta from the running version", sizes),
        ("rollout state", result["state"]),
        ("phases", ", ".join(f"{p['name']} {p['state']}" for p in result["phases"])),
        ("stations updated (healthy on the new version)", result["updated"]),
        ("stations rolled back by themselves", result["rolled_back"]),
        ("stations outside the canary offered the release", len(result["offered_outside_canary"])),
        ("packets created while the rollout ran", result["packets_during_rollout"]),
        ("rollout elapsed", f"{result['elapsed_s']:.0f} s"),
    ):
        summary.add_row(name, str(value))
    console.print(summary)
    if result["halt_reason"]:
        console.print(f"[yellow]rollout halted:[/yellow] {result['halt_reason']}")
    for s in result["stations"]:
        if s["state"] == "rolled-back" and s["reason"]:
            console.print(f"[yellow]{s['station_id']} rolled back:[/yellow] {s['reason']}")
    expected = "halted at the canary" if result["broken"] else "completed on every station"
    verdict = f"[green]rollout {expected}[/green]" if result["ok"] else "[red]rollout FAILED"
    console.print(verdict)
