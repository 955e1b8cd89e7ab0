"""A running station with its kiosk, for the kiosk's tests: a real agent (provisioned with the
fleet, uploading to Mosquitto through a simulated network link that a test can cut), simulated
fingerprint sensor and iris camera in manual mode, the station controller board simulator, and
the kiosk served on 127.0.0.1 by uvicorn.

``Hands`` (ewp/kiosk_demo.py) is the operator and the applicant at the sensors: it puts the
finger the screen asks for on the glass, lifts it, looks at the camera; a test says which
presses are poor (a retry), when to pull the cable, when to hesitate.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from edge.agent.autopilot import synthetic_application
from edge.agent.kiosk import KioskServer
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.kiosk_demo import OPERATOR_PIN, Hands, add_operator
from ewp.local_fleet import FleetStack, wait_until
from simulators.controller import ControllerBoard
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)
from simulators.iris import (
    FAST_TIMING,
    CameraConfig,
    RunningIrisSimulator,
    start_iris_simulator,
)
from simulators.network import FaultyLink, NetworkSimulator

PIN = OPERATOR_PIN
STATION_NUMBERS = itertools.count(70)  # each rig of a test module's fleet: its own station id
FINGERS = ["right-index", "right-middle", "left-index"]


@dataclass
class KioskRig:
    agent: StationAgent
    server: KioskServer
    fingerprint: RunningFingerprintSimulator
    iris: RunningIrisSimulator
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
                    "fingerprint": {"port": fingerprint.url, "timeout_s": 3.0},
                    "iris": {"port": iris.url, "timeout_s": 5.0},
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
        add_operator(agent, fingerprint.url, fingerprint.sensor)
        if preregistered:
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
        rig.hands = Hands(server.flow, fingerprint.sensor, iris.camera).start()
        stack_of.callback(rig.hands.stop)
        wait_until(
            lambda: agent.controller is not None and agent.controller.connected,
            timeout=30,
            message="controller connected",
        )
        yield rig
