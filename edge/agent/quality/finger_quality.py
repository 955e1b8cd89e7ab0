"""ewp-fq-1: our fingerprint image quality score, 0-100 (numpy only; NOT NFIQ 2).

NFIQ 2 is the reference fingerprint quality measure, but it is a C++ library with a trained
model and no Python package; this is an open, documented measure of our own, built from three
of the ideas NFIQ 2 also uses, computed block by block on the 500 ppi image:

* **foreground area**: how much of the image holds usable ridges. A block is foreground when
  its band-passed signal (the ridge frequency band: about 1/6 to 1/20 cycles a pixel at 500 ppi)
  is strong. Area is the foreground share of the image against what a well-placed fingertip
  covers on an R30x window (55 %).
* **orientation certainty**: in each foreground block, the coherence of the structure tensor of
  the gradients, ``(l1 - l2) / (l1 + l2)``: 1 for clean parallel ridges, 0 for no preferred
  direction (smudges, noise, broken ridges).
* **ridge clarity**: in each foreground block, how much of the signal is ridge structure rather
  than noise: the band-passed energy against the energy of the finest detail (single-pixel
  noise), ``band / (band + fine)``.

Each component is mapped to 0..1 by a linear ramp between a "useless" and a "good" anchor
(``RAMPS``), and the score is their weighted geometric mean times 100, so one bad component
pulls the score down however good the others are (a perfect ridge pattern on 10 % of the window
is still a bad print). See docs/quality.md for the anchors, the weights and the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edge.agent.quality.scoring import box_mean, ramped, weakest_advice, weighted_score

ALGORITHM = "ewp-fq-1"
BLOCK = 16  # pixels: about two ridge periods at 500 ppi
FULL_AREA = 0.55  # foreground share of a well-placed fingertip on a 256x288 window
FOREGROUND_SIGNAL = 9.0  # grey levels: band-passed standard deviation of a foreground block

# component -> (value scoring 0, value scoring 1)
RAMPS: dict[str, tuple[float, float]] = {
    "area": (0.10, FULL_AREA),
    "orientation_certainty": (0.30, 0.75),
    "ridge_clarity": (0.35, 0.80),
}
WEIGHTS: dict[str, float] = {"area": 0.3, "orientation_certainty": 0.35, "ridge_clarity": 0.35}

FloatArray = NDArray[np.float64]

_ADVICE = {
    "area": "too little finger on the glass: press the whole fingertip flat, in the middle",
    "orientation_certainty": "ridge flow unclear (smudged or moved): clean the glass, hold still",
    "ridge_clarity": "ridges faint or broken (dry, wet or light press): moisten or press firmer",
}


@dataclass(frozen=True)
class FingerQuality:
    """A score with the components behind it, so the operator can be told why."""

    score: int  # 0..100
    area: float  # 0..1, foreground share of the image
    orientation_certainty: float  # 0..1, mean over foreground blocks
    ridge_clarity: float  # 0..1, mean over foreground blocks
    components: dict[str, float] = field(default_factory=dict)  # each ramped to 0..1
    algorithm: str = ALGORITHM

    def reasons(self, threshold: int = 40) -> list[str]:
        """What to tell the operator when the score is under ``threshold``: weakest first."""
        return weakest_advice(self.components, _ADVICE, self.score, threshold)


def _blocks(values: FloatArray) -> FloatArray:
    """Sum of ``values`` over each BLOCK x BLOCK block (partial blocks at the edges dropped)."""
    rows, cols = values.shape[0] // BLOCK, values.shape[1] // BLOCK
    trimmed = values[: rows * BLOCK, : cols * BLOCK]
    result: FloatArray = trimmed.reshape(rows, BLOCK, cols, BLOCK).sum(axis=(1, 3))
    return result


def finger_quality(pixels: bytes, width: int, height: int) -> FingerQuality:
    """Score an 8-bit greyscale fingerprint image of ``width`` x ``height`` at 500 ppi."""
    if width < 2 * BLOCK or height < 2 * BLOCK:
        raise ValueError(f"a {width}x{height} image is too small to score (at least 32x32)")
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} bytes do not make a {width}x{height} image")
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width).astype(np.float64)

    # Band-pass: keep the ridge band, drop single-pixel noise and slow shading.
    fine_smooth = box_mean(image, 1)
    band = fine_smooth - box_mean(fine_smooth, 5)
    fine = image - fine_smooth
    area_px = BLOCK * BLOCK
    band_energy = _blocks(band * band) / area_px
    fine_energy = _blocks(fine * fine) / area_px
    foreground = band_energy > FOREGROUND_SIGNAL**2
    total_blocks = foreground.size

    # Structure tensor of the band-passed image, block by block.
    gx = np.zeros_like(band)
    gy = np.zeros_like(band)
    gx[:, 1:-1] = (band[:, 2:] - band[:, :-2]) / 2
    gy[1:-1, :] = (band[2:, :] - band[:-2, :]) / 2
    gxx = _blocks(gx * gx)
    gyy = _blocks(gy * gy)
    gxy = _blocks(gx * gy)
    trace = gxx + gyy
    spread = np.sqrt((gxx - gyy) ** 2 + 4 * gxy * gxy)
    coherence = np.where(trace > 0, spread / np.maximum(trace, 1e-9), 0.0)
    # Fine energy of a perfectly clean image still holds the ridge edges' own detail; the ratio
    # is near 0.9 for clean ridges and falls towards 0.3 as noise takes over.
    clarity = band_energy / (band_energy + 3.0 * fine_energy + 1e-9)

    area = float(foreground.sum()) / total_blocks
    if foreground.any():
        certainty = float(coherence[foreground].mean())
        ridge_clarity = float(clarity[foreground].mean())
    else:
        certainty = ridge_clarity = 0.0
    measured = {
        "area": area,
        "orientation_certainty": certainty,
        "ridge_clarity": ridge_clarity,
    }
    components = ramped(measured, RAMPS)
    return FingerQuality(
        score=weighted_score(components, WEIGHTS),
        area=area,
        orientation_certainty=certainty,
        ridge_clarity=ridge_clarity,
        components=components,
    )
