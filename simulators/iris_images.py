"""Synthetic near-infrared eye images for the simulated iris camera (numpy only).

Each simulated eye (person id + left/right + seed) has an **iris pattern**, generated once and
cached, on the rubber-sheet grid of Daugman's model (normalised radius 0 at the pupil, 1 at the
limbus, by angle):

* radial fibres: noise stretched along the radius, with a fine texture across it;
* crypts: dark lens-shaped pits, more of them near the collarette;
* the collarette: a wavy ring at about a third of the way out, between the pupillary zone
  (darker) and the ciliary zone;
* contraction furrows: broken concentric dark arcs in the outer zone;
* a darker limbus ring.

Each **capture** renders the eye from that pattern with the conditions of the moment, all
drawn from the capture seed except what the tester sets: the pupil's dilation, a small gaze
and distance change, the eyelids placed so that they cover a set share of the iris
(``occlusion``), upper and lower lashes, the two specular reflections of the camera's NIR
LEDs, a Gaussian defocus (``blur``, sigma in pixels) and sensor noise. The image is 640 x 480,
8 bits a pixel: dark pupil, mid-grey textured iris, bright sclera, skin around it.

The camera's quality figures come from the same render (the renderer knows its masks):
*usable area* is the share of the iris annulus not covered by eyelids, lashes or reflections;
*focus* falls with the defocus sigma; *pupil-iris contrast* compares their mean levels; the
*total score* combines them (see :func:`scores`). So a good capture and a poor one differ both
in their pixels and in their scores.
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.image_synthesis import (
    FloatArray,
    SeededIdentity,
    gaussian_blur,
    smooth_noise,
    to_pixels,
)

WIDTH = 640
HEIGHT = 480

_RADIAL = 64  # rubber-sheet samples from pupil to limbus
_ANGULAR = 512  # samples around the eye


class EyeSide(enum.Enum):
    LEFT = "left"
    RIGHT = "right"


@dataclass(frozen=True)
class IrisIdentity(SeededIdentity):
    """One simulated eye: whose, which side, and the simulator's seed."""

    person: int
    side: EyeSide
    seed: int = 0

    def key(self) -> str:
        return f"ewp-sim-iris:{self.seed}:{self.person}:{self.side.value}"


@dataclass(frozen=True)
class EyeConditions:
    """What a tester (or the scripted applicant) sets for one eye in front of the camera.

    ``occlusion`` is the share of the iris the eyelids cover (0..0.95); ``blur`` the defocus,
    a Gaussian sigma in pixels (0 sharp, 1 slightly soft, 3 and more out of focus).
    """

    open: bool = True
    occlusion: float = 0.1
    blur: float = 0.6

    def __post_init__(self) -> None:
        if not 0.0 <= self.occlusion <= 0.95:
            raise ValueError(f"occlusion must be 0..0.95, got {self.occlusion}")
        if not 0.0 <= self.blur <= 12.0:
            raise ValueError(f"blur must be 0..12 pixels, got {self.blur}")

    @classmethod
    def good(cls, rng: np.random.Generator) -> EyeConditions:
        return cls(
            occlusion=float(rng.uniform(0.04, 0.16)),
            blur=float(rng.uniform(0.3, 0.9)),
        )

    @classmethod
    def poor(cls, rng: np.random.Generator) -> EyeConditions:
        """A drooping eyelid, a defocused eye, or both."""
        kind = int(rng.integers(3))
        occlusion = float(rng.uniform(0.62, 0.8)) if kind in (0, 2) else 0.15
        blur = float(rng.uniform(3.2, 4.5)) if kind in (1, 2) else 0.8
        return cls(occlusion=occlusion, blur=blur)

    def describe(self) -> dict[str, object]:
        return {
            "open": self.open,
            "occlusion": round(self.occlusion, 3),
            "blur": round(self.blur, 2),
        }


@dataclass(frozen=True)
class IrisScores:
    total: int
    usable_area: int
    focus: int
    contrast: int


