"""A running station with its kiosk, for the kiosk's tests: a real agent (provisioned with the
fleet, uploading to Mosquitto through a simulated network link that a test can cut), simulated
fingerprint sensor and iris camera in manual mode, the station controller board simulator, and
the kiosk served on 127.0.0.1 by uvicorn.

``Hands`` is the operator and the applicant at the sensors: a thread that watches what the
workflow asks (the kiosk's state, the same guidance the screen shows) and puts the finger the
screen asks for on the glass, lifts it, looks at the camera. Its script says which presses are
poor, so a test gets a retry where it wants one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import serial

from edge.agent.autopilot import synthetic_application
from edge.agent.kiosk import KioskServer
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from edge.drivers.fingerprint_r30x import FingerprintSensor
from ewp.local_fleet import FleetStack, wait_until
from simulators.controller import ControllerBoard
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.iris import FAST_TIMING, CameraConfig, start_iris_simulator
from simulators.network import FaultyLink, NetworkSimulator
from tests.edge.agent.scripted_hand import ScriptedHand

OPERATOR_SUBJECT, APPLICANT_SUBJECT = 777, 555
OPERATOR_ID, OPERATOR_NAME, PIN = "somchai", "Somchai P.", "482913"
FINGERS = ["right-index", "right-middle", "left-index"]


@dataclass
class Hands:
    """Operator and applicant at the sensors, doing what the workflow asks."""

    rig: KioskRig
    poor: dict[str, int] = field(default_factory=dict)  # finger -> presses to make poor first
    unplug_at: str | None = None  # pull the sensor's cable when the screen asks for this finger
    hold_at: str | None = None  # stop (as if the applicant hesitated) before this finger
    paused: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="hands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        done: set[tuple[str, str, int]] = set()
        sensor = self.rig.fingerprint.sensor
        while not self._stop.wait(0.02):
            if self.paused.is_set():
                continue
            state = self.rig.server.flow.snapshot()
            if state.screen not in ("login-finger", "capture", "resolve"):
                done.clear()  # a new capture (or a retry) starts from its first finger
            guidance = state.guidance
            if guidance is None:
                continue
            step = (guidance.key, str(state.position), state.attempt)
            if guidance.key == "login-finger" and state.screen == "login-finger":
                if step not in done:
                    sensor.place(OPERATOR_SUBJECT, "right-index", "good")
            elif guidance.key == "place-finger" and state.screen == "capture":
                if step not in done:
                    finger = str(guidance.params["finger"])
                    if finger == self.hold_at:
                        continue
                    if finger == self.unplug_at:
                        self.unplug_at = None
                        sensor.unplug()
                        done.add(step)
                        continue
                    poor = self.poor.get(finger, 0) > 0
                    if poor:
                        self.poor[finger] -= 1
                    sensor.place(APPLICANT_SUBJECT, finger, "poor" if poor else "good")
            elif guidance.key == "lift-finger":
                sensor.lift()
            elif guidance.key == "look-at-camera" and step not in done:
                self.rig.iris.camera.present(APPLICANT_SUBJECT)
            else:
                continue
            done.add(step)


@dataclass
class KioskRig:
    agent: StationAgent
    server: KioskServer
    fingerprint: object
    iris: object
    board: ControllerBoard
    link: FaultyLink
    data_dir: Path
    hands: Hands = field(init=False)

    @property
    def url(self) -> str:
        return self.server.url

    def unlock_url(self) -> str:
        return (self.data_dir / "kiosk" / "unlock-url").read_text().strip()


@contextmanager
def kiosk_station(
    stack: FleetStack,
    netsim: NetworkSimulator,
    tmp_path: Path,
    *,
    station_id: str = "ct-70",
    idle_logout_s: float = 300.0,
    preregistered: int = 1,
) -> Iterator[KioskRig]:
    data_dir = tmp_path / station_id
    stack.provision_station(station_id, data_dir)
    with ExitStack() as stack_of:
        board = ControllerBoard(
            tmp_path / "flash", secret=os.urandom(32), seed=1, baudrate=0, gps=False
        )
        board.start()
        stack_of.callback(board.stop)
        endpoint = board.serve(pty=True)
        stack_of.callback(endpoint.stop)
        fingerprint = stack_of.enter_context(
            start_fingerprint_simulator(SensorConfig(mode="manual"))
        )
        iris = stack_of.enter_context(
            start_iris_simulator(CameraConfig(mode="manual", timing=FAST_TIMING))
        )
        link = netsim.add_link(("127.0.0.1", stack.broker.port), name=station_id)
        settings = AgentSettings.model_validate(
            {
                "station": {"data_dir": data_dir},
                "sensors": {
                    "fingerprint": {"port": fingerprint.url, "timeout_s": 1.0},
                    "iris": {"port": iris.url},
                },
                "controller": {
                    "port": endpoint.url,
                    "baudrate": 115200,
                    "ping_interval_s": 0.5,
                    "host_timeout_s": 3,
                },
                "uplink": {"broker_url": f"mqtt://{link.address}", "heartbeat_interval_s": 2},
                "capture": {"fingers": FINGERS, "eyes": ["left", "right"], "finger_timeout_s": 8},
                "kiosk": {"port": 8470, "idle_logout_s": idle_logout_s, "language": "en"},
            }
        )
        agent = StationAgent(settings, software_version="test")
        port = serial.serial_for_url(fingerprint.url, timeout=0.05)
        agent.operators.add(
            FingerprintSensor(port, timeout=1.0),
            OPERATOR_ID,
            OPERATOR_NAME,
            PIN,
            timeout_s=5,
            prompt=ScriptedHand(
                fingerprint.sensor, [(OPERATOR_SUBJECT, "right-index", "good")] * 2
            ),
        )
        port.close()
        agent.preregistered.grant(OPERATOR_ID, PIN)
        agent.preregistered.lock()
        if preregistered:
            import random

            agent.preregistered.store(
                [
                    synthetic_application(random.Random(n), n, station_id)
                    for n in range(1, preregistered + 1)
                ],
                expires_at=4e9,
            )
        server = KioskServer(agent, port=0)
        server.start()
        stack_of.callback(server.stop)
        rig = KioskRig(agent, server, fingerprint, iris, board, link, data_dir)
        rig.hands = Hands(rig)
        rig.hands.start()
        stack_of.callback(rig.hands.stop)
        wait_until(
            lambda: agent.controller is not None and agent.controller.connected,
            timeout=30,
            message="controller connected",
        )
        yield rig
