"""Time to score one image on the station: ewp-fq-1 against 50 ms, ewp-iq-1 against 100 ms.

The capture workflow scores every press and every eye image while the operator waits, so the
score must come back well within a capture's own time. Ratio = budget / median measured time
(target >= 1): the budget is the issue's (50 ms for a 256x288 fingerprint, 100 ms for a
640x480 eye image, on this machine). Images: the fingerprint simulator's image module and the
synthetic eye generator; 30 runs each after a warm-up.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

from bench.report import Figure, report
from edge.agent.quality.finger_quality import finger_quality
from edge.agent.quality.iris_quality import iris_quality
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerIdentity,
    FingerPosition,
    PressConditions,
    render_press,
)
from simulators.synthetic_eyes import EyeScene, render_eye

RUNS = 30


def _median_ms(images: list[bytes], score: Callable[[bytes], object]) -> float:
    score(images[0])  # warm-up
    times = []
    for n in range(RUNS):
        started = time.perf_counter()
        score(images[n % len(images)])
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    fingers = [
        render_press(
            FingerIdentity(s, FingerPosition.RIGHT_INDEX),
            PressConditions.draw(np.random.default_rng(s), poor=s % 2 == 1),
            s,
        )
        for s in range(6)
    ]
    eyes = [render_eye(EyeScene(seed=s, occlusion=0.1 * s)) for s in range(4)]
    for name, images, score, budget in (
        (
            "ewp-fq-1 fingerprint quality (256x288)",
            fingers,
            lambda p: finger_quality(p, WIDTH, HEIGHT),
            50.0,
        ),
        ("ewp-iq-1 iris quality (640x480)", eyes, lambda p: iris_quality(p, 640, 480), 100.0),
    ):
        ms = _median_ms(images, score)
        report(
            Figure(
                name=name,
                ratio=budget / ms,
                target=">= 1.0",
                ours=f"{ms:.1f} ms per image (median of {RUNS})",
                baseline=f"{budget:.0f} ms budget",
            )
        )


if __name__ == "__main__":
    main()