@dataclass(frozen=True)
class RenderedEye:
    """One capture of one eye: the pixels and what the camera measures of them."""

    pixels: bytes
    iris_x: int
    iris_y: int
    iris_radius: int
    pupil_radius: int
    scores: IrisScores
    occluded: float  # share of the iris covered by the eyelids, as rendered


# --- the iris pattern ----------------------------------------------------------------------


def _smooth_periodic(noise: FloatArray, sigma_r: float, sigma_a: float) -> FloatArray:
    """Gaussian smoothing on the rubber-sheet grid: periodic around, reflected along."""
    padded = np.concatenate([noise[::-1], noise, noise[::-1]], axis=0)
    fr = np.fft.fftfreq(padded.shape[0])[:, None]
    fa = np.fft.rfftfreq(padded.shape[1])[None, :]
    transfer = np.exp(-2 * math.pi**2 * ((sigma_r * fr) ** 2 + (sigma_a * fa) ** 2))
    smoothed = np.fft.irfft2(np.fft.rfft2(padded) * transfer, s=padded.shape)
    result: FloatArray = smoothed[noise.shape[0] : 2 * noise.shape[0]]
    return result


def _normalise(values: FloatArray) -> FloatArray:
    std = float(values.std()) or 1.0
    result: FloatArray = (values - values.mean()) / std
    return result


@functools.lru_cache(maxsize=64)
def iris_pattern(identity: IrisIdentity) -> NDArray[np.float32]:
    """The eye's iris texture on the rubber-sheet grid (``_RADIAL`` x ``_ANGULAR``), 0..1."""
    rng = identity.rng("pattern")
    rho = np.linspace(0.0, 1.0, _RADIAL)[:, None]
    theta = np.linspace(0.0, 2 * math.pi, _ANGULAR, endpoint=False)[None, :]

    fibres = _normalise(_smooth_periodic(rng.standard_normal((_RADIAL, _ANGULAR)), 6.0, 0.9))
    fine = _normalise(_smooth_periodic(rng.standard_normal((_RADIAL, _ANGULAR)), 1.2, 1.2))
    texture = 0.55 * fibres + 0.2 * fine

    # The collarette: a wavy ring between the pupillary and the ciliary zone.
    collarette = float(rng.uniform(0.26, 0.38))
    waves = np.zeros_like(theta)
    for _ in range(4):
        k = int(rng.integers(5, 14))
        waves = waves + float(rng.uniform(0.01, 0.03)) * np.sin(k * theta + rng.uniform(0, 6.3))
    ring = collarette + waves
    texture = texture + 0.9 * np.exp(-(((rho - ring) / 0.035) ** 2))
    texture = texture - 0.35 * (rho < ring)  # the pupillary zone is darker

    # Crypts: dark pits, elongated along the radius, mostly just outside the collarette.
    for _ in range(int(rng.integers(10, 24))):
        centre_r = float(np.clip(collarette + abs(rng.normal(0.12, 0.15)), 0.1, 0.9))
        centre_a = float(rng.uniform(0, 2 * math.pi))
        size_r = float(rng.uniform(0.04, 0.1))
        size_a = float(rng.uniform(0.03, 0.09))
        delta = np.angle(np.exp(1j * (theta - centre_a)))
        texture = texture - float(rng.uniform(0.8, 1.6)) * np.exp(
            -(((rho - centre_r) / size_r) ** 2) - (delta / size_a) ** 2
        )

    # Contraction furrows: broken concentric arcs in the outer zone.
    for _ in range(int(rng.integers(2, 5))):
        radius = float(rng.uniform(0.6, 0.9))
        arc = np.clip(np.sin(theta * float(rng.uniform(1, 3)) + rng.uniform(0, 6.3)), 0, 1)
        texture = texture - 0.7 * arc * np.exp(-(((rho - radius) / 0.02) ** 2))

    texture = texture - 0.8 * np.clip((rho - 0.86) / 0.14, 0, 1) ** 2  # the limbus
    low, high = np.percentile(texture, [1, 99])
    pattern = np.clip((texture - low) / (high - low), 0.0, 1.0)
    result: NDArray[np.float32] = pattern.astype(np.float32)
    return result


