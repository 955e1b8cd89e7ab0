"""`ewp agent run`: the station agent process.

Threads:

- the uplink thread owns the MQTT client and its own outbox connection (edge/agent/uplink.py);
- the main thread owns the sensors and the capture side of the outbox: in training mode the
  autopilot enrols synthetic applicants; otherwise it keeps an eye on sensor health (the kiosk
  UI drives captures).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

import serial

from edge.agent.autopilot import Autopilot
from edge.agent.capture import FingerprintCapture
from edge.agent.errors import AgentError
from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox, OutboxEntry
from edge.agent.packet_builder import Enrolment, PacketBuilder
from edge.agent.rotation import StationRotation
from edge.agent.settings import AgentSettings
from edge.agent.station_controller import PanelState, StationController
from edge.agent.uplink import Uplink
from edge.drivers.controller import ControllerError, TamperClearRefusedError
from edge.drivers.fingerprint_r30x import FingerprintError, FingerprintSensor
from protocol.enrolment import Application
from protocol.envelope import utc_timestamp
from protocol.messages import Command, Scalar
from protocol.rotation import ACTIVATE_KEY, ROTATE_CREDENTIALS, ROTATE_KEY

log = logging.getLogger(__name__)

SENSOR_CHECK_INTERVAL_S = 30.0


class StationAgent:
    def __init__(self, settings: AgentSettings, *, software_version: str) -> None:
        self.settings = settings
        self.software_version = software_version
        self.identity = StationIdentity.load(settings.identity_dir)
        self.sensors = SensorBoard()
        self.sensors.set("fingerprint", "unknown")
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
        self.controller: StationController | None = None
        if settings.controller is not None:
            self.controller = StationController(
                settings.controller,
                report_event=self._report,
                link_up=lambda: self.uplink is not None and self.uplink.stats.connected,
            )

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
        self._uplink_ready.set()
        try:
            self.uplink.run(stop)
        finally:
            outbox.close()

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

    def check_sensor(self) -> None:
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

    def _panel(self, state: str) -> None:
        if self.controller is not None:
            self.controller.show(PanelState(state))

    # -- enrolment -----------------------------------------------------------------------------

    def enrol(self, application: Application, *, source: str = "operator") -> OutboxEntry:
        """Capture the fingers of the capture plan, seal, and save durably."""
        if self.controller is not None and self.controller.locked:
            raise AgentError(
                "this station is locked because its enclosure was opened (tamper): capture is "
                "disabled until the fleet clears it; call the fleet admin"
            )
        sensor = self.fingerprint_sensor()
        capture = FingerprintCapture(
            sensor,
            finger_timeout_s=self.settings.capture.finger_timeout_s,
            attempts=self.settings.capture.attempts,
            on_state=self._panel,
        )
        records = []
        try:
            for position in self.settings.capture.fingers:
                records.extend(capture.records(capture.capture(position)))
        except FingerprintError as exc:
            self._panel("error")
            self._drop_sensor()
            self.sensors.set("fingerprint", "error", str(exc))
            self._report("sensor-fault", "error", sensor="fingerprint", error=str(exc))
            raise
        except AgentError:
            self._panel("error")
            raise
        enrolment = Enrolment(
            application=application,
            operator_id=self.settings.station.operator_id,
            captured_at=utc_timestamp(datetime.now(UTC)),
            records=records,
            source=source,
        )
        if self._outbox is None:
            raise AgentError("the agent is not running: enrolments are saved by run()'s thread")
        entry = self._builder.save(self._outbox, enrolment)
        self._panel("ready")
        log.info(
            "saved enrolment %s as packet %s (seq %d)",
            application.application_number,
            entry.packet_id,
            entry.seq,
        )
        return entry

    # -- the process ---------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        uplink_thread = threading.Thread(
            target=self._run_uplink, args=(stop,), name="uplink", daemon=True
        )
        uplink_thread.start()
        self._uplink_ready.wait(10)
        if self.controller is not None:
            self.controller.start()
        self._outbox = self._open_outbox()
        try:
            autopilot = self.settings.autopilot
            created = self._outbox.stats().created_total
            if autopilot.enabled and autopilot.enrolments > created:
                Autopilot(
                    station_id=self.identity.station_id,
                    count=autopilot.enrolments - created,
                    interval_s=autopilot.interval_s,
                    seed=autopilot.seed,
                    enrol=lambda application: self._autopilot_enrol(application),
                    first_number=created + 1,
                ).run(stop)
            while not stop.is_set():
                self.check_sensor()
                stop.wait(SENSOR_CHECK_INTERVAL_S)
        finally:
            stop.set()
            uplink_thread.join(timeout=15)
            if self.controller is not None:
                self.controller.stop()
            self._drop_sensor()
            self._outbox.close()
            self._outbox = None

    def _autopilot_enrol(self, application: Application) -> None:
        self.enrol(application, source="autopilot")
