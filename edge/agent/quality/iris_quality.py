"""ewp-iq-1: our iris image quality score, 0-100, in the spirit of ISO/IEC 29794-6 (numpy only).

ISO/IEC 29794-6 lists the iris image properties that predict recognition performance; this is
an open measure of our own built from the main ones, not a certified implementation of that
standard. Steps, on an 8-bit near-infrared eye image (640x480 from the iris camera):

1. **Localisation.** Specular reflections (saturated pixels) are filled in; the pupil is found
   as the darkest spot of a heavily smoothed, 4x reduced image (lashes are thin and vanish in
   the smoothing, the pupil does not); its boundary is the strongest dark-to-bright step along
   32 rays from there, refined twice (centre = mean of the boundary points, radius = their
   median distance). The limbus (iris-sclera boundary) is the strongest dark-to-bright step
   along rays in the two lateral sectors (+-40 degrees around horizontal), which the eyelids
   rarely cover. Iris and pupil are taken as concentric.
2. **Components** (each ramped to 0..1, anchors in ``RAMPS``):
   * usable iris area: share of the iris annulus that is visible iris (grey level within the
     iris's own range, measured in the lateral sectors; not a reflection; inside the image);
     eyelids, skin, lashes and reflections count as occluded;
   * sharpness: power of Daugman's 8x8 focus kernel (-1 around, +3 in the central 4x4) over
     the iris region, normalised as ``p^2 / (p^2 + c^2)``;
   * pupil-iris and iris-sclera contrast: ``(brighter - darker) / (brighter + darker)`` of the
     median grey levels on each side of the boundary;
   * pupil dilation: pupil radius / iris radius, good between 0.2 and 0.6;
   * margins: room around the iris (0.6 iris radius left and right, 0.2 above and below);
   * iris diameter in pixels (ISO 29794-6 asks for at least 150, better 200).
3. **Score**: weighted geometric mean of the components times 100.

See docs/quality.md for anchors, weights, thresholds and honest limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from edge.agent.quality.scoring import box_mean, ramp, ramped, weakest_advice, weighted_score

ALGORITHM = "ewp-iq-1"
SATURATED = 235  # grey level at and above which a pixel is taken as a specular reflection
_RAYS = 32
_FOCUS_C = 80000.0  # Daugman's normalisation constant, fitted to 640x480 NIR eye images

RAMPS: dict[str, tuple[float, float]] = {
    "usable_area": (0.50, 0.80),
    "sharpness": (0.05, 0.60),
    "pupil_iris_contrast": (0.05, 0.30),
    "iris_sclera_contrast": (0.02, 0.12),
    "iris_diameter": (100.0, 170.0),
}
WEIGHTS: dict[str, float] = {
    "usable_area": 0.30,
    "sharpness": 0.25,
    "pupil_iris_contrast": 0.10,
    "iris_sclera_contrast": 0.10,
    "dilation": 0.10,
    "margin": 0.075,
    "iris_diameter": 0.075,
}

_ADVICE = {
    "usable_area": "too little iris visible (eyelids, lashes or glare): ask to open the eye wide",
    "sharpness": "image blurred: hold the camera at the right distance and still",
    "pupil_iris_contrast": "pupil edge unclear: check the lighting, shade the eye",
    "iris_sclera_contrast": "iris edge unclear: check the lighting, look straight at the camera",
    "dilation": "pupil too large or too small: avoid bright light or darkness around the eye",
    "margin": "eye not centred: move the camera so the eye is in the middle",
    "iris_diameter": "eye too far away: bring the camera closer",
    "localisation": "no eye found: point the camera at the eye and look into it",
}

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class IrisLocation:
    """Pupil and iris circles in image pixels (x to the right, y down)."""

    centre_x: float
    centre_y: float
    pupil_radius: float
    iris_radius: float


@dataclass(frozen=True)
class IrisQuality:
    """A score with the measurements behind it, so the operator can be told why."""

    score: int  # 0..100
    usable_area: float  # 0..1 of the iris annulus
    sharpness: float  # 0..1
    pupil_iris_contrast: float
    iris_sclera_contrast: float
    dilation: float  # pupil radius / iris radius
    margin: float  # 0..1, 1 when the margins ISO 29794-6 asks for are all there
    iris_diameter: float  # pixels
    location: IrisLocation | None
    components: dict[str, float] = field(default_factory=dict)  # each ramped to 0..1
    algorithm: str = ALGORITHM

    def reasons(self, threshold: int = 60) -> list[str]:
        """What to tell the operator when the score is under ``threshold``: weakest first."""
        if self.location is None:
            return [_ADVICE["localisation"]]
        return weakest_advice(self.components, _ADVICE, self.score, threshold)


def _sample(image: FloatArray, xs: FloatArray, ys: FloatArray) -> FloatArray:
    """Nearest-pixel samples; points outside the image get NaN."""
    h, w = image.shape
    xi = np.round(xs).astype(np.int64)
    yi = np.round(ys).astype(np.int64)
    inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
    out = np.full(xs.shape, np.nan)
    out[inside] = image[yi[inside], xi[inside]]
    return out


def _edge_radii(
    image: FloatArray,
    cx: float,
    cy: float,
    angles: FloatArray,
    r_min: float,
    r_max: float,
    *,
    first: bool = False,
) -> FloatArray:
    """For each ray, the radius of the strongest dark-to-bright step between r_min and r_max.

    With ``first``, the first step at least half as strong as the ray's strongest one: from
    inside the pupil, the pupil edge comes before the (often stronger) limbus and lid edges.
    """
    radii = np.arange(r_min, r_max, 1.0)
    if radii.size < 4:
        return np.full(angles.shape, np.nan)
    xs = cx + np.cos(angles)[:, None] * radii[None, :]
    ys = cy + np.sin(angles)[:, None] * radii[None, :]
    profiles = _sample(image, xs, ys)
    # Step over 3 pixels: robust to the iris texture's single-pixel detail.
    step = profiles[:, 3:] - profiles[:, :-3]
    step = np.where(np.isnan(step), -np.inf, step)
    if first:
        strongest = np.max(step, axis=1, keepdims=True)
        strong = (step >= 0.5 * strongest) & np.isfinite(step) & (strongest > 0)
        best = np.argmax(strong, axis=1)
    else:
        best = np.argmax(step, axis=1)
    found = np.isfinite(step[np.arange(len(angles)), best])
    result: FloatArray = np.where(found, radii[best] + 1.5, np.nan)
    return result


def _fit_circle(xs: FloatArray, ys: FloatArray) -> tuple[float, float, float] | None:
    """Least-squares circle through boundary points, refitted without the outliers (rays that
    met a lid, a lash or a reflection instead of the pupil edge)."""
    keep = np.ones(xs.shape, dtype=bool)
    result: tuple[float, float, float] | None = None
    for attempt in range(4):
        if keep.sum() < _RAYS // 3:
            return None
        x, y = xs[keep], ys[keep]
        design = np.column_stack([x, y, np.ones_like(x)])
        solution, *_ = np.linalg.lstsq(design, -(x * x + y * y), rcond=None)
        d, e, f = (float(v) for v in solution)
        cx, cy = -d / 2, -e / 2
        r_squared = cx * cx + cy * cy - f
        if r_squared <= 0:
            return None
        radius = math.sqrt(r_squared)
        result = (cx, cy, radius)
        residual = np.abs(np.hypot(xs - cx, ys - cy) - radius)
        # Outliers pull a least-squares fit towards them: first keep the best 70 % of the
        # points whatever they are, then those close to the circle fitted without the rest.
        if attempt < 2:
            keep = residual <= np.percentile(residual, 70)
        else:
            keep = residual <= 2.5 * float(np.median(residual)) + 1.0
    return result


def locate_iris(pixels: bytes, width: int, height: int) -> IrisLocation | None:
    """Pupil and limbus circles, or None when no plausible eye is found."""
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width).astype(np.float64)
    return _locate(image)


def _smoothed_window(
    image: FloatArray, cx: float, cy: float, reach: float, radius: int
) -> tuple[FloatArray, int, int]:
    """The box-smoothed part of ``image`` within ``reach`` of (cx, cy), and its origin."""
    height, width = image.shape
    top, left = max(0, int(cy - reach)), max(0, int(cx - reach))
    bottom, right = min(height, int(cy + reach) + 1), min(width, int(cx + reach) + 1)
    return box_mean(image[top:bottom, left:right], radius), left, top


def _locate(image: FloatArray) -> IrisLocation | None:
    height, width = image.shape
    small = image[: height // 4 * 4, : width // 4 * 4]
    small = small.reshape(height // 4, 4, width // 4, 4).mean(axis=(1, 3))
    dark_level = float(np.percentile(small, 1))
    # Reflections inside the pupil would make their own bright edges: fill them in.
    work = np.where(image >= SATURATED, dark_level, image)
    small = np.where(small >= SATURATED, dark_level, small)
    blurred = box_mean(small, 4)
    sy, sx = np.unravel_index(int(np.argmin(blurred)), blurred.shape)
    cx, cy = float(sx * 4 + 1.5), float(sy * 4 + 1.5)
    angles = np.linspace(0, 2 * math.pi, _RAYS, endpoint=False)
    max_pupil = min(width, height) / 4
    # Rays stay in this window around the seed (refits move the centre a little): smooth
    # only there.
    smooth, x0, y0 = _smoothed_window(work, cx, cy, 1.5 * max_pupil + 10, 1)
    fitted: tuple[float, float, float] | None = None
    for _ in range(2):
        radii = _edge_radii(smooth, cx - x0, cy - y0, angles, 6.0, max_pupil, first=True)
        found = ~np.isnan(radii)
        fitted = _fit_circle(
            cx + np.cos(angles[found]) * radii[found], cy + np.sin(angles[found]) * radii[found]
        )
        if fitted is None:
            return None
        cx, cy, _ = fitted
    if fitted is None:
        return None
    pupil_r = fitted[2]
    lateral = np.concatenate(
        [np.linspace(-0.7, 0.7, 12), np.linspace(math.pi - 0.7, math.pi + 0.7, 12)]
    )
    r_lo = max(1.3 * pupil_r, pupil_r + 8)
    r_hi = min(5.0 * pupil_r, max(width, height) / 2)
    coarse, x0, y0 = _smoothed_window(work, cx, cy, r_hi + 5, 3)
    limbus = _edge_radii(coarse, cx - x0, cy - y0, lateral, r_lo, r_hi)
    if np.isnan(limbus).all():
        return None
    iris_r = float(np.nanmedian(limbus))
    if not pupil_r < iris_r:
        return None
    return IrisLocation(cx, cy, pupil_r, iris_r)


def _focus_power(image: FloatArray, box: tuple[int, int, int, int]) -> float:
    """Mean power of Daugman's 8x8 focus kernel, sampled every 4 pixels over ``box``."""
    top, bottom, left, right = box
    region = image[top:bottom, left:right]
    if region.shape[0] < 8 or region.shape[1] < 8:
        return 0.0
    summed = np.zeros((region.shape[0] + 1, region.shape[1] + 1))
    summed[1:, 1:] = region.cumsum(0).cumsum(1)

    def box_sum(y0: NDArray[np.int64], x0: NDArray[np.int64], size: int) -> FloatArray:
        result: FloatArray = (
            summed[y0 + size, x0 + size]
            - summed[y0, x0 + size]
            - summed[y0 + size, x0]
            + summed[y0, x0]
        )
        return result

    ys = np.arange(0, region.shape[0] - 8, 4)[:, None]
    xs = np.arange(0, region.shape[1] - 8, 4)[None, :]
    response = 4.0 * box_sum(ys + 2, xs + 2, 4) - box_sum(ys, xs, 8)
    return float(np.mean(response * response))


