"""`ewp enrol`'s terminal session, driven by a script: log in with PIN and finger, look up a
pre-registered application, enter a new one (a typo refused), capture, see the queue."""

from __future__ import annotations

import io
import random
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial
from rich.console import Console

from edge.agent.autopilot import synthetic_application
from edge.agent.capture_console import Guidance
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from edge.agent.terminal import TerminalEnrolment
from edge.drivers.fingerprint_r30x import FingerprintSensor
from ewp.local_fleet import FleetStack, wait_until
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.iris import FAST_TIMING, CameraConfig, start_iris_simulator
from tests.edge.agent.scripted_hand import ScriptedHand

OPERATOR, APPLICANT = 777, 555


class Hands:
    """Operator and applicant at the sensors, reacting to what the screen says."""

    def __init__(self, fingerprint: object, iris: object) -> None:
        self.fingerprint, self.iris = fingerprint, iris

    def __call__(self, guidance: Guidance) -> None:
        sensor = self.fingerprint.sensor  # type: ignore[attr-defined]
        if guidance.key == "login-finger":
            sensor.place(OPERATOR, "right-index", "good")
        elif guidance.key == "place-finger":
            sensor.place(APPLICANT, str(guidance.params["finger"]), "good")
        elif guidance.key == "lift-finger":
            sensor.lift()
        elif guidance.key == "look-at-camera":
            self.iris.camera.present(APPLICANT)  # type: ignore[attr-defined]


@pytest.fixture
def station(fleet_stack: FleetStack, tmp_path: Path) -> Iterator[tuple[StationAgent, Hands]]:
    fleet_stack.provision_station("ct-60", tmp_path / "st")
    with (
        start_fingerprint_simulator(SensorConfig(mode="manual")) as fingerprint,
        start_iris_simulator(CameraConfig(mode="manual", timing=FAST_TIMING)) as iris,
    ):
        settings = AgentSettings.model_validate(
            {
                "station": {"data_dir": tmp_path / "st"},
                "sensors": {
                    "fingerprint": {"port": fingerprint.url, "timeout_s": 1.0},
                    "iris": {"port": iris.url},
                },
                "capture": {
                    "fingers": ["right-thumb", "right-index", "left-thumb"],
                    "finger_timeout_s": 5,
                },
            }
        )
        agent = StationAgent(settings, software_version="test")
        port = serial.serial_for_url(fingerprint.url, timeout=0.05)
        agent.operators.add(
            FingerprintSensor(port, timeout=1.0),
            "somchai",
            "Somchai P.",
            "482913",
            timeout_s=5,
            prompt=ScriptedHand(fingerprint.sensor, [(OPERATOR, "right-index", "good")] * 2),
        )
        port.close()
        agent.preregistered.grant("somchai", "482913")
        agent.preregistered.lock()
        agent.start()
        try:
            yield agent, Hands(fingerprint, iris)
        finally:
            agent.stop()


def test_a_terminal_session_enrols_two_applicants(
    station: tuple[StationAgent, Hands], fleet_stack: FleetStack
) -> None:
    agent, hands = station
    prereg = synthetic_application(random.Random(3), 9, "ct-60")
    agent.preregistered.store([prereg], expires_at=4e9)
    answers = deque(
        [
            "somchai",
            "000000",  # a wrong PIN first
            "somchai",
            "482913",
            "l",
            prereg.application_number.lower(),
            "y",
            "left-thumb amputated hand injury",
            "",  # one declared exception
            "q",
            "n",
            "WP-CT-60-900001",
            "new",
            "Aye",
            "Mar",
            "MA12",
            "MA1234567",
            "mmr",
            "1994-02-03",
            "F",
            "0105555012348",
            "Siam Fresh Foods",
            "construction",
            "Tak",
            "",
            "x",
        ]
    )
    out = io.StringIO()
    session = TerminalEnrolment(
        agent,
        Console(file=out, width=200),
        lambda prompt, secret: answers.popleft(),
        language="th",
        observer=hands,
    )
    session.run()
    text = out.getvalue()
    assert not answers, "the script was followed to the end"
    assert session.saved == 2
    assert "unknown operator or wrong PIN" in text
    assert "เข้าสู่ระบบในชื่อ Somchai P." in text
    assert "6 to 9 capital letters" in text, "the short passport number was refused"
    assert "บันทึกแล้ว" in text and "รอส่ง" in text
    assert agent.preregistered.numbers() == [], "an enrolled pre-registration leaves the cache"
    wait_until(lambda: agent.outbox_stats().acked == 2, message="both packets at the fleet")
    packets = fleet_stack.api().get("/api/v1/packets").json()
    assert len(packets) == 2
