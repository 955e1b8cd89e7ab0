"""`ewp agent run`: the station agent process.

Threads:

- the uplink thread owns the MQTT client and its own outbox connection (edge/agent/uplink.py);
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
from datetime import datetime
from pathlib import Path

import serial

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
from edge.agent.capture_devices import CameraIrisCapturer, FingerCapturer, IrisCapturer
from edge.agent.errors import AgentError
from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.iddk_capture import IddkIrisCapturer
from edge.agent.identity import StationIdentity
from edge.agent.operators import OperatorRegistry
from edge.agent.outbox import Outbox, OutboxEntry, OutboxStats
from edge.agent.packet_builder import PacketBuilder
from edge.agent.preregistered import PreregisteredCache
from edge.agent.rotation import StationRotation
from edge.agent.settings import AgentSettings, ControllerSettings
from edge.agent.station_controller import PanelState, StationController
from edge.agent.updater.agent_link import AgentUpdates, trial_outbox
from edge.agent.updater.health import Check, outbox_check
from edge.agent.updater.layout import Layout
from edge.agent.updater.startup import EXIT_ROLLED_BACK, after_start, notify
from edge.agent.uplink import Uplink
from edge.drivers.controller import ControllerError, TamperClearRefusedError
from edge.drivers.fingerprint_r30x import FingerprintError, FingerprintSensor
from edge.drivers.iddk2000 import IddkError, QualityMode
from edge.drivers.iris_camera import IrisCamera, IrisCameraError
from protocol import topics
from protocol.enrolment import Application
from protocol.errors import ProtocolError
from protocol.messages import Command, PreregistrationBatch, Scalar, parse_message
from protocol.rotation import ACTIVATE_KEY, ROTATE_CREDENTIALS, ROTATE_KEY
from protocol.station_config import CapturePolicy

log = logging.getLogger(__name__)

SENSOR_CHECK_INTERVAL_S = 30.0
WATCHDOG_PING_S = 10.0  # deploy/systemd/ewp-agent.service has WatchdogSec=60
AMPUTATION_RATE = 0.1  # autopilot: share of applicants with one finger declared amputated
PANEL_FOR_LEVEL = {"capturing": "capturing", "good": "good", "retry": "retry", "error": "error"}


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
        self.sensors.set("fingerprint", "unknown")
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
        self._port: serial.SerialBase | None = None
        self._sensor: FingerprintSensor | None = None
        self.uplink: Uplink | None = None
        self._uplink_ready = threading.Event()
        self._stop = threading.Event()
        self._uplink_thread: threading.Thread | None = None
        self.controller: StationController | None = None
        self.irises: IrisCapturer | None = None
        self._iris_port: serial.SerialBase | None = None
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
        self.uplink = Uplink(
            self.settings.uplink,
            self.identity,
            outbox,
            heartbeat=health.heartbeat,
            software_version=self.software_version,
            retention_s=self.settings.outbox.retention_days * 86400,
        )
        self.uplink.command_handlers.update(
            {"tamper-challenge": self._tamper_challenge, "tamper-clear": self._tamper_clear}
        )
        self.uplink.message_handlers[topics.PREREGISTRATIONS.suffix] = self._preregistrations
        statuses = ApplicationStatusStore(self.settings.station.data_dir)
        fleet_link.attach(
            self.uplink,
            self.applied_config,
            reconciliation_interval_s=self.settings.uplink.reconciliation_interval_s,
            statuses=statuses,
        )
        rotation = StationRotation(
            self.settings.identity_dir, current=lambda: self.identity, adopt=self._adopt_identity
        )
        self.uplink.command_handlers.update(
            {
                ROTATE_KEY: rotation.rotate_key,
                ACTIVATE_KEY: rotation.activate_key,
                ROTATE_CREDENTIALS: rotation.rotate_credentials,
            }
        )
        self.uplink.on_login_with_next_password = rotation.promote_password
        self._attach_updates(self.uplink)
        self._uplink_ready.set()
        try:
            self.uplink.run(stop)
        finally:
            statuses.close()
            outbox.close()

    def _attach_updates(self, uplink: Uplink) -> None:
        cfg = self.settings.updates
        if cfg.root is None or cfg.repository_url is None:
            return

        def link_idle() -> bool:
            windows = uplink.upload_windows
            return uplink.stats.connected and (windows is None or windows.is_open())

        self.updates = AgentUpdates(
            station_id=self.identity.station_id,
            layout=Layout(cfg.root),
            repository_url=cfg.repository_url,
            outbox_path=self.settings.outbox_path,
            send=uplink.send,
            link_idle=link_idle,
            connected=lambda: uplink.stats.connected,
            request_restart=self._restart_into_new_version,
            max_download_kbps=cfg.max_download_kbps,
            deploy_firmware=self.deploy_firmware if self.settings.controller else None,
            ca_file=self.settings.uplink.ca_file or self.identity.fleet_ca_file,
        )
        uplink.message_handlers[topics.UPDATE.suffix] = self.updates.on_offer
        self.updates.start()

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
            "fingerprint sensor": self._probe_fingerprint,
        }
        if self.settings.sensors.iris is not None:
            checks["iris camera"] = self._probe_iris
        if self.controller is not None:
            checks["station controller"] = self._check_controller
        return after_start(layout, checks, max_check_s=cfg.health_check_s).ready

    def _check_broker(self) -> None:
        if self.uplink is None or not self.uplink.stats.connected:
            raise AgentError(f"not connected to the broker ({self.settings.uplink.broker_url})")

    def _probe_fingerprint(self) -> None:
        self.fingerprint_sensor().probe()

    def _probe_iris(self) -> None:
        capturer = self.iris_capturer()
        if isinstance(capturer, CameraIrisCapturer):
            capturer.camera.device_info()
        elif isinstance(capturer, IddkIrisCapturer):
            capturer.info()

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
            self.uplink.identity = identity
        self.identity = identity

    # -- sensor --------------------------------------------------------------------------------

    def fingerprint_sensor(self) -> FingerprintSensor:
        """The sensor, (re)opened when needed; health is reported either way."""
        if self._sensor is not None:
            return self._sensor
        cfg = self.settings.sensors.fingerprint
        try:
            self._port = serial.serial_for_url(cfg.port, baudrate=cfg.baudrate, timeout=0.05)
            sensor = FingerprintSensor(
                self._port, address=cfg.address, password=cfg.password, timeout=cfg.timeout_s
            )
            sensor.verify_password()
        except (serial.SerialException, OSError, ValueError, FingerprintError) as exc:
            self._drop_sensor()
            self.sensors.set("fingerprint", "missing", str(exc))
            raise AgentError(
                f"fingerprint sensor not answering on {cfg.port} ({cfg.baudrate} baud): "
                f"{exc}; check the cable, or run `ewp sensor fingerprint info --port {cfg.port}`"
            ) from exc
        self._sensor = sensor
        self.sensors.set("fingerprint", "ok")
        return sensor

    def _drop_sensor(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                log.debug("closing the fingerprint port failed", exc_info=True)
        self._port = None
        self._sensor = None

    def iris_capturer(self) -> IrisCapturer | None:
        """The iris camera, (re)opened when needed; None when this station has none."""
        cfg = self.settings.sensors.iris
        if cfg is None:
            return None
        if self.irises is not None:
            return self.irises
        if cfg.backend == "iddk":
            return self._iddk_capturer()
        assert cfg.port is not None  # the settings insist on it for ewp-serial
        try:
            self._iris_port = serial.serial_for_url(cfg.port, baudrate=cfg.baudrate, timeout=0.05)
            camera = IrisCamera(self._iris_port, timeout=cfg.timeout_s)
        except (serial.SerialException, OSError, ValueError, IrisCameraError) as exc:
            self._drop_iris()
            self.sensors.set("iris", "missing", str(exc))
            raise AgentError(
                f"iris camera not answering on {cfg.port}: {exc}; check its USB cable, or run "
                f"`ewp sensor iris info --port {cfg.port}`"
            ) from exc
        self.irises = CameraIrisCapturer(camera, timeout_s=cfg.capture_timeout_s)
        self.sensors.set("iris", "ok")
        return self.irises

    def _iddk_capturer(self) -> IddkIrisCapturer:
        """The IDDK backend: the library must load now; the camera may come later."""
        cfg = self.settings.sensors.iris
        assert cfg is not None
        capturer = IddkIrisCapturer(
            cfg.library,
            device=cfg.device,
            call_timeout_s=cfg.timeout_s,
            capture_timeout_s=cfg.capture_timeout_s,
            capture_seconds=cfg.capture_seconds,
            reconnect_s=cfg.reconnect_s,
            quality_mode=QualityMode[cfg.quality_mode.upper().replace("-", "_")],
        )
        try:
            capturer.open()
        except IddkError as exc:
            self.sensors.set("iris", "missing", str(exc))
            if not exc.device_lost:
                raise AgentError(
                    f"iris camera (IDDK, {cfg.library}): {exc}; run "
                    f"`ewp sensor iris info --backend iddk --library {cfg.library}`"
                ) from exc
            log.warning("iris camera not plugged in yet: %s", exc)
        else:
            self.sensors.set("iris", "ok")
        self.irises = capturer
        return capturer

    def _drop_iris(self) -> None:
        if isinstance(self.irises, IddkIrisCapturer):
            self.irises.close()
        if self._iris_port is not None:
            try:
                self._iris_port.close()
            except (serial.SerialException, OSError):
                log.debug("closing the iris camera port failed", exc_info=True)
        self._iris_port = None
        self.irises = None

    def check_sensor(self) -> None:
        if self.settings.sensors.iris is not None:
            try:
                capturer = self.iris_capturer()
                if isinstance(capturer, CameraIrisCapturer):
                    capturer.camera.device_info()
                elif isinstance(capturer, IddkIrisCapturer):
                    capturer.info()
                    self.sensors.set("iris", "ok")
            except AgentError:
                pass
            except (IrisCameraError, IddkError) as exc:
                if isinstance(exc, IddkError) and exc.device_lost:
                    # Unplugged: no fault of the station; the next look scans for it again.
                    if isinstance(self.irises, IddkIrisCapturer):
                        self.irises.close()
                    self.sensors.set("iris", "missing", str(exc))
                else:
                    self._drop_iris()
                    self.sensors.set("iris", "error", str(exc))
                    self._report("sensor-fault", "warning", sensor="iris", error=str(exc))
        self._check_fingerprint()

    def _check_fingerprint(self) -> None:
        try:
            self.fingerprint_sensor().probe()
        except AgentError:
            return
        except FingerprintError as exc:
            self._drop_sensor()
            self.sensors.set("fingerprint", "error", str(exc))
            self._report("sensor-fault", "warning", sensor="fingerprint", error=str(exc))

    def _report(self, kind: str, severity: str, **detail: Scalar) -> None:
        if self.uplink is not None:
            self.uplink.report_event(kind, severity, **detail)
        else:
            log.warning("event %s (%s) not reported: uplink not running", kind, severity)

    # -- commands from the fleet (run in the uplink thread) ------------------------------------

    def _tamper_challenge(self, command: Command) -> tuple[str, dict[str, Scalar]]:
        if self.controller is None:
            return "refused", {"reason": "no station controller fitted"}
        challenge = self.controller.tamper_challenge()
        return "ok", {
            "board_id": challenge.board_id.hex(),
            "nonce": challenge.nonce.hex(),
            "tamper_count": challenge.tamper_count,
        }

    def _tamper_clear(self, command: Command) -> tuple[str, dict[str, Scalar]]:
        if self.controller is None:
            return "refused", {"reason": "no station controller fitted"}
        try:
            mac = bytes.fromhex(str(command.args.get("mac", "")))
            self.controller.clear_tamper(mac)
        except ValueError:
            return "refused", {"reason": "mac must be hex"}
        except TamperClearRefusedError as exc:
            return "refused", {"reason": str(exc)}
        except ControllerError as exc:
            return "error", {"reason": str(exc)}
        return "ok", {"locked": False}

    def _preregistrations(self, payload: bytes) -> None:
        try:
            batch = parse_message(PreregistrationBatch, payload)
            expires = datetime.fromisoformat(batch.expires_at.replace("Z", "+00:00"))
            stored = self.preregistered.store(batch.applications, expires_at=expires.timestamp())
        except (ProtocolError, ValueError, AgentError) as exc:
            log.warning("pre-registered applications not kept: %s", exc)
            self._report("preregistrations-refused", "warning", error=str(exc))
            return
        self._report("preregistrations-received", "info", batch_id=batch.batch_id, count=stored)

    def _panel(self, state: str) -> None:
        if self.controller is not None:
            self.controller.show(PanelState(state))

    # -- enrolment -----------------------------------------------------------------------------

    @property
    def capture_policy(self) -> CapturePolicy:
        """The capture policy in force: the fleet's applied configuration, else the settings."""
        return self.applied_config.current.config.capture

    def enrol(
        self,
        application: Application,
        console: Console,
        *,
        operator_id: str | None = None,
        declared: dict[str, Declared] | None = None,
        source: str = "operator",
    ) -> WorkflowResult:
        """Run the capture plan, then seal and save durably (only then is it "saved")."""
        result = self.capture(
            application, console, operator_id=operator_id, declared=declared, source=source
        )
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
            self._drop_sensor()
            self.sensors.set("fingerprint", "error", str(exc))
            self._report("sensor-fault", "error", sensor="fingerprint", error=str(exc))
            raise
        except (IrisCameraError, IddkError) as exc:
            self._panel("error")
            self._drop_iris()
            self.sensors.set("iris", "error", str(exc))
            self._report("sensor-fault", "error", sensor="iris", error=str(exc))
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
        self._drop_sensor()
        self._drop_iris()
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
