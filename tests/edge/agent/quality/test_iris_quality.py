"""ewp-iq-1 on synthetic eyes: open sharp eyes pass the default threshold, occluded or blurred
ones fail, and the score moves the right way as blur or occlusion grows."""

from __future__ import annotations

import numpy as np
import pytest

from edge.agent.quality.iris_quality import ALGORITHM, iris_quality, locate_iris
from simulators.synthetic_eyes import HEIGHT, WIDTH, EyeScene, render_eye

THRESHOLD = 60  # the default iris threshold of the capture policy


def score(scene: EyeScene) -> int:
    return iris_quality(render_eye(scene), WIDTH, HEIGHT).score


@pytest.mark.parametrize("seed", range(5))
def test_open_sharp_eyes_pass(seed: int) -> None:
    result = iris_quality(render_eye(EyeScene(seed=seed)), WIDTH, HEIGHT)
    assert result.score > THRESHOLD, result
    assert result.reasons(THRESHOLD) == []


@pytest.mark.parametrize(
    "scene",
    [
        EyeScene(seed=0, centre_x=380, centre_y=210, iris_radius=100, pupil_ratio=0.3),
        EyeScene(seed=1, centre_x=250, centre_y=260, iris_radius=125, pupil_ratio=0.5),
        EyeScene(seed=2, noise=8.0),
    ],
    ids=["moved-small-pupil", "moved-large-pupil", "noisier"],
)
def test_other_good_eyes_pass(scene: EyeScene) -> None:
    assert score(scene) > THRESHOLD


@pytest.mark.parametrize("occlusion", [0.5, 0.6])
def test_occluded_eyes_fail_and_say_why(occlusion: float) -> None:
    result = iris_quality(render_eye(EyeScene(seed=3, occlusion=occlusion)), WIDTH, HEIGHT)
    assert result.score < THRESHOLD, result
    assert "too little iris visible" in result.reasons(THRESHOLD)[0]


@pytest.mark.parametrize("sigma", [3.0, 4.0, 6.0])
def test_blurred_eyes_fail_and_say_why(sigma: float) -> None:
    result = iris_quality(render_eye(EyeScene(seed=4, blur_sigma=sigma)), WIDTH, HEIGHT)
    assert result.score < THRESHOLD, result
    assert "blurred" in result.reasons(THRESHOLD)[0]


def test_more_blur_never_raises_the_score() -> None:
    results = [
        iris_quality(render_eye(EyeScene(seed=2, blur_sigma=s)), WIDTH, HEIGHT)
        for s in (0.0, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0)
    ]
    sharpness = [r.sharpness for r in results]
    assert sharpness == sorted(sharpness, reverse=True)
    assert len(set(sharpness)) == len(sharpness), "every step of blur is seen"
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] > scores[-1]


def test_more_occlusion_never_raises_the_score() -> None:
    results = [
        iris_quality(render_eye(EyeScene(seed=1, occlusion=o)), WIDTH, HEIGHT)
        for o in (0.0, 0.2, 0.3, 0.4, 0.5)
    ]
    areas = [r.usable_area for r in results]
    assert areas == sorted(areas, reverse=True)
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)


def test_localises_pupil_and_limbus_within_a_few_pixels() -> None:
    scene = EyeScene(seed=5, centre_x=300, centre_y=250, iris_radius=110, pupil_ratio=0.35)
    location = locate_iris(render_eye(scene), WIDTH, HEIGHT)
    assert location is not None
    assert abs(location.centre_x - 300) < 3 and abs(location.centre_y - 250) < 3
    assert abs(location.pupil_radius - 0.35 * 110) < 3
    assert abs(location.iris_radius - 110) < 4


def test_an_eye_at_the_edge_loses_margin() -> None:
    centred = iris_quality(render_eye(EyeScene(seed=6)), WIDTH, HEIGHT)
    at_edge = iris_quality(render_eye(EyeScene(seed=6, centre_x=130)), WIDTH, HEIGHT)
    assert centred.margin == 1.0
    assert at_edge.margin < 1.0


def test_no_eye_scores_zero() -> None:
    flat = np.random.default_rng(0).normal(150, 3, WIDTH * HEIGHT).clip(0, 255)
    result = iris_quality(bytes(flat.astype(np.uint8)), WIDTH, HEIGHT)
    assert result.score < THRESHOLD
    assert result.reasons(THRESHOLD)


def test_result_names_the_algorithm_and_carries_components() -> None:
    result = iris_quality(render_eye(EyeScene(seed=0)), WIDTH, HEIGHT)
    assert result.algorithm == ALGORITHM == "ewp-iq-1"
    assert set(result.components) == {
        "usable_area",
        "sharpness",
        "pupil_iris_contrast",
        "iris_sclera_contrast",
        "dilation",
        "margin",
        "iris_diameter",
    }
    assert all(0.0 <= v <= 1.0 for v in result.components.values())


def test_wrong_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="do not make"):
        iris_quality(b"\x00" * 10, WIDTH, HEIGHT)
    with pytest.raises(ValueError, match="too small"):
        iris_quality(b"\x00" * 16, 4, 4)