@dataclass(frozen=True)
class _EyeShape:
    """What stays the same for an eye from capture to capture (drawn from its identity)."""

    iris_radius: float
    pupil_offset: tuple[float, float]
    brightness: float  # the iris's mean grey level under NIR
    lower_lid: float  # the lower lid's height below the iris centre, in iris radii
    eye_width: float  # corner to corner, in iris radii
    lashes: int


@functools.lru_cache(maxsize=64)
def _eye_shape(identity: IrisIdentity) -> _EyeShape:
    rng = identity.rng("shape")
    return _EyeShape(
        iris_radius=float(rng.uniform(108, 124)),
        pupil_offset=(float(rng.uniform(-4, 4)), float(rng.uniform(-3, 3))),
        brightness=float(rng.uniform(95, 135)),
        lower_lid=float(rng.uniform(0.88, 1.02)),
        eye_width=float(rng.uniform(2.7, 3.0)),
        lashes=int(rng.integers(90, 140)),
    )


# --- rendering -----------------------------------------------------------------------------

_GRID: tuple[FloatArray, FloatArray] = tuple(np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64))
# The camera's illumination falls off towards the corners.
_VIGNETTE: FloatArray = (
    1.0 - 0.18 * (np.hypot(_GRID[1] - WIDTH / 2, _GRID[0] - HEIGHT / 2) / (WIDTH / 2)) ** 2
)


def _lid_curves(
    xs: FloatArray, cx: float, cy: float, half_width: float, upper: float, lower: float
) -> tuple[FloatArray, FloatArray]:
    """The upper and lower eyelid edges (y of each column): parabolas through the corners."""
    shape = np.clip(1.0 - ((xs - cx) / half_width) ** 2, 0.0, None)
    result: tuple[FloatArray, FloatArray] = (cy - upper * shape, cy + lower * shape)
    return result


def _covered_share(
    iris: NDArray[np.bool_], xs: FloatArray, ys: FloatArray, cx: float, cy: float,
    half_width: float, upper: float, lower: float,
) -> float:  # fmt: skip
    top, bottom = _lid_curves(xs, cx, cy, half_width, upper, lower)
    visible = iris & (ys > top) & (ys < bottom)
    return 1.0 - float(visible.sum()) / max(1, int(iris.sum()))