def iris_quality(pixels: bytes, width: int, height: int) -> IrisQuality:
    """Score an 8-bit near-infrared eye image of ``width`` x ``height``."""
    if len(pixels) != width * height:
        raise ValueError(f"{len(pixels)} bytes do not make a {width}x{height} image")
    if width < 64 or height < 64:
        raise ValueError(f"a {width}x{height} image is too small to score (at least 64x64)")
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(height, width).astype(np.float64)
    location = _locate(image)
    if location is None:
        return IrisQuality(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, {})
    cx, cy = location.centre_x, location.centre_y
    rp, ri = location.pupil_radius, location.iris_radius

    # Everything below happens near the iris: work on its neighbourhood only.
    reach = ri + 22
    top, left = max(0, int(cy - reach)), max(0, int(cx - reach))
    bottom, right = min(height, int(cy + reach) + 1), min(width, int(cx + reach) + 1)
    full_height, full_width = height, width
    image = image[top:bottom, left:right]
    cx, cy = cx - left, cy - top
    height, width = image.shape
    ys, xs = np.mgrid[0:height, 0:width]
    dx = xs - cx
    dy = ys - cy
    radius = np.hypot(dx, dy)
    lateral = np.abs(dy) <= np.abs(dx) * math.tan(math.radians(30))
    pupil = radius < 0.8 * rp
    # The iris's own grey levels: a ring just outside the pupil, where lids rarely reach.
    inner_iris = (radius > rp + 3) & (radius < rp + 0.35 * (ri - rp))
    sclera = (radius > ri + 5) & (radius < ri + 20) & lateral
    unsaturated = image < SATURATED
    pupil_level = float(np.median(image[pupil & unsaturated])) if (pupil & unsaturated).any() else 0
    if not inner_iris.any():
        return IrisQuality(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, None, {})
    iris_values = image[inner_iris & unsaturated]
    iris_level = float(np.median(iris_values))
    sclera_level = float(np.median(image[sclera])) if sclera.any() else iris_level

    # Usable iris: inside the annulus, in the iris's own grey range, not a reflection.
    # Median absolute deviation: robust while lids or lashes cover less than half of the ring.
    mad = float(np.median(np.abs(iris_values - iris_level)))
    tolerance = min(max(3.0 * 1.4826 * mad, 20.0), 45.0)
    smoothed = box_mean(image, 1)
    annulus = (radius > rp * 1.05) & (radius < ri * 0.97)
    visible = (np.abs(smoothed - iris_level) <= tolerance) & unsaturated
    annulus_area = math.pi * ((ri * 0.97) ** 2 - (rp * 1.05) ** 2)
    usable_area = float((annulus & visible).sum()) / annulus_area if annulus_area > 0 else 0.0

    box = (
        max(0, int(cy - ri)),
        min(height, int(cy + ri) + 1),
        max(0, int(cx - ri)),
        min(width, int(cx + ri) + 1),
    )
    power = _focus_power(np.where(unsaturated, image, pupil_level), box)
    sharpness = power * power / (power * power + _FOCUS_C**2)

    pupil_iris = (iris_level - pupil_level) / (iris_level + pupil_level + 1e-9)
    iris_sclera = (sclera_level - iris_level) / (sclera_level + iris_level + 1e-9)
    dilation = rp / ri
    # Good between 0.2 and 0.6; falls to 0 at 0.1 and at 0.75.
    dilation_ok = min(ramp(dilation, 0.1, 0.2), 1.0 - ramp(dilation, 0.6, 0.75))
    x, y = location.centre_x, location.centre_y
    margins = (
        x / (1.6 * ri),  # left: iris radius plus 0.6 of it
        (full_width - x) / (1.6 * ri),
        y / (1.2 * ri),  # top: iris radius plus 0.2 of it
        (full_height - y) / (1.2 * ri),
    )
    margin = max(0.0, min(1.0, *margins))
    diameter = 2 * ri

    measured = {
        "usable_area": usable_area,
        "sharpness": sharpness,
        "pupil_iris_contrast": pupil_iris,
        "iris_sclera_contrast": iris_sclera,
        "iris_diameter": diameter,
    }
    components = ramped(measured, RAMPS)
    components["dilation"] = dilation_ok
    components["margin"] = margin
    return IrisQuality(
        score=weighted_score(components, WEIGHTS),
        usable_area=usable_area,
        sharpness=sharpness,
        pupil_iris_contrast=pupil_iris,
        iris_sclera_contrast=iris_sclera,
        dilation=dilation,
        margin=margin,
        iris_diameter=diameter,
        location=location,
        components=components,
    )
