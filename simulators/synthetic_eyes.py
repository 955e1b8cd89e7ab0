"""Parametric near-infrared eye images for tests and benchmarks (numpy only).

A small, explicit generator: every property that an iris quality measure looks at is a
parameter, so a test can ask for "the same eye, blurred more" or "the same eye, half hidden by
the upper lid" and check the score moves the right way. It is not the iris camera simulator
(that one models a device and its protocol); it only draws pictures.

What is drawn, 640x480 8-bit like an IriShield-class camera:

* skin around the eye, brighter than the iris under NIR light, with a soft vignette;
* the sclera (bright), the iris (mid grey) with a radial-furrow and crypt texture drawn from
  the eye's seed, and the pupil (dark), as concentric discs around a configurable centre;
* an upper and a lower eyelid whose positions are solved so that the requested share of the
  iris disc is hidden, with dark lashes hanging from the upper lid;
* one or two specular reflections of the illuminator (saturated spots) in the pupil;
* defocus blur (Gaussian) and sensor noise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.image_synthesis import FloatArray, gaussian_blur, seeded_rng, to_pixels

WIDTH = 640
HEIGHT = 480


@dataclass(frozen=True)
class EyeScene:
    """Everything that decides one picture. Defaults give a good, open, sharp eye."""

    seed: int = 0
    centre_x: float = WIDTH / 2
    centre_y: float = HEIGHT / 2
    iris_radius: float = 115.0  # pixels: an iris about 230 px across, as ISO 29794-6 likes
    pupil_ratio: float = 0.4  # pupil radius / iris radius
    occlusion: float = 0.08  # share of the iris disc hidden by the eyelids (upper first)
    lashes: bool = True
    reflections: int = 2
    blur_sigma: float = 0.0  # pixels; 0 is a sharp image
    noise: float = 3.0  # grey levels (standard deviation)
    contrast: float = 1.0  # scales the grey-level differences between eye parts


def _rng(seed: int, purpose: str) -> np.random.Generator:
    return seeded_rng(f"ewp-synthetic-eye:{seed}:{purpose}".encode())


def _iris_texture(scene: EyeScene, radius: FloatArray, angle: FloatArray) -> FloatArray:
    """Radial furrows, a collarette ring and crypts: a zero-mean pattern about +-1."""
    rng = _rng(scene.seed, "texture")
    rho = (radius - scene.pupil_ratio * scene.iris_radius) / (
        (1 - scene.pupil_ratio) * scene.iris_radius
    )
    texture = np.zeros_like(radius)
    for _ in range(14):
        frequency = int(rng.integers(18, 90))
        phase = float(rng.uniform(0, 2 * math.pi))
        wobble = float(rng.uniform(0.5, 3.0))
        amplitude = float(rng.uniform(0.3, 1.0))
        texture += amplitude * np.sin(frequency * angle + wobble * np.sin(3 * rho) + phase)
    for _ in range(5):
        ring = float(rng.uniform(0.1, 0.95))
        width = float(rng.uniform(0.03, 0.08))
        texture += float(rng.uniform(-1.5, 1.5)) * np.exp(-((rho - ring) ** 2) / (2 * width**2))
    # Crypts: small dark lozenges scattered over the iris.
    for _ in range(40):
        r0 = float(rng.uniform(0.15, 0.9))
        a0 = float(rng.uniform(-math.pi, math.pi))
        da = np.angle(np.exp(1j * (angle - a0)))
        texture -= 2.0 * np.exp(-((rho - r0) ** 2) / 0.002 - da**2 / 0.004)
    texture -= texture.mean()
    scale = float(texture.std()) or 1.0
    result: FloatArray = np.clip(texture / scale, -2.5, 2.5) * 0.5
    return result


def _iris_box(scene: EyeScene) -> tuple[int, int, int, int]:
    """Top, bottom, left, right (exclusive) of the iris disc, clipped to the image."""
    r = scene.iris_radius + 2
    return (
        max(0, int(scene.centre_y - r)),
        min(HEIGHT, int(scene.centre_y + r) + 1),
        max(0, int(scene.centre_x - r)),
        min(WIDTH, int(scene.centre_x + r) + 1),
    )


def _lid_offset_for(scene: EyeScene, share: float, xs: FloatArray, ys: FloatArray) -> float:
    """How far above the centre the upper lid must sit to hide ``share`` of the iris disc."""
    inside = (xs - scene.centre_x) ** 2 + (ys - scene.centre_y) ** 2 <= scene.iris_radius**2
    total = float(inside.sum())
    low, high = -scene.iris_radius, 2.0 * scene.iris_radius
    for _ in range(30):
        middle = (low + high) / 2
        hidden = float((inside & _above_upper_lid(scene, middle, xs, ys)).sum()) / total
        if hidden > share:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _above_upper_lid(
    scene: EyeScene, offset: float, xs: FloatArray, ys: FloatArray
) -> NDArray[np.bool_]:
    """The upper lid is a downward-opening parabola ``offset`` pixels above the eye centre."""
    dx = (xs - scene.centre_x) / (2.4 * scene.iris_radius)
    lid_y = scene.centre_y - offset + 1.1 * scene.iris_radius * dx**2
    result: NDArray[np.bool_] = ys < lid_y
    return result


def _below_lower_lid(
    scene: EyeScene, offset: float, xs: FloatArray, ys: FloatArray
) -> NDArray[np.bool_]:
    dx = (xs - scene.centre_x) / (2.6 * scene.iris_radius)
    lid_y = scene.centre_y + offset - 0.9 * scene.iris_radius * dx**2
    result: NDArray[np.bool_] = ys > lid_y
    return result


def render_eye(scene: EyeScene) -> bytes:
    """The picture: HEIGHT rows of WIDTH 8-bit pixels, row by row."""
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    dx = xs - scene.centre_x
    dy = ys - scene.centre_y
    radius = np.hypot(dx, dy)
    angle = np.arctan2(dy, dx)
    pupil_radius = scene.pupil_ratio * scene.iris_radius
    c = scene.contrast

    skin = 150.0 + 15.0 * np.exp(-(dx**2 + dy**2) / (2 * (2.5 * scene.iris_radius) ** 2))
    image = skin
    # The eye opening: an almond around the iris; sclera inside it.
    opening = (dx / (2.4 * scene.iris_radius)) ** 2 + (dy / (1.25 * scene.iris_radius)) ** 2 < 1
    sclera = 150.0 + c * 45.0
    image = np.where(opening, sclera, image)
    iris_level = 150.0 - c * 55.0
    # The texture is drawn only over the iris's bounding box (it is the costly part).
    top, bottom, left, right = _iris_box(scene)
    box = (slice(top, bottom), slice(left, right))
    iris = np.full_like(image, iris_level)
    iris[box] += c * 22.0 * _iris_texture(scene, radius[box], angle[box])
    image = np.where(radius <= scene.iris_radius, iris, image)
    # A slightly darker limbus ring just inside the iris edge.
    limbus = np.exp(-((radius - scene.iris_radius + 4) ** 2) / 30.0)
    image = image - c * 15.0 * limbus * (radius <= scene.iris_radius)
    pupil_level = 150.0 - c * 130.0
    image = np.where(radius <= pupil_radius, pupil_level, image)

    rng = _rng(scene.seed, "reflections")
    for k in range(scene.reflections):
        spot_x = scene.centre_x + float(rng.uniform(-0.5, 0.5)) * pupil_radius
        spot_y = scene.centre_y + (-0.3 + 0.5 * k) * pupil_radius
        spot = np.hypot(xs - spot_x, ys - spot_y) < 5.0
        image = np.where(spot, 255.0, image)

    if scene.occlusion > 0:
        upper_share = min(scene.occlusion, 0.75) * (0.7 if scene.occlusion > 0.1 else 1.0)
        lower_share = max(0.0, scene.occlusion - upper_share)
        top, bottom, left, right = _iris_box(scene)
        bx, by = xs[top:bottom, left:right], ys[top:bottom, left:right]
        upper_offset = _lid_offset_for(scene, upper_share, bx, by)
        upper = _above_upper_lid(scene, upper_offset, xs, ys)
        lower = np.zeros_like(upper)
        if lower_share > 0:
            flipped = EyeScene(
                seed=scene.seed,
                centre_x=scene.centre_x,
                centre_y=HEIGHT - scene.centre_y,
                iris_radius=scene.iris_radius,
            )
            lower_offset = _lid_offset_for(flipped, lower_share, bx, HEIGHT - by)
            lower = _below_lower_lid(scene, lower_offset, xs, ys)
        image = np.where(upper | lower, skin, image)
        if scene.lashes:
            lash_rng = _rng(scene.seed, "lashes")
            edge_y = scene.centre_y - upper_offset
            for _ in range(70):
                x0 = scene.centre_x + float(lash_rng.uniform(-1.6, 1.6)) * scene.iris_radius
                bend = (x0 - scene.centre_x) / (2.4 * scene.iris_radius)
                lid_here = edge_y + 1.1 * scene.iris_radius * bend**2
                length = float(lash_rng.uniform(15, 45))
                slant = float(lash_rng.uniform(-0.5, 0.5))
                top = max(0, int(lid_here))
                bottom = min(HEIGHT, int(lid_here + length) + 1)
                left = max(0, int(x0 - abs(slant) * length - 2))
                right = min(WIDTH, int(x0 + abs(slant) * length + 3))
                if top >= bottom or left >= right:
                    continue
                wy = ys[top:bottom, left:right]
                wx = xs[top:bottom, left:right]
                along = (wy - lid_here) / length
                on_lash = (
                    (along >= 0)
                    & (along <= 1)
                    & (np.abs(wx - (x0 + slant * (wy - lid_here))) < 1.2)
                )
                window = image[top:bottom, left:right]
                image[top:bottom, left:right] = np.where(on_lash, 40.0, window)

    image = gaussian_blur(image, scene.blur_sigma)
    noise_rng = _rng(scene.seed, "noise")
    image = image + noise_rng.normal(0.0, scene.noise, size=image.shape)
    return to_pixels(image)
