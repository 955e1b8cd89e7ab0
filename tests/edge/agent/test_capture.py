"""Capture against the simulated sensor: retries, give-up, a sensor that disappears."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import serial
from PIL import Image

from edge.agent.capture import FingerprintCapture
from edge.agent.errors import CaptureError
from edge.drivers.fingerprint_r30x import FingerprintSensor, TransportError
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)


@pytest.fixture
def sim() -> Iterator[RunningFingerprintSimulator]:
    with start_fingerprint_simulator(SensorConfig(mode="auto", seed=3)) as running:
        yield running


@pytest.fixture
def sensor(sim: RunningFingerprintSimulator) -> Iterator[FingerprintSensor]:
    port = serial.serial_for_url(sim.url, timeout=0.05)
    yield FingerprintSensor(port, timeout=1.0)
    port.close()


def test_captures_image_and_template_as_packet_records(sensor: FingerprintSensor) -> None:
    prompts: list[str] = []
    capture = FingerprintCapture(sensor, finger_timeout_s=5, prompt=prompts.append)
    result = capture.capture("right-index")
    assert (result.image.width, result.image.height) == (256, 288)
    assert len(result.template) == 512
    assert result.attempts == 1
    image_record, template_record = capture.records(result)
    png = Image.open(io.BytesIO(image_record.data))
    assert png.size == (256, 288) and png.mode == "L"
    assert round(png.info["dpi"][0]) == 500
    assert png.tobytes() == result.image.pixels, "lossless"
    assert template_record.format == "r30x-char-512"
    assert prompts[0].startswith("place right-index")


def test_an_unusable_press_is_captured_again(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.sensor.inject("messy-image:1")
    result = FingerprintCapture(sensor, finger_timeout_s=5).capture("left-thumb")
    assert result.attempts == 2


def test_gives_up_after_the_allowed_attempts_with_advice(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.sensor.inject("few-features:3")
    with pytest.raises(
        CaptureError, match=r"left-ring: no usable print after 3 attempts.*exception"
    ):
        FingerprintCapture(sensor, finger_timeout_s=5, attempts=3).capture("left-ring")


def test_a_sensor_unplugged_mid_image_is_a_transport_error(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor
) -> None:
    sim.sensor.inject("unplug-mid-image:5")
    with pytest.raises(TransportError):
        FingerprintCapture(sensor, finger_timeout_s=5).capture("right-index")
