"""A simulated station's kiosk, driven without anyone at it: for `ewp demo --kiosk` and tests.

- ``Hands``: the operator and the applicant at the simulated sensors (manual mode). A thread
  watches what the workflow asks (the kiosk's state: the same guidance the screen shows) and
  puts the finger it asks for on the glass, lifts it, looks at the camera. ``poor`` makes the
  first presses of a finger poor (a retry); ``unplug_at`` pulls the sensor's cable when a finger
  is asked for; ``hold_at`` waits before a finger, as a hesitating applicant would.
- ``KioskAutopilot``: the operator's taps, as HTTP requests to the kiosk's own forms (the
  one-time link, the CSRF token, login, a walk-in application, capture, review, save): what a
  person does on the screen, without a browser.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import serial

from edge.agent.kiosk import KioskServer
from edge.agent.kiosk.flow import KioskFlow
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from edge.drivers.fingerprint_r30x import FingerprintSensor
from simulators.fingerprint import (
    SensorConfig,
    SimulatedFingerprintSensor,
    start_fingerprint_simulator,
)
from simulators.iris import FAST_TIMING, CameraConfig, SimulatedIrisCamera, start_iris_simulator

log = logging.getLogger(__name__)

OPERATOR_SUBJECT, APPLICANT_SUBJECT = 777, 555
OPERATOR_ID, OPERATOR_NAME, OPERATOR_PIN = "somchai", "Somchai P.", "482913"


def add_operator(agent: StationAgent, sensor_url: str, sensor: SimulatedFingerprintSensor) -> None:
    """Enrol the demo operator (PIN and a finger in the module's library); before the agent
    starts, since it opens the sensor's port itself."""
    presses = [(OPERATOR_SUBJECT, "right-index")] * 2

    def prompt(message: str) -> None:
        if message.startswith("lift"):
            sensor.lift()
        elif "place" in message and presses:
            subject, finger = presses.pop()
            sensor.place(subject, finger, "good")

    port = serial.serial_for_url(sensor_url, timeout=0.05)
    try:
        agent.operators.add(
            FingerprintSensor(port, timeout=5.0),
            OPERATOR_ID,
            OPERATOR_NAME,
            OPERATOR_PIN,
            timeout_s=5,
            prompt=prompt,
        )
    finally:
        port.close()
    agent.preregistered.grant(OPERATOR_ID, OPERATOR_PIN)
    agent.preregistered.lock()


@dataclass
class Hands:
    """Operator and applicant at the sensors, doing what the workflow asks."""

    flow: KioskFlow
    fingerprint: SimulatedFingerprintSensor
    iris: SimulatedIrisCamera | None
    poor: dict[str, int] = field(default_factory=dict)  # finger -> presses to make poor first
    unplug_at: str | None = None
    hold_at: str | None = None
    presses: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Hands:
        self._thread = threading.Thread(target=self._run, name="hands", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        done: set[tuple[str, str, int]] = set()
        sensor = self.fingerprint
        while not self._stop.wait(0.02):
            state = self.flow.snapshot()
            if state.screen not in ("login-finger", "capture", "resolve"):
                done.clear()  # a new capture (or a retry) starts from its first finger
            guidance = state.guidance
            if guidance is None:
                continue
            step = (guidance.key, str(state.position), state.attempt)
            if step in done and guidance.key != "lift-finger":
                continue
            if guidance.key == "login-finger" and state.screen == "login-finger":
                sensor.place(OPERATOR_SUBJECT, "right-index", "good")
            elif guidance.key == "place-finger" and state.screen == "capture":
                finger = str(guidance.params["finger"])
                if finger == self.hold_at:
                    continue
                if finger == self.unplug_at:
                    self.unplug_at = None
                    sensor.unplug()
                else:
                    poor = self.poor.get(finger, 0) > 0
                    if poor:
                        self.poor[finger] -= 1
                    sensor.place(APPLICANT_SUBJECT, finger, "poor" if poor else "good")
                    self.presses += 1
            elif guidance.key == "lift-finger":
                sensor.lift()
            elif guidance.key == "look-at-camera" and self.iris is not None:
                self.iris.present(APPLICANT_SUBJECT)
            else:
                continue
            done.add(step)


class KioskAutopilot:
    """The operator's taps on the kiosk, through its HTTP forms."""

    def __init__(self, base_url: str, unlock_url: str, *, timeout_s: float = 120.0) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=True)
        self.timeout_s = timeout_s
        page = self.client.get(unlock_url)
        page.raise_for_status()
        self.csrf = self._token(page.text)

    def close(self) -> None:
        self.client.close()

    @staticmethod
    def _token(html: str) -> str:
        found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
        if found is None:
            raise RuntimeError("the kiosk sent no form: is the one-time link still valid?")
        return found.group(1)

    def screen(self) -> str:
        found = re.search(r'data-screen="([a-z-]+)"', self.client.get("/").text)
        return found.group(1) if found else ""

    def post(self, path: str, **data: Any) -> str:
        response = self.client.post(path, data={**data, "csrf": self.csrf})
        if response.status_code >= 400 and response.status_code != 422:
            response.raise_for_status()
        return response.text

    def wait_for(self, *screens: str) -> str:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            shown = self.screen()
            if shown in screens:
                return shown
            time.sleep(0.2)
        raise TimeoutError(f"the kiosk did not reach {screens} (it shows {self.screen()!r})")

    def enrol_walk_in(self, form: dict[str, str]) -> str:
        """Log in if needed, enter a walk-in application, capture, review, save; the saved
        screen's text."""
        if self.screen() == "login":
            self.post("/login", operator_id=OPERATOR_ID, pin=OPERATOR_PIN)
            self.wait_for("home")
        self.post("/walk-in", **form)
        self.wait_for("confirm")
        self.post("/capture")
        self.wait_for("review")
        self.post("/submit")
        self.wait_for("saved")
        page = self.client.get("/").text
        found = re.search(r'id="saved">([^<]+)<', page)
        return found.group(1) if found else ""


# A walk-in applicant the demo's autopilot enters at the kiosk (Burmese: prompts in Burmese).
DEMO_WALK_IN = {
    "application_number": "WP-KIOSK-000001",
    "kind": "new",
    "given_name": "Aye",
    "family_name": "Mar",
    "passport_number": "MA1234567",
    "nationality": "MMR",
    "date_of_birth": "1994-02-03",
    "sex": "F",
    "juristic_id": "0105555012348",
    "employer_name": "Siam Fresh Foods",
    "job_type": "agriculture",
    "work_province": "TH-63",
}


class KioskStation:
    """`ewp demo --kiosk`: one more station, in the demo's process, serving its kiosk on
    127.0.0.1 with simulated sensors in manual mode and ``Hands`` at them; ``drive()`` sends
    one walk-in applicant through the kiosk's forms while the rest of the fleet runs."""

    station_id = "ct-kiosk"

    def __init__(
        self, data_dir: Path, broker_url: str, fingers: tuple[str, ...], eyes: tuple[str, ...]
    ) -> None:
        self.data_dir = data_dir
        self.broker_url = broker_url
        self.fingers, self.eyes = fingers, eyes
        self._stack = ExitStack()
        self.server: KioskServer | None = None
        self.hands: Hands | None = None
        self.saved = ""  # the kiosk's "saved" sentence once the applicant went through
        self.error = ""
        self._driver: threading.Thread | None = None

    def start(self) -> None:
        """Start the sensors, the agent and the kiosk (the station is provisioned already)."""
        fingerprint = self._stack.enter_context(
            start_fingerprint_simulator(SensorConfig(mode="manual", seed=11))
        )
        iris = None
        if self.eyes:
            iris = self._stack.enter_context(
                start_iris_simulator(CameraConfig(mode="manual", timing=FAST_TIMING))
            )
        settings = AgentSettings.model_validate(
            {
                "station": {"data_dir": self.data_dir, "operator_id": OPERATOR_ID},
                "sensors": {
                    "fingerprint": {"port": fingerprint.url, "timeout_s": 5.0},
                    **({"iris": {"port": iris.url, "timeout_s": 5.0}} if iris is not None else {}),
                },
                "uplink": {"broker_url": self.broker_url, "heartbeat_interval_s": 5},
                "capture": {"fingers": list(self.fingers), "eyes": list(self.eyes)},
                "kiosk": {"language": "en"},
            }
        )
        agent = StationAgent(settings, software_version="demo")
        add_operator(agent, fingerprint.url, fingerprint.sensor)
        self.server = KioskServer(agent, port=0)
        self.server.start()
        self._stack.callback(self.server.stop)
        self.hands = Hands(
            self.server.flow, fingerprint.sensor, iris.camera if iris is not None else None
        ).start()
        self._stack.callback(self.hands.stop)

    @property
    def url(self) -> str:
        return self.server.url if self.server is not None else ""

    def unlock_url(self) -> str:
        return (self.data_dir / "kiosk" / "unlock-url").read_text().strip()

    def drive(self) -> None:
        """One applicant through the kiosk, in the background (``saved`` or ``error`` after)."""

        def run() -> None:
            assert self.hands is not None
            self.hands.poor["right-index"] = 1  # one retry, as in the field
            pilot = KioskAutopilot(self.url, self.unlock_url(), timeout_s=300)
            try:
                self.saved = pilot.enrol_walk_in(DEMO_WALK_IN)
            except (httpx.HTTPError, TimeoutError, RuntimeError) as exc:
                self.error = str(exc)
                log.warning("the kiosk autopilot stopped: %s", exc)
            finally:
                pilot.close()

        self._driver = threading.Thread(target=run, name="kiosk-autopilot", daemon=True)
        self._driver.start()

    def stop(self) -> None:
        if self._driver is not None:
            self._driver.join(5)
        self._stack.close()
