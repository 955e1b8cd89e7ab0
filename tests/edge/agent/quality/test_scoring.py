"""What ewp-fq-1 and ewp-iq-1 share (edge/agent/quality/scoring.py): ramps, the weighted
geometric mean, the advice for the weakest components and the box mean."""

from __future__ import annotations

import numpy as np
import pytest

from edge.agent.quality.scoring import box_mean, ramp, ramped, weakest_advice, weighted_score

WEIGHTS = {"area": 0.5, "clarity": 0.3, "contrast": 0.2}
ADVICE = {"area": "press harder", "clarity": "clean the glass", "contrast": "dry the finger"}


def test_ramps_clamp_to_their_anchors() -> None:
    assert [ramp(v, 0.2, 0.6) for v in (0.0, 0.2, 0.4, 0.6, 1.0)] == pytest.approx(
        [0.0, 0.0, 0.5, 1.0, 1.0]
    )
    ramps = {"area": (0.2, 0.6), "clarity": (0.0, 1.0)}
    assert ramped({"area": 0.4, "clarity": 9.0}, ramps) == pytest.approx(
        {"area": 0.5, "clarity": 1.0}
    )


def test_one_component_near_zero_sinks_the_score() -> None:
    assert weighted_score({"area": 1.0, "clarity": 1.0, "contrast": 1.0}, WEIGHTS) == 100
    assert weighted_score({"area": 0.0, "clarity": 1.0, "contrast": 1.0}, WEIGHTS) == 0
    half = weighted_score({"area": 0.5, "clarity": 0.5, "contrast": 0.5}, WEIGHTS)
    assert half == 50
    # Geometric: 0.25 on the heaviest component costs more than on the lightest.
    heavy = weighted_score({"area": 0.25, "clarity": 1.0, "contrast": 1.0}, WEIGHTS)
    light = weighted_score({"area": 1.0, "clarity": 1.0, "contrast": 0.25}, WEIGHTS)
    assert heavy < light < 100


def test_advice_names_the_weak_components_weakest_first_and_only_below_the_threshold() -> None:
    components = {"area": 0.3, "clarity": 0.7, "contrast": 0.9}
    assert weakest_advice(components, ADVICE, score=70, threshold=60) == []
    assert weakest_advice(components, ADVICE, score=50, threshold=60) == [
        "press harder",
        "clean the glass",
    ]
    strong = {"area": 0.9, "clarity": 0.8, "contrast": 0.85}
    assert weakest_advice(strong, ADVICE, score=50, threshold=60) == ["clean the glass"]


def test_box_mean_is_the_window_mean_with_clamped_edges() -> None:
    image = np.arange(30, dtype=np.float64).reshape(5, 6)
    radius = 1
    padded = np.pad(image, radius, mode="edge")
    expected = np.array([[padded[y : y + 3, x : x + 3].mean() for x in range(6)] for y in range(5)])
    assert np.allclose(box_mean(image, radius), expected)
    assert np.allclose(box_mean(np.full((4, 4), 7.0), 3), 7.0)