def _upper_lid_for(
    occlusion: float, iris_r: float, pupil_r: float, cx: float, cy: float,
    half_width: float, lower: float,
) -> float:  # fmt: skip
    """The upper lid's height above the centre that makes the lids cover ``occlusion``."""
    step = 3.0  # a coarse grid is enough to place the lid
    ys, xs = np.mgrid[cy - iris_r : cy + iris_r : step, cx - iris_r : cx + iris_r : step].astype(
        np.float64
    )
    distance = np.hypot(xs - cx, ys - cy)
    iris = (distance <= iris_r) & (distance >= pupil_r)
    low, high = -iris_r, 1.2 * iris_r  # from closed to as wide open as eyes go
    if _covered_share(iris, xs, ys, cx, cy, half_width, high, lower) >= occlusion:
        return high
    for _ in range(20):
        middle = (low + high) / 2
        if _covered_share(iris, xs, ys, cx, cy, half_width, middle, lower) > occlusion:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _lashes(
    rng: np.random.Generator, count: int, cx: float, cy: float, half_width: float,
    upper: float, lower: float, side: EyeSide,
) -> FloatArray:  # fmt: skip
    """Darkness 0..1 of the lashes: curved strokes from the lid edges, outwards and away."""
    darkness = np.zeros((HEIGHT, WIDTH))
    outward = -1.0 if side is EyeSide.RIGHT else 1.0  # the temporal corner
    for lid, number, below, length, curl in (
        (upper, count, False, (18.0, 38.0), (0.2, 0.6)),
        (lower, count // 4, True, (7.0, 14.0), (-0.3, 0.0)),
    ):
        roots = rng.uniform(-0.92, 0.92, size=number)
        for root in roots:
            x0 = cx + root * half_width
            shape = 1.0 - root**2
            y0 = cy + lid * shape if below else cy - lid * shape
            size = float(rng.uniform(*length))
            tilt = 0.35 * root + 0.15 * outward + float(rng.normal(0, 0.12))
            bend = float(rng.uniform(*curl))
            t = np.linspace(0.0, 1.0, int(size * 1.5))
            # Both rows grow downwards: the upper lashes over the eye, curling up at the tip;
            # the lower ones over the cheek.
            px = x0 + size * t * math.sin(tilt)
            py = y0 + size * (t * math.cos(tilt) - bend * t**2)
            strength = float(rng.uniform(0.55, 0.95))
            for dx, dy in ((0, 0), (1, 0), (0, 1)):
                xi = np.clip(np.round(px).astype(np.int64) + dx, 0, WIDTH - 1)
                yi = np.clip(np.round(py).astype(np.int64) + dy, 0, HEIGHT - 1)
                darkness[yi, xi] = np.maximum(darkness[yi, xi], strength * (1.0 - 0.5 * t))
    return darkness


def focus_score(blur: float) -> int:
    """Sharpness 0..100 from the defocus sigma: 96 at 0.6 px, 61 at 2 px, 20 at 3.6 px."""
    return round(100 * math.exp(-(blur**2) / (2 * 2.0**2)))


def scores(usable_area: float, blur: float, contrast: float) -> IrisScores:
    """The camera's scores: total = usable area x focus x (0.8 + 0.2 x contrast), all 0..100.

    An iris half covered by the eyelids or out of focus cannot score well whatever else it
    has; contrast weighs less (a camera's own illumination keeps it in a narrow range).
    """
    focus = focus_score(blur)
    usable = round(100 * usable_area)
    contrast_score = round(100 * contrast)
    total = round(usable * focus / 100 * (0.8 + 0.2 * contrast_score / 100))
    return IrisScores(
        total=max(0, min(100, total)),
        usable_area=max(0, min(100, usable)),
        focus=max(0, min(100, focus)),
        contrast=max(0, min(100, contrast_score)),
    )


def render_eye(identity: IrisIdentity, conditions: EyeConditions, seed: int) -> RenderedEye:
    """One capture of ``identity`` under ``conditions``: HEIGHT rows of WIDTH 8-bit pixels."""
    if not conditions.open:
        raise ValueError("a closed eye has no iris to render")
    shape = _eye_shape(identity)
    pattern = iris_pattern(identity)
    rng = np.random.default_rng(seed)

    scale = float(rng.uniform(0.96, 1.04))  # distance to the camera
    iris_r = shape.iris_radius * scale
    pupil_r = iris_r * float(rng.uniform(0.3, 0.48))  # dilation of the moment
    cx = WIDTH / 2 + float(rng.uniform(-18, 18))
    cy = HEIGHT / 2 + float(rng.uniform(-12, 12))
    px, py = cx + shape.pupil_offset[0], cy + shape.pupil_offset[1]
    half_width = shape.eye_width * iris_r / 2
    lower = shape.lower_lid * iris_r
    upper = _upper_lid_for(conditions.occlusion, iris_r, pupil_r, cx, cy, half_width, lower)

    ys, xs = _GRID
    # Rubber sheet: angle about the pupil centre; radius between the pupil and the limbus.
    dx, dy = xs - px, ys - py
    distance = np.hypot(dx, dy)
    theta = np.mod(np.arctan2(dy, dx), 2 * math.pi)
    ux, uy = dx / np.maximum(distance, 1e-9), dy / np.maximum(distance, 1e-9)
    ox, oy = cx - px, cy - py
    along = ux * ox + uy * oy
    limbus = along + np.sqrt(np.maximum(along**2 - (ox**2 + oy**2) + iris_r**2, 0.0))
    rho = (distance - pupil_r) / np.maximum(limbus - pupil_r, 1e-9)
    iris = (rho >= 0.0) & (rho <= 1.0)
    pupil = rho < 0.0

    # Sample the pattern (bilinear in rho, nearest in angle is enough at this size).
    r_index = np.clip(rho, 0.0, 1.0) * (_RADIAL - 1)
    r0 = np.floor(r_index).astype(np.int64)
    r1 = np.minimum(r0 + 1, _RADIAL - 1)
    a_index = (theta / (2 * math.pi) * _ANGULAR).astype(np.int64) % _ANGULAR
    fraction = r_index - r0
    texture = pattern[r0, a_index] * (1 - fraction) + pattern[r1, a_index] * fraction

    skin = 150.0 + 35.0 * smooth_noise(rng, HEIGHT, WIDTH, 60)
    skin += 8.0 * smooth_noise(rng, HEIGHT, WIDTH, 9)
    sclera = 188.0 + 10.0 * smooth_noise(rng, HEIGHT, WIDTH, 40)
    iris_level = shape.brightness * (0.55 + 0.9 * texture)
    pupil_level = 14.0 + 4.0 * smooth_noise(rng, HEIGHT, WIDTH, 30)
    edge = np.clip((rho - 1.0) / 0.03, 0.0, 1.0)  # a soft limbus
    eyeball = np.where(pupil, pupil_level, iris_level * (1 - edge) + sclera * edge)
    eyeball = np.where(rho > 1.0, sclera, eyeball)

    top, bottom = _lid_curves(xs[0], cx, cy, half_width, upper, lower)
    soft = 2.0
    opening = np.clip((ys - top) / soft, 0, 1) * np.clip((bottom - ys) / soft, 0, 1)
    lid_shadow = 1.0 - 0.25 * np.exp(-np.clip(ys - top, 0, None) / 6.0)  # under the upper lid
    image = skin * (1 - opening) + eyeball * lid_shadow * opening
    image -= 25.0 * np.exp(-(((ys - top) / 3.0) ** 2)) * (np.abs(xs - cx) < half_width)

    lashes = _lashes(rng, shape.lashes, cx, cy, half_width, upper, lower, identity.side)
    image = image * (1 - 0.8 * lashes)

    # The camera's two NIR LEDs reflect on the cornea, near the pupil.
    glints = np.zeros((HEIGHT, WIDTH), dtype=bool)
    spread = float(rng.uniform(0.25, 0.5)) * pupil_r
    for sign in (-1.0, 1.0):
        gx = px + sign * spread + float(rng.normal(0, 2))
        gy = py - 0.2 * pupil_r + float(rng.normal(0, 2))
        radius = float(rng.uniform(4, 7))
        # Only the few pixels around the glint are touched.
        x_lo, x_hi = max(0, int(gx - radius - 2)), min(WIDTH, int(gx + radius + 3))
        y_lo, y_hi = max(0, int(gy - radius - 2)), min(HEIGHT, int(gy + radius + 3))
        window = np.s_[y_lo:y_hi, x_lo:x_hi]
        spot = np.hypot(xs[window] - gx, ys[window] - gy)
        glint = 255.0 * np.clip((radius + 1.0 - spot) / 1.5, 0, 1) * opening[window]
        image[window] = np.maximum(image[window], glint)
        glints[window] |= (spot <= radius) & (opening[window] > 0.5)

    # What the camera measures, before defocus and noise.
    in_opening = opening > 0.5
    visible = iris & in_opening
    usable = visible & (lashes < 0.2) & ~glints
    annulus = int(iris.sum())
    occluded = 1.0 - float(visible.sum()) / max(1, annulus)
    usable_area = float(usable.sum()) / max(1, annulus)
    iris_mean = float(image[usable].mean()) if usable.any() else 0.0
    pupil_seen = pupil & in_opening & ~glints
    pupil_mean = float(image[pupil_seen].mean()) if pupil_seen.any() else iris_mean
    contrast = (iris_mean - pupil_mean) / (iris_mean + pupil_mean) if iris_mean > 0 else 0.0

    image = gaussian_blur(image, conditions.blur)
    image = image * _VIGNETTE + rng.normal(0.0, 2.5, size=image.shape)
    pixels = to_pixels(image)
    return RenderedEye(
        pixels=pixels,
        iris_x=round(cx),
        iris_y=round(cy),
        iris_radius=round(iris_r),
        pupil_radius=round(pupil_r),
        scores=scores(usable_area, conditions.blur, max(0.0, contrast)),
        occluded=occluded,
    )
