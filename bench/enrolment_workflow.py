"""What the enrolment workflow adds on top of the devices' own capture time.

A full enrolment — ten fingers and both irises — against the simulated fingerprint module
(paced at 115200 baud: what the wire takes on real hardware) and the simulated iris camera
(its default, realistic timing). Device time is everything spent waiting on the devices
(polling for a finger, image and template transfers, the module's matches for the duplicate
check, the camera's capture and image transfers); the workflow's own time is the rest: quality
scores, WSQ and PNG records, guidance, then building, sealing, signing and saving the packet.
Ratio = device time / total time (target >= 0.95, i.e. under 5 % overhead).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import serial

from bench.report import Figure, report
from bench.station_side import QuietConsole, bench_builder
from edge.agent.autopilot import synthetic_application
from edge.agent.capture import EnrolmentWorkflow
from edge.agent.capture_devices import CameraIrisCapturer, FingerCapturer
from edge.agent.outbox import Outbox
from edge.drivers.fingerprint_r30x import FingerprintSensor
from edge.drivers.iris_camera import IrisCamera
from protocol.station_config import CapturePolicy
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.iris import CameraConfig, start_iris_simulator

BAUD = 115200


def main() -> None:
    builder = bench_builder("ct-01")
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_fingerprint_simulator(
            SensorConfig(mode="auto", pace=True, baudrate=BAUD, poor_rate=0.1, seed=3)
        ) as fingerprint,
        start_iris_simulator(CameraConfig(mode="auto", poor_rate=0.1, seed=3)) as iris,
        Outbox(Path(tmp) / "outbox.sqlite", min_free_bytes=0) as outbox,
    ):
        finger_port = serial.serial_for_url(fingerprint.url, baudrate=BAUD, timeout=0.05)
        iris_port = serial.serial_for_url(iris.url, timeout=0.05)
        fingers = FingerCapturer(FingerprintSensor(finger_port, timeout=3.0), timeout_s=20)
        irises = CameraIrisCapturer(IrisCamera(iris_port), timeout_s=30)
        workflow = EnrolmentWorkflow(
            CapturePolicy(), QuietConsole(), fingers=fingers, irises=irises
        )
        application = synthetic_application(random.Random(1), 1, "ct-01")
        started = time.perf_counter()
        result = workflow.run(application, operator_id="bench")
        entry = builder.save(outbox, result.enrolment)
        total = time.perf_counter() - started
        finger_port.close()
        iris_port.close()
    device = fingers.device_seconds + irises.device_seconds
    report(
        Figure(
            name="enrolment workflow overhead on top of device time (10 fingers + 2 irises)",
            ratio=device / total,
            target=">= 0.95",
            ours=f"{total:.2f} s in all, {total - device:.2f} s of it the workflow's own "
            f"({(total - device) / device * 100:.1f} % overhead)",
            baseline=f"{device:.2f} s waiting on the devices (fingers "
            f"{fingers.device_seconds:.2f} s at {BAUD} baud, irises {irises.device_seconds:.2f} s)",
            extra={
                "finger_attempts": sum(
                    n for p, n in result.stats.attempts.items() if not p.endswith("-eye")
                ),
                "iris_attempts": sum(
                    n for p, n in result.stats.attempts.items() if p.endswith("-eye")
                ),
                "sealed_packet_kb": round(entry.size / 1024, 1),
            },
        )
    )


if __name__ == "__main__":
    main()
