"""Synthetic NIR eye images: deterministic per person, eye and capture; the parts of an eye
where they belong; and poor captures measurably worse than good ones, both in the camera's
scores and in the pixels themselves.

Sharpness, measured here independently of the renderer: the mean absolute Laplacian over the
iris annulus (what defocus kills first), on the image binned 2 x 2 so that sensor noise does
not dominate it.
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from simulators.iris_images import (
    HEIGHT,
    WIDTH,
    EyeConditions,
    EyeSide,
    IrisIdentity,
    RenderedEye,
    focus_score,
    iris_pattern,
    render_eye,
    scores,
)

LEFT, RIGHT = EyeSide.LEFT, EyeSide.RIGHT


def render(person: int, side: EyeSide = LEFT, seed: int = 1, **conditions: float) -> RenderedEye:
    return render_eye(IrisIdentity(person, side), EyeConditions(**conditions), seed)  # type: ignore[arg-type]


def pixels(eye: RenderedEye) -> NDArray[np.float64]:
    return np.frombuffer(eye.pixels, dtype=np.uint8).reshape(HEIGHT, WIDTH).astype(np.float64)


def disc(eye: RenderedEye, inner: float, outer: float) -> NDArray[np.bool_]:
    """Pixels between ``inner`` and ``outer`` times the iris radius from the iris centre."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH]
    distance = np.hypot(xs - eye.iris_x, ys - eye.iris_y)
    return (distance >= inner * eye.iris_radius) & (distance < outer * eye.iris_radius)


def sharpness(eye: RenderedEye) -> float:
    image = pixels(eye).reshape(HEIGHT // 2, 2, WIDTH // 2, 2).mean(axis=(1, 3))
    laplacian = (
        image[1:-1, 2:] + image[1:-1, :-2] + image[2:, 1:-1] + image[:-2, 1:-1]
        - 4 * image[1:-1, 1:-1]
    )  # fmt: skip
    annulus = disc(eye, eye.pupil_radius / eye.iris_radius + 0.1, 0.9)[::2, ::2][1:-1, 1:-1]
    return float(np.abs(laplacian[annulus]).mean())


def test_size_and_determinism() -> None:
    first = render(17, LEFT, seed=5)
    assert len(first.pixels) == WIDTH * HEIGHT == 640 * 480
    assert render(17, LEFT, seed=5) == first
    assert render(17, RIGHT, seed=5).pixels != first.pixels  # the other eye
    assert render(18, LEFT, seed=5).pixels != first.pixels  # another person
    assert render(17, LEFT, seed=6).pixels != first.pixels  # another capture


def test_an_eye_keeps_its_iris_pattern_from_capture_to_capture() -> None:
    identity = IrisIdentity(17, LEFT)
    pattern = iris_pattern(identity)
    assert pattern.shape == (64, 512) and 0.0 <= pattern.min() < pattern.max() <= 1.0
    assert iris_pattern(IrisIdentity(17, LEFT)) is pattern  # cached
    other = iris_pattern(IrisIdentity(17, RIGHT))
    correlation = np.corrcoef(pattern.ravel(), other.ravel())[0, 1]
    assert abs(correlation) < 0.5  # left and right irises of one person differ
    # The same eye at two captures: the iris sits elsewhere, but its size barely changes.
    a, b = render(17, LEFT, seed=1), render(17, LEFT, seed=2)
    assert abs(a.iris_radius - b.iris_radius) <= 0.1 * a.iris_radius


def test_the_parts_of_an_eye_are_where_they_belong() -> None:
    eye = render(21, occlusion=0.0, blur=0.5)
    image = pixels(eye)
    pupil = disc(eye, 0.0, 0.8 * eye.pupil_radius / eye.iris_radius)
    iris = disc(eye, eye.pupil_radius / eye.iris_radius + 0.1, 0.85)
    sclera_band = disc(eye, 1.15, 1.3)
    row = slice(eye.iris_y - 15, eye.iris_y + 15)
    sclera = np.zeros_like(sclera_band)
    sclera[row] = sclera_band[row]  # beside the iris, where no eyelid is
    pupil_level = np.median(image[pupil])
    assert pupil_level < 40  # a dark pupil
    assert pupil_level + 40 < image[iris].mean() < image[sclera].mean()  # grey iris, bright sclera
    assert image[iris].std() > 12  # textured
    assert (image[disc(eye, 0.0, 0.6)] >= 245).sum() > 40  # the LEDs' reflections
    assert 100 <= eye.iris_radius <= 135 and 0.28 < eye.pupil_radius / eye.iris_radius < 0.5


def test_occlusion_is_the_share_asked_for() -> None:
    previous = 101
    for occlusion in (0.0, 0.2, 0.4, 0.6, 0.8):
        eye = render(30, occlusion=occlusion)
        assert eye.occluded == pytest.approx(occlusion, abs=0.03) or occlusion == 0.0
        assert eye.scores.usable_area < previous
        previous = eye.scores.usable_area
    # The covered iris really is covered: eyelid skin is brighter than the iris it hides.
    open_eye, droopy = render(30, occlusion=0.1), render(30, occlusion=0.7)
    top = disc(open_eye, 0.5, 0.95) & (np.mgrid[0:HEIGHT, 0:WIDTH][0] < open_eye.iris_y - 40)
    assert pixels(droopy)[top].mean() > pixels(open_eye)[top].mean() + 15


def test_blur_lowers_sharpness_and_focus() -> None:
    sharp, soft, blurred = (render(31, blur=blur) for blur in (0.4, 1.5, 4.0))
    assert sharpness(sharp) > 1.5 * sharpness(soft) > 1.5 * sharpness(blurred)
    assert sharp.scores.focus > soft.scores.focus > blurred.scores.focus
    assert [focus_score(b) for b in (0.0, 0.6, 2.0, 3.6)] == [100, 96, 61, 20]


def test_good_captures_score_above_the_station_threshold_and_poor_ones_below() -> None:
    good, poor = [], []
    for n in range(12):
        rng = np.random.default_rng(n)
        identity = IrisIdentity(100 + n, LEFT if n % 2 else RIGHT)
        good.append(render_eye(identity, EyeConditions.good(rng), n))
        poor.append(render_eye(identity, EyeConditions.poor(rng), n))
    assert min(eye.scores.total for eye in good) >= 65  # the station's iris threshold is 60
    assert max(eye.scores.total for eye in poor) < 40  # the camera's lowest bar
    # ... and the pixels differ the same way: poor ones are blurred or mostly covered.
    for good_eye, poor_eye in zip(good, poor, strict=True):
        assert sharpness(poor_eye) < 0.6 * sharpness(good_eye) or poor_eye.occluded > 0.55


def test_scores_combine_as_documented() -> None:
    assert scores(0.85, 0.6, 0.75) == scores(0.85, 0.6, 0.75)
    result = scores(0.85, 0.6, 0.75)
    assert (result.usable_area, result.focus, result.contrast) == (85, 96, 75)
    assert result.total == round(85 * 96 / 100 * (0.8 + 0.2 * 0.75))
    assert scores(0.0, 0.6, 0.75).total == 0


def test_a_closed_eye_is_not_rendered_and_bad_conditions_are_refused() -> None:
    with pytest.raises(ValueError, match="closed"):
        render_eye(IrisIdentity(1, LEFT), EyeConditions(open=False), 1)
    with pytest.raises(ValueError):
        EyeConditions(occlusion=0.99)
    with pytest.raises(ValueError):
        EyeConditions(blur=-1)
