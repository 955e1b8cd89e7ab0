"""ewp-fq-1 against the simulated sensor: good presses pass the default threshold, poor fail."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import serial

from edge.agent.quality.finger_quality import ALGORITHM, FingerQuality, finger_quality
from edge.drivers.fingerprint_r30x import FingerprintSensor
from simulators.fingerprint import RunningFingerprintSimulator, SensorConfig
from simulators.fingerprint import start_fingerprint_simulator as start_sim
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerIdentity,
    FingerPosition,
    PressConditions,
    render_press,
)

THRESHOLD = 40  # the default finger threshold of the capture policy


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningFingerprintSimulator]:
    with start_sim(SensorConfig(mode="manual", seed=11)) as running:
        yield running


def _press(sim: RunningFingerprintSimulator, subject: int, finger: str, quality: str) -> bytes:
    """The image as the station gets it: through the driver, 4 bits a pixel on the wire."""
    port = serial.serial_for_url(sim.url, timeout=0.05)
    try:
        sensor = FingerprintSensor(port, timeout=2.0)
        sim.sensor.place(subject, finger, quality)
        sensor.capture_image()
        image = sensor.read_image()
        sim.sensor.lift()
    finally:
        port.close()
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    return image.pixels


@pytest.mark.parametrize("subject", [1, 2, 3])
@pytest.mark.parametrize("finger", ["right-thumb", "right-index", "left-middle", "left-little"])
def test_simulator_presses_fall_on_either_side_of_the_threshold(
    sim: RunningFingerprintSimulator, subject: int, finger: str
) -> None:
    good = finger_quality(_press(sim, subject, finger, "good"), WIDTH, HEIGHT)
    poor = finger_quality(_press(sim, subject, finger, "poor"), WIDTH, HEIGHT)
    assert good.score > THRESHOLD, good
    assert poor.score < THRESHOLD, poor
    assert good.reasons(THRESHOLD) == []
    assert poor.reasons(THRESHOLD), "a failed press says why"


def _render(poor: bool, seed: int, **changes: float) -> bytes:
    identity = FingerIdentity(seed, FingerPosition.RIGHT_INDEX)
    conditions = PressConditions.draw(np.random.default_rng(seed), poor=poor)
    fields = {**conditions.__dict__, **changes}
    return render_press(identity, PressConditions(**fields), seed)


def test_many_rendered_presses_are_separated() -> None:
    scores = {
        poor: [finger_quality(_render(poor, seed), WIDTH, HEIGHT).score for seed in range(20)]
        for poor in (False, True)
    }
    assert min(scores[False]) > THRESHOLD + 20
    assert max(scores[True]) < THRESHOLD - 5


def test_a_smaller_contact_lowers_the_area_and_the_score() -> None:
    results = [
        finger_quality(_render(False, 5, contact=c), WIDTH, HEIGHT) for c in (1.0, 0.5, 0.25, 0.1)
    ]
    areas = [r.area for r in results]
    assert areas == sorted(areas, reverse=True)
    assert results[0].score > results[-1].score
    assert results[-1].score < THRESHOLD
    assert "too little finger" in results[-1].reasons()[0]


def test_more_noise_lowers_the_clarity_and_never_raises_the_score() -> None:
    results = [
        finger_quality(_render(False, 7, noise=n), WIDTH, HEIGHT) for n in (4, 15, 30, 45, 60)
    ]
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]
    clarity = [r.ridge_clarity for r in results]
    assert clarity == sorted(clarity, reverse=True)


def test_an_empty_window_scores_zero() -> None:
    blank = bytes([235]) * (WIDTH * HEIGHT)
    result = finger_quality(blank, WIDTH, HEIGHT)
    assert result.score == 0 and result.area == 0.0
    noise = np.random.default_rng(0).normal(200, 20, WIDTH * HEIGHT).clip(0, 255)
    assert finger_quality(bytes(noise.astype(np.uint8)), WIDTH, HEIGHT).score < THRESHOLD


def test_result_names_the_algorithm_and_carries_components() -> None:
    result = finger_quality(_render(False, 1), WIDTH, HEIGHT)
    assert isinstance(result, FingerQuality)
    assert result.algorithm == ALGORITHM == "ewp-fq-1"
    assert set(result.components) == {"area", "orientation_certainty", "ridge_clarity"}
    assert all(0.0 <= v <= 1.0 for v in result.components.values())
    assert 0 <= result.score <= 100


def test_wrong_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="do not make"):
        finger_quality(b"\x00" * 10, WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="too small"):
        finger_quality(b"\x00" * 16, 4, 4)
