"""One `ewp demo` run, start to stop: the fleet, the sensors, the stations and their agents,
the watch and the check; with ``hold``, the fleet kept live after the summary."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ewp.demo.check import check
from ewp.demo.fleet import DemoFleet
from ewp.demo.options import DemoOptions
from ewp.demo.processes import ewp_command, spawn, stop_all
from ewp.demo.sensors import SimulatedSensors
from ewp.demo.stations import (
    Station,
    agent_config,
    demo_province,
    outbox_counts,
    set_links,
    station_name,
)
from ewp.demo.summary import DemoResult, render
from ewp.demo.watch import watch
from ewp.demo_rollout import RolloutDemo, RolloutResult
from ewp.kiosk_demo import KioskStation
from fleet.errors import FleetError
from protocol.keys import CentralPrivateKey
from simulators.network import NetworkSimulator


class Demo:
    """The parts of one demo and what is done with them together."""

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
        self.fleet = DemoFleet(self.root, self.logs, self.central)
        self.sensors = SimulatedSensors(self.logs, options.stations, options.seed)
        self.stations: list[Station] = []
        self.net = NetworkSimulator()
        self.kiosk: KioskStation | None = None
        self.rollout: RolloutDemo | None = None
        if options.rollout or options.rollout_fail_canary:
            self.rollout = RolloutDemo(
                self.root, broken=options.rollout_fail_canary, updatable=options.updatable
            )

    # -- start ---------------------------------------------------------------------------------

    def start_fleet(self) -> None:
        self.fleet.start(self.rollout.fleet_settings() if self.rollout is not None else "")

    def create_stations(
        self, sensor_urls: list[str], iris_urls: list[str] | None, progress: Progress
    ) -> None:
        """Register and provision each station; the vans reach the broker through a proxy
        of the network simulator (their link can be cut)."""
        task = progress.add_task("provisioning stations", total=self.o.stations)
        with self.fleet.api() as api:
            for n in range(self.o.stations):
                station_id, kind = station_name(n, self.o.mobile)
                mobile = kind == "mobile"
                data_dir = self.root / "stations" / station_id
                self.fleet.register(api, station_id, kind, demo_province(n, mobile), data_dir)
                station = Station(station_id, kind, data_dir, data_dir / "agent.toml")
                station.broker_url = self.fleet.station_broker_url
                if mobile:
                    station.link = self.net.add_link(
                        ("127.0.0.1", self.fleet.tls_port), name=station_id
                    )
                    station.broker_url = f"mqtts://{station.link.address}"
                station.config.write_text(
                    agent_config(
                        self.o, station, sensor_urls[n], iris_urls[n] if iris_urls else None
                    )
                )
                self.stations.append(station)
                progress.advance(task)

    def start_kiosk(self) -> None:
        """`--kiosk`: one more station, serving its kiosk from this process (ewp/kiosk_demo.py)."""
        station_id = KioskStation.station_id
        data_dir = self.root / "stations" / station_id
        with self.fleet.api() as api:
            self.fleet.register(api, station_id, "center", "TH-10", data_dir)
        self.kiosk = KioskStation(
            data_dir, self.fleet.station_broker_url, self.o.fingers, self.o.eyes
        )
        self.kiosk.start()
        self.console.print(
            f"kiosk of {station_id}: {self.kiosk.url} — open {self.kiosk.unlock_url()} "
            "(a one-time link; the next one is in "
            f"{data_dir / 'kiosk' / 'unlock-url'}); an autopilot enrols one applicant there now"
        )
        self.kiosk.drive()

    def data_dirs(self) -> dict[str, Path]:
        """Every station's data directory, the kiosk's too (what they created is counted)."""
        dirs = {s.station_id: s.data_dir for s in self.stations}
        if self.kiosk is not None:
            dirs[self.kiosk.station_id] = self.kiosk.data_dir
        return dirs

    @property
    def expected(self) -> int:
        return len(self.stations) * self.o.enrolments_per_station + (1 if self.kiosk else 0)

    def _start_agent(self, station: Station) -> None:
        station.process = spawn(
            self.logs,
            station.station_id,
            ewp_command("agent", "run", "--config", str(station.config)),
        )

    def start_agents(self, progress: Progress) -> None:
        task = progress.add_task("starting station agents", total=len(self.stations))
        for station in self.stations:
            if self.supervised(station):
                assert self.rollout is not None
                self.rollout.start_agent(station, self.logs)  # from its release layout
            else:
                self._start_agent(station)
            progress.advance(task)
            time.sleep(0.05)  # spread the start-up load a little

    def supervised(self, station: Station) -> bool:
        """Whether a `--rollout` supervisor runs (and restarts) the station's agent."""
        return self.rollout is not None and self.rollout.supervised(station)

    def keep_live(self) -> None:
        """After the summary: the stations run again (fresh simulated devices, every link up),
        heartbeating and enrolling someone now and then, while the dashboard is held."""
        sensor_urls, iris_urls = self.sensors.start(irises=bool(self.o.eyes))
        set_links(self.stations, up=True)
        for n, station in enumerate(self.stations):
            iris_url = iris_urls[n] if iris_urls else None
            station.config.write_text(
                agent_config(self.o, station, sensor_urls[n], iris_url, live=True)
            )
            self._start_agent(station)
            time.sleep(0.05)

    def roll_out(self, progress: Progress) -> RolloutResult | None:
        """`--rollout`: while the fleet enrols, a new release to the updatable stations."""
        if self.rollout is None:
            return None
        with self.fleet.api() as api:
            return self.rollout.run(api, progress, self.created, self.o.timeout_s)

    def created(self) -> int:
        return outbox_counts(self.data_dirs().values())[0]

    def links_to_cut(self) -> list[Station]:
        cut = self.o.cut_links if self.o.cut_links is not None else self.o.mobile // 2
        return [s for s in self.stations if s.link is not None][:cut]

    def watch(self, progress: Progress, started: float) -> int:
        return watch(
            progress,
            self.o,
            self.fleet,
            self.stations,
            to_cut=self.links_to_cut(),
            expected=self.expected,
            created=self.created,
            supervised=self.supervised,
            started=started,
        )

    def check(self, links_cut: int, elapsed: float) -> DemoResult:
        return check(
            self.fleet,
            self.central,
            self.data_dirs(),
            expected=self.expected,
            kiosk=self.kiosk,
            links_cut=links_cut,
            elapsed=elapsed,
        )

    # -- stop ----------------------------------------------------------------------------------

    def stop_stations(self) -> None:
        if self.rollout is not None:
            self.rollout.stop()  # no more restarts
        stop_all([s.process for s in self.stations], timeout_s=20)
        if self.rollout is not None:
            self.rollout.join()
        self.sensors.stop()

    def stop_fleet(self) -> None:
        self.fleet.stop()
        self.net.close()

    def cleanup(self) -> None:
        if not self.o.keep and self.o.workdir is None:
            shutil.rmtree(self.root, ignore_errors=True)


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
            sensor_urls, iris_urls = demo.sensors.start(irises=bool(options.eyes))
            progress.advance(boot)
            demo.create_stations(sensor_urls, iris_urls, progress)
            if demo.rollout is not None:
                demo.rollout.provision(demo.stations, demo.fleet.url)
            run_started = time.monotonic()
            if options.cut_after_s <= 0:
                set_links(demo.links_to_cut(), up=False)  # these vans start out of coverage
            demo.start_agents(progress)
            if options.kiosk:
                demo.start_kiosk()
            rollout = demo.roll_out(progress)
            links_cut = demo.watch(progress, run_started)
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
                f"{demo.fleet.ca_file}) "
                f"({result.dashboard_user} / {result.dashboard_password}; API admin token in "
                f"{demo.root}/fleet-data/secrets/admin-token). The stations keep running and "
                "enrol someone now and then; Ctrl-C stops"
            )
            with contextlib.suppress(KeyboardInterrupt):
                while demo.fleet.running():
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
