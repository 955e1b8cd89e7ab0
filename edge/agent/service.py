"""`ewp agent run`: the station agent process.

Threads:

- the uplink thread owns the MQTT client and its own outbox connection (edge/agent/uplink/);
- the main thread owns the sensors and the capture side of the outbox: in training mode the
  autopilot enrols synthetic applicants; otherwise it keeps an eye on sensor health (the kiosk
  UI drives captures).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict, Unpack

from edge.agent import fleet_link
from edge.agent.application_status import ApplicationStatusStore
from edge.agent.applied_config import AppliedConfig, local_station_config
from edge.agent.autopilot import Autopilot
from edge.agent.capture import EnrolmentWorkflow, WorkflowResult
from edge.agent.capture_console import (
    Console,
    Declared,
    Guidance,
    KeepBest,
    Resolution,
    ShownCapture,
)
from edge.agent.capture_devices import FingerCapturer, IrisCapturer
from edge.agent.errors import AgentError
from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.operators import OperatorRegistry
from edge.agent.outbox import Outbox, OutboxEntry, OutboxStats
from edge.agent.packet_builder import PacketBuilder
from edge.agent.preregistered import PreregisteredCache
from edge.agent.rotation import StationRotation
from edge.agent.settings import AgentSettings, ControllerSettings
from edge.agent.station_commands import StationCommands
from edge.agent.station_controller import PanelState, StationController
from edge.agent.station_sensors import StationSensors
from edge.agent.updater.agent_link import AgentUpdates, trial_outbox
from edge.agent.updater.health import Check, outbox_check
from edge.agent.updater.layout import Layout
from edge.agent.updater.startup import EXIT_ROLLED_BACK, after_start, notify
from edge.agent.uplink import FleetHandlers, Outbound, Uplink
from edge.drivers.fingerprint_r30x import FingerprintError, FingerprintSensor
from edge.drivers.iddk2000 import IddkError
from edge.drivers.iris_camera import IrisCameraError
from protocol import topics
from protocol.enrolment import Application
from protocol.messages import Scalar
from protocol.station_config import CapturePolicy

log = logging.getLogger(__name__)

SENSOR_CHECK_INTERVAL_S = 30.0
WATCHDOG_PING_S = 10.0  # deploy/systemd/ewp-agent.service has WatchdogSec=60
AMPUTATION_RATE = 0.1  # autopilot: share of applicants with one finger declared amputated
PANEL_FOR_LEVEL = {"capturing": "capturing", "good": "good", "retry": "retry", "error": "error"}


class CaptureOptions(TypedDict, total=False):
    operator_id: str | None  # None: the station's operator from the settings
    declared: dict[str, Declared] | None  # fingers and eyes declared missing beforehand
    source: str  # "operator" (the default) or "autopilot"


class AutopilotConsole:
    """The scripted operator of training mode: logs guidance, keeps the best capture."""

    def guide(self, guidance: Guidance) -> None:
        log.debug("autopilot: %s %s", guidance.key, guidance.params)

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        if best_quality is None:
            return Declared("unusable", "autopilot: no usable capture")
        return KeepBest()


class _PanelConsole:
    """Passes guidance to the operator's console and mirrors it on the controller's panel."""

    def __init__(self, console: Console, panel: Callable[[str], None]) -> None:
        self._console = console
        self._panel = panel

    def guide(self, guidance: Guidance) -> None:
        state = PANEL_FOR_LEVEL.get(guidance.level)
        if state is not None:
            self._panel(state)
        self._console.guide(guidance)

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        return self._console.resolve(position, best_quality)


class StationAgent:
    def __init__(self, settings: AgentSettings, *, software_version: str) -> None:
        self.settings = settings
        self.software_version = software_version
        self.identity = StationIdentity.load(settings.identity_dir)
        self.sensors = SensorBoard()
        self.outbound = Outbound(self.identity.station_id)
        self._devices = StationSensors(settings.sensors, self.sensors, self._report)
        # The fleet's configuration once it sent one (kept across restarts), else the local one.
        self.applied_config = AppliedConfig(
            settings.station.data_dir, local_station_config(settings), self.identity.station_id
        )
        self._outbox: Outbox | None = None  # the capture side's connection, opened by run()
        self._builder = PacketBuilder(
            station_id=self.identity.station_id,
            signing_key=self.identity.signing_key,
            central_key=self.identity.central_key,
            software_version=software_version,
        )
        self.uplink: Uplink | None = None
        self._uplink_ready = threading.Event()
        self._stop = threading.Event()
        self._uplink_thread: threading.Thread | None = None
        self.controller: StationController | None = None
        self.preregistered = PreregisteredCache(settings.station.data_dir / "preregistered.sqlite")
        self.operators = OperatorRegistry(settings.station.data_dir / "operators.sqlite")
        self.last_saved: OutboxEntry | None = None
        self.updates: AgentUpdates | None = None
        self.restart_requested = False  # a new version is installed: exit so systemd restarts
        self.exit_code = 0  # EXIT_ROLLED_BACK after a failed health check
        self._run_stop: threading.Event | None = None
        # Copies a firmware directory to the board on a port, returns the version it then
        # reports (`ewp agent run` hands in ewp.firmware_bundle's deploy).
        self.firmware_deployer: Callable[[str, Path], str] | None = None
        self._rng = random.Random(f"{settings.autopilot.seed}:{self.identity.station_id}")
        if settings.controller is not None:
            self.controller = self._new_controller(settings.controller)

    def _new_controller(self, settings: ControllerSettings) -> StationController:
        return StationController(
            settings,
            report_event=self._report,
            link_up=lambda: self.uplink is not None and self.uplink.stats.connected,
        )

    def deploy_firmware(self, directory: Path) -> str:
        """A firmware update: the controller link steps aside while the board is flashed."""
        cfg = self.settings.controller
        if cfg is None or self.firmware_deployer is None:
            raise AgentError("no station controller configured, or no firmware deployer")
        if self.controller is not None:
            self.controller.stop()
        try:
            return self.firmware_deployer(cfg.port, directory)
        finally:
            self.controller = self._new_controller(cfg)
            self.controller.start()

    def _open_outbox(self) -> Outbox:
        o = self.settings.outbox
        return Outbox(
            self.settings.outbox_path,
            quota_bytes=o.quota_mb * 1024 * 1024,
            min_free_bytes=o.min_free_mb * 1024 * 1024,
        )

    # -- uplink thread -------------------------------------------------------------------------

    def _run_uplink(self, stop: threading.Event) -> None:
        outbox = self._open_outbox()
        health = HealthReporter(
            station_id=self.identity.station_id,
            outbox=outbox,
            data_dir=self.settings.station.data_dir,
            software_version=self.software_version,
            sensors=self.sensors,
            environment=lambda: self.controller.environment() if self.controller else None,
            interval_s=lambda: self.uplink.heartbeat_interval_s if self.uplink else None,
            config=self.applied_config.ref,
        )
        statuses = ApplicationStatusStore(self.settings.station.data_dir)
        rotation = StationRotation(
            self.settings.identity_dir, current=lambda: self.identity, adopt=self._adopt_identity
        )
        own = StationCommands(lambda: self.controller, self.preregistered, self._report)
        handlers = (
            own.handlers()
            .merged(rotation.handlers())
            .merged(fleet_link.handlers(self.applied_config, self.outbound, statuses))
            .merged(self._updates_handlers())
        )
        self.uplink = Uplink(
            self.settings.uplink,
            self.identity,
            outbox,
            heartbeat=health.heartbeat,
            software_version=self.software_version,
            handlers=handlers,
            periodic=[
                fleet_link.reconciliation(
                    self.identity.station_id, outbox, self.settings.uplink.reconciliation_interval_s
                )
            ],
            outbound=self.outbound,
            retention_s=self.settings.outbox.retention_days * 86400,
        )
        fleet_link.follow_config(self.uplink, self.applied_config)
        if self.updates is not None:
            self.updates.start()
        self._uplink_ready.set()
        try:
            self.uplink.run(stop)
        finally:
            statuses.close()
            outbox.close()

    def _link_connected(self) -> bool:
        return self.uplink is not None and self.uplink.stats.connected

    def _updates_handlers(self) -> FleetHandlers:
        """Software updates, when configured: offers on ``update``, downloads while idle."""
        cfg = self.settings.updates
        if cfg.root is None or cfg.repository_url is None:
            return FleetHandlers()

        def link_idle() -> bool:
            windows = self.uplink.packets.upload_windows if self.uplink else None
            return self._link_connected() and (windows is None or windows.is_open())

        self.updates = AgentUpdates(
            station_id=self.identity.station_id,
            layout=Layout(cfg.root),
            repository_url=cfg.repository_url,
            outbox_path=self.settings.outbox_path,
            send=self.outbound.send,
            link_idle=link_idle,
            connected=self._link_connected,
            request_restart=self._restart_into_new_version,
            max_download_kbps=cfg.max_download_kbps,
            deploy_firmware=self.deploy_firmware if self.settings.controller else None,
            ca_file=self.settings.uplink.ca_file or self.identity.fleet_ca_file,
        )
        return FleetHandlers(messages={topics.UPDATE.suffix: self.updates.on_offer})

    def _restart_into_new_version(self) -> None:
        self.restart_requested = True
        if self._run_stop is not None:
            self._run_stop.set()

    def confirm_health(self) -> bool:
        """After a start: READY=1 for systemd, but for a version on trial only once the health
        check passed (docs/updates.md); False: it failed and the previous version is back."""
        cfg = self.settings.updates
        if cfg.root is None:
            notify("READY=1")
            return True
        layout = Layout(cfg.root)
        checks: dict[str, Check] = {
            "outbox": outbox_check(self.settings.outbox_path, trial_outbox(layout)),
            "broker": self._check_broker,
            "fingerprint sensor": lambda: self.fingerprint_sensor().probe(),
        }
        if self.settings.sensors.iris is not None:
            checks["iris camera"] = self._devices.probe_iris
        if self.controller is not None:
            checks["station controller"] = self._check_controller
        return after_start(layout, checks, max_check_s=cfg.health_check_s).ready

    def _check_broker(self) -> None:
        if self.uplink is None or not self.uplink.stats.connected:
            raise AgentError(f"not connected to the broker ({self.settings.uplink.broker_url})")

    def _check_controller(self) -> None:
        if self.controller is None or not self.controller.connected:
            raise AgentError("the station controller does not answer")

    def _adopt_identity(self, identity: StationIdentity) -> None:
        """A rotated key or password: sign and log in with it from now on."""
        self._builder = PacketBuilder(
            station_id=identity.station_id,
            signing_key=identity.signing_key,
            central_key=identity.central_key,
            software_version=self.software_version,
        )
        if self.uplink is not None:
            self.uplink.adopt(identity)
        self.identity = identity

    # -- sensors -------------------------------------------------------------------------------

    def fingerprint_sensor(self) -> FingerprintSensor:
        """The sensor, (re)opened when needed; health is reported either way."""
        return self._devices.fingerprint_sensor()

    def iris_capturer(self) -> IrisCapturer | None:
        """The iris camera, (re)opened when needed; None when this station has none."""
        return self._devices.iris_capturer()

    def check_sensor(self) -> None:
        self._devices.check()

    def _report(self, kind: str, severity: str, **detail: Scalar) -> None:
        if self.uplink is not None:
            self.outbound.report_event(kind, severity, **detail)
        else:
            log.warning("event %s (%s) not reported: uplink not running", kind, severity)

    def _panel(self, state: str) -> None:
        if self.controller is not None:
            self.controller.show(PanelState(state))

    # -- enrolment -----------------------------------------------------------------------------

    @property
    def capture_policy(self) -> CapturePolicy:
        """The capture policy in force: the fleet's applied configuration, else the settings."""
        return self.applied_config.current.config.capture

    def enrol(
        self, application: Application, console: Console, **options: Unpack[CaptureOptions]
    ) -> WorkflowResult:
        """Run the capture plan, then seal and save durably (only then is it "saved")."""
        result = self.capture(application, console, **options)
        self.save(result)
        return result

    def capture(
        self,
        application: Application,
        console: Console,
        *,
        operator_id: str | None = None,
        declared: dict[str, Declared] | None = None,
        source: str = "operator",
        on_capture: Callable[[ShownCapture], None] | None = None,
    ) -> WorkflowResult:
        """Run the capture plan (nothing is saved: a screen may review it first, then ``save``)."""
        if self.controller is not None and self.controller.locked:
            raise AgentError(
                "this station is locked because its enclosure was opened (tamper): capture is "
                "disabled until the fleet clears it; call the fleet admin"
            )
        policy = self.capture_policy
        fingers = None
        if policy.fingers and not all(p in (declared or {}) for p in policy.fingers):
            fingers = FingerCapturer(self.fingerprint_sensor(), timeout_s=policy.finger_timeout_s)
        irises = None
        if policy.eyes and not all(f"{e}-eye" in (declared or {}) for e in policy.eyes):
            irises = self.iris_capturer()
        workflow = EnrolmentWorkflow(
            policy,
            _PanelConsole(console, self._panel),
            fingers=fingers,
            irises=irises,
            on_capture=on_capture,
        )
        try:
            return workflow.run(
                application,
                operator_id=operator_id or self.settings.station.operator_id,
                declared=declared,
                source=source,
            )
        except FingerprintError as exc:
            self._panel("error")
            self._devices.fingerprint_failed(exc, "error")
            raise
        except (IrisCameraError, IddkError) as exc:
            self._panel("error")
            self._devices.iris_failed(exc, "error")
            raise

    def save(self, result: WorkflowResult) -> OutboxEntry:
        """Seal the enrolment and store it durably in the outbox (returns once it is on disk)."""
        if self._outbox is None:
            raise AgentError("the agent is not running: enrolments are saved by run()'s thread")
        entry = self._builder.save(self._outbox, result.enrolment)
        self.last_saved = entry
        self._panel("ready")
        log.info(
            "saved enrolment %s as packet %s (seq %d, %d bytes)",
            result.enrolment.application.application_number,
            entry.packet_id,
            entry.seq,
            entry.size,
        )
        return entry

    # -- the process ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background work (uplink, controller) and open the capture side's outbox.

        Captures (``enrol``) must then come from the thread that called ``start``.
        """
        self._stop = threading.Event()
        self._uplink_thread = threading.Thread(
            target=self._run_uplink, args=(self._stop,), name="uplink", daemon=True
        )
        self._uplink_thread.start()
        self._uplink_ready.wait(10)
        if self.controller is not None:
            self.controller.start()
        self._outbox = self._open_outbox()

    def stop(self) -> None:
        if self.updates is not None:
            self.updates.stop()
        self._stop.set()
        if self._uplink_thread is not None:
            self._uplink_thread.join(timeout=15)
        if self.controller is not None:
            self.controller.stop()
        self.preregistered.close()
        self.operators.close()
        self._devices.close()
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    def outbox_stats(self) -> OutboxStats:
        if self._outbox is None:
            raise AgentError("the agent is not running")
        return self._outbox.stats()

    def run(self, stop: threading.Event) -> None:
        """`ewp agent run`: background work, the autopilot if enabled, sensor health checks."""
        self._run_stop = stop
        self.start()
        assert self._outbox is not None
        try:
            if not self.confirm_health():
                self.restart_requested = True  # rolled back: systemd starts the previous version
                self.exit_code = EXIT_ROLLED_BACK
                return
            autopilot = self.settings.autopilot
            created = self._outbox.stats().created_total
            remaining = None if autopilot.enrolments is None else autopilot.enrolments - created
            if autopilot.enabled and (remaining is None or remaining > 0):
                Autopilot(
                    station_id=self.identity.station_id,
                    count=remaining,
                    interval_s=autopilot.interval_s,
                    seed=autopilot.seed,
                    enrol=lambda application: self._autopilot_enrol(application),
                    first_number=created + 1,
                ).run(stop)
            next_check = 0.0
            while not stop.is_set():
                notify("WATCHDOG=1")
                if time.monotonic() >= next_check:
                    self.check_sensor()
                    next_check = time.monotonic() + SENSOR_CHECK_INTERVAL_S
                stop.wait(WATCHDOG_PING_S)
        finally:
            self.stop()

    def _autopilot_enrol(self, application: Application) -> None:
        declared: dict[str, Declared] = {}
        # Now and then an applicant with an amputated finger, as in the field.
        fingers = self.capture_policy.fingers
        if fingers and self._rng.random() < AMPUTATION_RATE:
            finger = self._rng.choice(fingers)
            declared[finger] = Declared("amputated", "autopilot: synthetic applicant")
        self.enrol(application, AutopilotConsole(), declared=declared, source="autopilot")
