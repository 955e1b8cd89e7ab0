"""Fingerprint image upload (UpImage) through the driver, against the wire time at 115200 baud.

The simulated module paces what it sends at 115200 baud (8N1: 10 bits a byte), so the best
any host can do is the wire time of the bytes that cross the line: the command, the ack and
the 288 data packets of a 36,864-byte image. Figure: ratio = wire time / measured time of
``FingerprintSensor.read_image()`` (target >= 0.95). Baseline, measured in the same run from
the same endpoint: a raw pyserial read of exactly as many bytes after sending the same
command, with no parsing at all; its ratio shows what the line itself allows.

The bytes counted are the simulator's own line counters (what it read and wrote), not a
formula. A ratio slightly above 1 is possible: the pacing writes in 10 ms slices, so the
last bytes reach the host up to one slice before their wire time has elapsed. As pacing hides
the driver's own cost, the same upload from an unpaced simulator is reported too (extra).
"""

from __future__ import annotations

import statistics
import time

import serial

from bench.report import Figure, report
from edge.drivers.fingerprint_r30x import FingerprintSensor, Instruction
from edge.drivers.fingerprint_r30x_frames import encode_command
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator

BAUD = 115200
RUNS = 3


def _wire_seconds(byte_count: int) -> float:
    return byte_count * 10 / BAUD


def _unpaced_upload_seconds() -> float:
    """The driver's own cost: the same upload from a simulator that does not pace (median)."""
    with start_fingerprint_simulator(SensorConfig(mode="manual")) as sim:
        port = serial.serial_for_url(sim.url, baudrate=BAUD, timeout=0.05)
        try:
            sensor = FingerprintSensor(port, timeout=2.0)
            sim.sensor.place(17, "right-index")
            sensor.capture_image()
            times = []
            for _ in range(5):
                started = time.perf_counter()
                sensor.read_image()
                times.append(time.perf_counter() - started)
            return statistics.median(times)
        finally:
            port.close()


def main() -> None:
    config = SensorConfig(mode="manual", baudrate=BAUD, pace=True)
    with start_fingerprint_simulator(config) as sim:
        port = serial.serial_for_url(sim.url, baudrate=BAUD, timeout=0.05)
        try:
            sensor = FingerprintSensor(port, timeout=2.0)
            sim.sensor.place(17, "right-index")
            sensor.capture_image()  # the image is rendered now, outside the timed part

            def line_bytes() -> int:
                # The simulator counts a paced write when it returns, a moment after the host
                # has the last byte: let the line settle (outside the timed part).
                time.sleep(0.1)
                counters = sim.sensor.status()["line_bytes"]
                assert isinstance(counters, dict)
                return int(counters["sent"]) + int(counters["received"])

            ours: list[tuple[float, int]] = []
            baseline: list[tuple[float, int]] = []
            command = encode_command(Instruction.UP_IMAGE)
            for _ in range(RUNS):
                before = line_bytes()
                started = time.perf_counter()
                image = sensor.read_image()
                elapsed = time.perf_counter() - started
                assert len(image.pixels) == image.width * image.height
                ours.append((elapsed, line_bytes() - before))

                answer_bytes = ours[-1][1] - len(command)
                before = line_bytes()
                port.timeout = 10.0
                started = time.perf_counter()
                port.write(command)
                raw = port.read(answer_bytes)
                elapsed = time.perf_counter() - started
                port.timeout = 0.05
                assert len(raw) == answer_bytes, "raw read came back short"
                baseline.append((elapsed, line_bytes() - before))
        finally:
            port.close()

    unpaced = _unpaced_upload_seconds()
    ours_time = statistics.median(t for t, _ in ours)
    ours_bytes = ours[0][1]
    base_time = statistics.median(t for t, _ in baseline)
    base_bytes = baseline[0][1]
    wire = _wire_seconds(ours_bytes)
    base_wire = _wire_seconds(base_bytes)
    report(
        Figure(
            name="fingerprint image upload at 115200 baud (wire time / measured)",
            ratio=wire / ours_time,
            target=">= 0.95",
            ours=f"read_image() {ours_time:.3f} s for {ours_bytes} bytes "
            f"(wire time {wire:.3f} s), median of {RUNS}",
            baseline=f"raw pyserial read {base_time:.3f} s for {base_bytes} bytes "
            f"(wire time {base_wire:.3f} s): ratio {base_wire / base_time:.3f}",
            extra={
                "ours_ratio": round(wire / ours_time, 3),
                "baseline_ratio": round(base_wire / base_time, 3),
                "ours_runs_s": ", ".join(f"{t:.3f}" for t, _ in ours),
                "baseline_runs_s": ", ".join(f"{t:.3f}" for t, _ in baseline),
                "unpaced_read_image_s": round(unpaced, 4),
                "unpaced_host_throughput_bytes_per_s": round(ours_bytes / unpaced),
            },
        )
    )


if __name__ == "__main__":
    main()
