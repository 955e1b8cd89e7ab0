"""What the station's image quality measures (ewp-fq-1, ewp-iq-1) share: the ramps that turn a
measurement into a component in 0..1, the weighted geometric mean that makes the score, the
advice for the weakest components, and a fast box mean over an image (docs/quality.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear between."""
    return min(1.0, max(0.0, (value - low) / (high - low)))


def ramped(
    measured: Mapping[str, float], ramps: Mapping[str, tuple[float, float]]
) -> dict[str, float]:
    """Each measurement ramped between its anchors."""
    return {name: ramp(value, *ramps[name]) for name, value in measured.items()}


def weighted_score(components: Mapping[str, float], weights: Mapping[str, float]) -> int:
    """The weighted geometric mean of the components, times 100, in 0..100.

    A geometric mean, so that one component near 0 (no iris visible, no ridges) sinks the
    score whatever the others are.
    """
    log_score = sum(w * math.log(max(components[name], 1e-6)) for name, w in weights.items())
    score = round(100 * math.exp(log_score / sum(weights.values())))
    return max(0, min(100, score))


def weakest_advice(
    components: Mapping[str, float], advice: Mapping[str, str], score: int, threshold: int
) -> list[str]:
    """What to tell the operator when ``score`` is under ``threshold``: weakest first.

    Every component under 0.75, or the weakest one when none is.
    """
    if score >= threshold:
        return []
    weak = sorted((value, name) for name, value in components.items() if value < 0.75)
    if not weak:
        weak = [min((value, name) for name, value in components.items())]
    return [advice[name] for _, name in weak]


def box_mean(image: FloatArray, radius: int) -> FloatArray:
    """Mean over a (2r+1)^2 window with edge clamping (cumulative sums: cost independent of r)."""
    k = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge")
    summed = np.cumsum(padded, axis=0)
    rows = np.empty((image.shape[0], padded.shape[1]))
    rows[0] = summed[k - 1]
    rows[1:] = summed[k:] - summed[:-k]
    summed = np.cumsum(rows, axis=1)
    out = np.empty(image.shape)
    out[:, 0] = summed[:, k - 1]
    out[:, 1:] = summed[:, k:] - summed[:, :-k]
    result: FloatArray = out / (k * k)
    return result
