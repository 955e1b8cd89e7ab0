"""The station's sensors as the agent keeps them: opened when first needed, reopened after a
fault, probed now and then, their state on the sensor board (what heartbeats and the kiosk
show) and their faults reported to the fleet as ``sensor-fault`` events.

Used from the agent's main thread (captures, health checks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import serial

from edge.agent.capture_devices import CameraIrisCapturer, IrisCapturer
from edge.agent.errors import AgentError
from edge.agent.health import SensorBoard
from edge.agent.iddk_capture import IddkIrisCapturer
from edge.agent.settings import SensorsSettings
from edge.drivers.fingerprint_r30x import FingerprintError, FingerprintSensor
from edge.drivers.iddk2000 import IddkError, QualityMode
from edge.drivers.iris_camera import IrisCamera, IrisCameraError

log = logging.getLogger(__name__)

# Reports an event to the fleet: (kind, severity, **detail).
Report = Callable[..., None]
_Device = TypeVar("_Device")


class StationSensors:
    def __init__(self, settings: SensorsSettings, board: SensorBoard, report: Report) -> None:
        self.settings = settings
        self.board = board
        self._report = report
        self._port: serial.SerialBase | None = None
        self._sensor: FingerprintSensor | None = None
        self._iris_port: serial.SerialBase | None = None
        self.irises: IrisCapturer | None = None
        board.set("fingerprint", "unknown")

    # -- fingerprint ---------------------------------------------------------------------------

    def fingerprint_sensor(self) -> FingerprintSensor:
        """The sensor, (re)opened when needed; health is reported either way."""
        if self._sensor is not None:
            return self._sensor
        cfg = self.settings.fingerprint

        def open_sensor() -> FingerprintSensor:
            self._port = serial.serial_for_url(cfg.port, baudrate=cfg.baudrate, timeout=0.05)
            sensor = FingerprintSensor(
                self._port, address=cfg.address, password=cfg.password, timeout=cfg.timeout_s
            )
            sensor.verify_password()
            return sensor

        self._sensor = self._opened(
            "fingerprint",
            open_sensor,
            FingerprintError,
            self.drop_fingerprint,
            f"fingerprint sensor not answering on {cfg.port} ({cfg.baudrate} baud)",
            f"check the cable, or run `ewp sensor fingerprint info --port {cfg.port}`",
        )
        return self._sensor

    def _opened(
        self,
        kind: str,
        open_device: Callable[[], _Device],
        device_error: type[Exception],
        drop: Callable[[], None],
        what: str,
        hint: str,
    ) -> _Device:
        """The device ``open_device`` opens, shown as ok; if it does not answer, what it
        opened is closed again (``drop``), it is shown as missing and the operator's error is
        raised."""
        try:
            device = open_device()
        except (serial.SerialException, OSError, ValueError, device_error) as exc:
            drop()
            raise self._missing(kind, exc, what, hint) from exc
        self.board.set(kind, "ok")
        return device

    def _missing(self, kind: str, exc: Exception, what: str, hint: str) -> AgentError:
        """A sensor that does not answer: shown as missing, and the error for the operator."""
        self.board.set(kind, "missing", str(exc))
        return AgentError(f"{what}: {exc}; {hint}")

    def drop_fingerprint(self) -> None:
        _close(self._port, "fingerprint")
        self._port = None
        self._sensor = None

    def fingerprint_failed(self, exc: FingerprintError, severity: str) -> None:
        """A fault during a capture (``error``) or a check (``warning``): reopen next time."""
        self.drop_fingerprint()
        self.board.set("fingerprint", "error", str(exc))
        self._report("sensor-fault", severity, sensor="fingerprint", error=str(exc))

    # -- iris ----------------------------------------------------------------------------------

    def iris_capturer(self) -> IrisCapturer | None:
        """The iris camera, (re)opened when needed; None when this station has none."""
        cfg = self.settings.iris
        if cfg is None:
            return None
        if self.irises is not None:
            return self.irises
        if cfg.backend == "iddk":
            return self._iddk_capturer()
        assert cfg.port is not None  # the settings insist on it for ewp-serial

        def open_camera() -> IrisCamera:
            self._iris_port = serial.serial_for_url(cfg.port, baudrate=cfg.baudrate, timeout=0.05)
            return IrisCamera(self._iris_port, timeout=cfg.timeout_s)

        camera = self._opened(
            "iris",
            open_camera,
            IrisCameraError,
            self.drop_iris,
            f"iris camera not answering on {cfg.port}",
            f"check its USB cable, or run `ewp sensor iris info --port {cfg.port}`",
        )
        self.irises = CameraIrisCapturer(camera, timeout_s=cfg.capture_timeout_s)
        return self.irises

    def _iddk_capturer(self) -> IddkIrisCapturer:
        """The IDDK backend: the library must load now; the camera may come later."""
        cfg = self.settings.iris
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
            error = self._missing(
                "iris",
                exc,
                f"iris camera (IDDK, {cfg.library})",
                f"run `ewp sensor iris info --backend iddk --library {cfg.library}`",
            )
            if not exc.device_lost:
                raise error from exc
            log.warning("iris camera not plugged in yet: %s", exc)
        else:
            self.board.set("iris", "ok")
        self.irises = capturer
        return capturer

    def drop_iris(self) -> None:
        if isinstance(self.irises, IddkIrisCapturer):
            self.irises.close()
        _close(self._iris_port, "iris camera")
        self._iris_port = None
        self.irises = None

    def iris_failed(self, exc: IrisCameraError | IddkError, severity: str) -> None:
        self.drop_iris()
        self.board.set("iris", "error", str(exc))
        self._report("sensor-fault", severity, sensor="iris", error=str(exc))

    def probe_iris(self) -> None:
        capturer = self.iris_capturer()
        if isinstance(capturer, CameraIrisCapturer):
            capturer.camera.device_info()
        elif isinstance(capturer, IddkIrisCapturer):
            capturer.info()

    # -- health checks -------------------------------------------------------------------------

    def check(self) -> None:
        """Probe each sensor; a fault is shown and reported, a missing one only shown."""
        if self.settings.iris is not None:
            try:
                capturer = self.iris_capturer()
                if isinstance(capturer, CameraIrisCapturer):
                    capturer.camera.device_info()
                elif isinstance(capturer, IddkIrisCapturer):
                    capturer.info()
                    self.board.set("iris", "ok")
            except AgentError:
                pass
            except (IrisCameraError, IddkError) as exc:
                if isinstance(exc, IddkError) and exc.device_lost:
                    # Unplugged: no fault of the station; the next look scans for it again.
                    if isinstance(self.irises, IddkIrisCapturer):
                        self.irises.close()
                    self.board.set("iris", "missing", str(exc))
                else:
                    self.iris_failed(exc, "warning")
        try:
            self.fingerprint_sensor().probe()
        except AgentError:
            return
        except FingerprintError as exc:
            self.fingerprint_failed(exc, "warning")

    def close(self) -> None:
        self.drop_fingerprint()
        self.drop_iris()


def _close(port: serial.SerialBase | None, what: str) -> None:
    if port is not None:
        try:
            port.close()
        except (serial.SerialException, OSError):
            log.debug("closing the %s port failed", what, exc_info=True)
