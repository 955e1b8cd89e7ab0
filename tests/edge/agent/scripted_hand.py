"""A scripted applicant or operator at a simulated fingerprint sensor (manual mode).

Give it to code that prompts ("place ...", "lift ..."): each "place" prompt puts the next
finger of the script on the glass, each "lift" prompt takes it away.
"""

from __future__ import annotations

from collections import deque

from simulators.fingerprint import SimulatedFingerprintSensor


class ScriptedHand:
    def __init__(
        self, sensor: SimulatedFingerprintSensor, presses: list[tuple[int, str, str]]
    ) -> None:
        self.sensor = sensor
        self.presses = deque(presses)  # (subject, finger, "good" | "poor")
        self.prompts: list[str] = []

    def __call__(self, message: str) -> None:
        self.prompts.append(message)
        if message.startswith("lift"):
            self.sensor.lift()
        elif "place" in message and self.presses:
            subject, finger, quality = self.presses.popleft()
            self.sensor.place(subject, finger, quality)  # type: ignore[arg-type]
