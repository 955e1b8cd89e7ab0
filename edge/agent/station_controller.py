"""The agent's side of the station controller board: panel, climate, power, GPS, tamper, watchdog.

One thread keeps the board connected (re-opening the port when it is unplugged), pings it every
``ping_interval_s`` (which also feeds the board's host watchdog: if the agent hangs, the board
flags it and reports it when the agent is back), and shows what the agent asks on the panel.

The panel: LED 0 shows the capture state, LED 1 the uplink (green online, amber offline), LED 2
the lock. The buzzer confirms a good capture (short), asks for a retry (double) and sounds an
error. A tamper event (the enclosure was opened) locks the station: ``locked`` is True until the
fleet's authorised clear, and the agent refuses to capture meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from enum import StrEnum

import serial

from edge.agent.gps import Position, parse_position
from edge.agent.settings import ControllerSettings
from edge.drivers.controller import Controller, ControllerError
from edge.drivers.controller_messages import (
    LED_OFF,
    Beep,
    BoardBooted,
    ControllerEvent,
    GpsSentence,
    HostWatchdog,
    Identity,
    Led,
    LedMode,
    PowerChanged,
    Readings,
    ResetCause,
    SensorChanged,
    TamperChallenge,
    TamperCleared,
    TamperOpened,
)
from protocol.envelope import utc_timestamp
from protocol.messages import Environment

log = logging.getLogger(__name__)

ReportEvent = Callable[..., None]  # (kind, severity, **detail)


class PanelState(StrEnum):
    READY = "ready"
    CAPTURING = "capturing"
    GOOD = "good"
    RETRY = "retry"
    ERROR = "error"
    OFFLINE = "offline"  # the link LED
    ONLINE = "online"
    LOCKED = "locked"


GREEN, BLUE, AMBER, RED = (0, 180, 0), (0, 60, 255), (255, 120, 0), (255, 0, 0)
CAPTURE_LOOK: dict[PanelState, tuple[Led, Beep]] = {
    PanelState.READY: (Led(*GREEN), Beep.OFF),
    PanelState.CAPTURING: (Led(*BLUE, LedMode.PULSE), Beep.OFF),
    PanelState.GOOD: (Led(*GREEN), Beep.SHORT),
    PanelState.RETRY: (Led(*AMBER, LedMode.BLINK), Beep.DOUBLE),
    PanelState.ERROR: (Led(*RED), Beep.ERROR),
    PanelState.LOCKED: (Led(*RED, LedMode.FAST), Beep.ERROR),
}
LINK_LOOK = {True: Led(*GREEN), False: Led(*AMBER, LedMode.PULSE)}


class StationController:
    def __init__(
        self,
        settings: ControllerSettings,
        *,
        report_event: ReportEvent,
        link_up: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self._report = report_event
        self._link_up = link_up
        self._controller: Controller | None = None
        self._port: serial.SerialBase | None = None
        self._identity: Identity | None = None
        self._readings: Readings | None = None
        self._position: tuple[Position, str] | None = None
        self._state = "missing"
        self._locked = False
        self._capture_state = PanelState.READY
        self._shown: tuple[PanelState, bool, bool] | None = None
        self._requests: queue.Queue[PanelState] = queue.Queue()
        self._stop = threading.Event()
        self._reconfigure = threading.Event()  # the board restarted: time and intervals again
        self._paused = threading.Event()  # tests: stop pinging, as a hung agent would
        self.flagged_hung = threading.Event()  # the board's host watchdog fired
        self._thread = threading.Thread(target=self._run, name="controller", daemon=True)

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._requests.put(PanelState.READY)  # wake the thread
        self._thread.join(timeout=10)
        self._disconnect()

    @property
    def connected(self) -> bool:
        return self._controller is not None

    @property
    def locked(self) -> bool:
        return self._locked

    def pause_pings(self, paused: bool) -> None:
        """Stop talking to the board (it then flags the agent as hung)."""
        if paused:
            self._paused.set()
        else:
            self._paused.clear()

    # -- what the agent asks -------------------------------------------------------------------

    def show(self, state: PanelState) -> None:
        """Show a capture state on the panel (never blocks the caller)."""
        self._requests.put(state)

    def environment(self) -> Environment:
        readings, identity, position = self._readings, self._identity, self._position
        return Environment(
            controller="ok" if self._controller is not None else self._state,
            controller_firmware=identity.firmware_version if identity else None,
            temperature_c=readings.temperature_c if readings else None,
            humidity_pct=readings.humidity_pct if readings else None,
            battery_v=readings.battery_v if readings else None,
            external_power=readings.external_power if readings else None,
            tamper_latched=self._locked,
            latitude=position[0].latitude if position else None,
            longitude=position[0].longitude if position else None,
            position_at=position[1] if position else None,
        )

    def tamper_challenge(self) -> TamperChallenge:
        return self._require().tamper_challenge()

    def clear_tamper(self, mac: bytes) -> None:
        self._require().clear_tamper(mac)
        self._set_locked(False)

    def _require(self) -> Controller:
        if self._controller is None:
            raise ControllerError(
                f"the station controller is not connected on {self.settings.port}: check its "
                "USB cable"
            )
        return self._controller

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 1.0
        next_ping = 0.0
        while not self._stop.is_set():
            if self._controller is None:
                if self._connect():
                    backoff = 1.0
                    next_ping = 0.0
                else:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                    continue
            try:
                request = self._requests.get(timeout=0.2)
            except queue.Empty:
                request = None
            if self._stop.is_set():
                return
            if request is not None and request is not PanelState.LOCKED:
                self._capture_state = request
            try:
                if self._reconfigure.is_set():
                    self._reconfigure.clear()
                    self._configure(self._require())
                if not self._paused.is_set():
                    self._refresh_panel(beep=request is not None)
                    if time.monotonic() >= next_ping:
                        self._require().ping()
                        next_ping = time.monotonic() + self.settings.ping_interval_s
            except ControllerError as exc:
                self._lost(str(exc))

    def _connect(self) -> bool:
        s = self.settings
        try:
            self._port = serial.serial_for_url(s.port, baudrate=s.baudrate, timeout=0.005)
            controller = Controller(self._port, on_event=self._on_event)
            controller.wait_ready(timeout=5)
            identity = controller.identify()
            self._configure(controller)
            status = controller.status()
        except (ControllerError, serial.SerialException, OSError, ValueError) as exc:
            if self._state != "missing" or self._controller is not None:
                log.warning("station controller not reachable on %s: %s", s.port, exc)
            self._disconnect()
            self._state = "missing"
            return False
        self._controller, self._identity, self._state = controller, identity, "ok"
        self._shown = None
        log.info(
            "station controller %s on %s, firmware %s",
            identity.board_id.hex(),
            s.port,
            identity.firmware_version,
        )
        if status.tamper_latched:
            self._set_locked(True, count=status.tamper_count, at_boot=True)
        with contextlib.suppress(ControllerError):
            self._readings = controller.read_sensors()
        return True

    def _configure(self, controller: Controller) -> None:
        controller.sync_time()
        controller.configure(
            reading_interval_s=self.settings.reading_interval_s,
            host_timeout_s=self.settings.host_timeout_s,
        )

    def _lost(self, why: str) -> None:
        log.warning("lost the station controller on %s: %s", self.settings.port, why)
        self._report("controller-lost", "warning", port=self.settings.port, error=why)
        self._disconnect()
        self._state = "error"

    def _disconnect(self) -> None:
        if self._controller is not None:
            self._controller.close()
            self._controller = None
        if self._port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._port.close()
            self._port = None

    def _refresh_panel(self, *, beep: bool) -> None:
        controller = self._require()
        capture = PanelState.LOCKED if self._locked else self._capture_state
        link = self._link_up()
        shown = (capture, link, self._locked)
        if shown == self._shown and not beep:
            return
        led, sound = CAPTURE_LOOK[capture]
        lock_led = Led(*RED, LedMode.FAST) if self._locked else LED_OFF
        controller.set_leds([led, LINK_LOOK[link], lock_led])
        if beep and sound is not Beep.OFF:
            controller.beep(sound)
        self._shown = shown

    # -- board events (the driver's thread) ----------------------------------------------------

    def _set_locked(self, locked: bool, **detail: int | bool | None) -> None:
        if locked == self._locked:
            return
        self._locked = locked
        if locked:
            log.critical("station locked: the enclosure was opened (tamper)")
            self._report("tamper", "critical", **detail)
        else:
            log.warning("tamper latch cleared: station unlocked")
            self._report("tamper-cleared", "warning", **detail)
        self._requests.put(PanelState.LOCKED if locked else self._capture_state)

    def _on_event(self, event: ControllerEvent) -> None:
        if isinstance(event, Readings):
            self._readings = event
        elif isinstance(event, GpsSentence):
            position = parse_position(event.sentence)
            if position is not None:
                self._position = (position, utc_timestamp(event.received_at))
        elif isinstance(event, TamperOpened):
            self._set_locked(True, count=event.count, at_boot=event.at_boot)
        elif isinstance(event, TamperCleared):
            self._set_locked(False, count=event.count)
        elif isinstance(event, PowerChanged):
            self._report(
                "power",
                "info" if event.external_power else "warning",
                external_power=event.external_power,
            )
        elif isinstance(event, HostWatchdog):
            if event.host_lost:
                self.flagged_hung.set()
                log.error("the station controller says the agent stopped answering")
            else:
                self.flagged_hung.clear()
                self._report(
                    "agent-watchdog",
                    "warning",
                    detail="the board flagged the agent as hung; it answers again",
                )
        elif isinstance(event, BoardBooted):
            severity = "warning" if event.reset_cause is ResetCause.WATCHDOG else "info"
            self._report(
                "controller-restarted",
                severity,
                boot_count=event.boot_count,
                cause=event.reset_cause.name.lower(),
            )
            if event.tamper_latched:
                self._set_locked(True, at_boot=True)
            self._shown = None
            self._reconfigure.set()
        elif isinstance(event, SensorChanged):
            self._report(
                "climate-sensor", "info" if event.present else "warning", present=event.present
            )
