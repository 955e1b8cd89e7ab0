"""What the simulators' image generators share (numpy only): seeded random streams, blurs and
low-frequency noise.

The fingerprint images (``fingerprint_images``) and the eye images (``iris_images``, both the
simulated camera's captures and the parametric scenes of the quality tests) draw everything
from random streams derived from a stable identity, so that an image is the same on every
machine and in every run; and they smooth their pictures with the same few filters.
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def seeded_rng(material: bytes) -> np.random.Generator:
    """A random stream fixed by ``material`` (hashed, so similar inputs give unrelated streams)."""
    digest = hashlib.blake2b(material, digest_size=16).digest()
    return np.random.default_rng(int.from_bytes(digest, "big"))


class SeededIdentity:
    """A simulated finger or eye: everything drawn for it comes from its ``key``."""

    def key(self) -> str:
        """The text that names the identity, unique across the simulators."""
        raise NotImplementedError

    def digest(self) -> bytes:
        """A stable 32-byte digest of the identity (the root of everything drawn for it)."""
        return hashlib.blake2b(self.key().encode(), digest_size=32).digest()

    def rng(self, purpose: str) -> np.random.Generator:
        return seeded_rng(self.digest() + purpose.encode())


def box_blur(image: FloatArray, radius: int) -> FloatArray:
    """Separable box blur with edge clamping (cumulative sums, so any radius costs the same)."""
    out = image
    for axis in (0, 1):
        padded = np.concatenate(
            [
                np.repeat(np.take(out, [0], axis=axis), radius + 1, axis=axis),
                out,
                np.repeat(np.take(out, [-1], axis=axis), radius, axis=axis),
            ],
            axis=axis,
        )
        summed = np.cumsum(padded, axis=axis)
        n = out.shape[axis]
        upper = np.take(summed, np.arange(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
        lower = np.take(summed, np.arange(0, n), axis=axis)
        out = (upper - lower) / (2 * radius + 1)
    return out


def gaussian_blur(image: FloatArray, sigma: float) -> FloatArray:
    """Gaussian blur of ``sigma`` pixels, edges reflected; nothing below 0.05 px.

    A short separable kernel for a slight defocus, two FFTs for a strong one.
    """
    if sigma <= 0.05:
        return image
    if sigma <= 2.0:
        radius = math.ceil(3 * sigma)
        taps = np.exp(-(np.arange(-radius, radius + 1) ** 2) / (2 * sigma**2))
        taps /= taps.sum()
        out = image
        for axis in (0, 1):
            padded = np.pad(out, [(radius, radius) if a == axis else (0, 0) for a in (0, 1)],
                            mode="reflect")  # fmt: skip
            size = out.shape[axis]
            out = sum(
                (weight * np.take(padded, np.arange(k, k + size), axis=axis)
                 for k, weight in enumerate(taps)),
                np.zeros_like(out),
            )  # fmt: skip
        return out
    pad = math.ceil(3 * sigma) + 1
    # Pad to sizes whose only prime factors are 2, 3 and 5: the FFTs are several times faster.
    size_y, size_x = (_smooth_size(n + 2 * pad) for n in image.shape)
    padded = np.pad(
        image, ((pad, size_y - image.shape[0] - pad), (pad, size_x - image.shape[1] - pad)),
        mode="reflect",
    )  # fmt: skip
    fy = np.fft.fftfreq(size_y)[:, None]
    fx = np.fft.rfftfreq(size_x)[None, :]
    transfer = np.exp(-2 * math.pi**2 * sigma**2 * (fx**2 + fy**2))
    blurred = np.fft.irfft2(np.fft.rfft2(padded) * transfer, s=padded.shape)
    result: FloatArray = blurred[pad : pad + image.shape[0], pad : pad + image.shape[1]]
    return result


def _smooth_size(n: int) -> int:
    """The smallest size >= n whose prime factors are 2, 3 and 5 only."""
    while True:
        rest = n
        for prime in (2, 3, 5):
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return n
        n += 1


def smooth_noise(rng: np.random.Generator, height: int, width: int, scale: int) -> FloatArray:
    """Low-frequency noise in 0..1 over an image, with features about ``scale`` pixels wide.

    Smoothstep interpolation of a coarse random grid, one axis after the other.
    """
    coarse = rng.random((height // scale + 3, width // scale + 3))

    def weights(n: int) -> tuple[NDArray[np.int64], FloatArray]:
        position = np.arange(n) / scale + 1.0
        index = np.floor(position).astype(np.int64)
        fraction = position - index
        return index, fraction * fraction * (3 - 2 * fraction)

    y0, fy = weights(height)
    x0, fx = weights(width)
    rows = coarse[y0] * (1 - fy[:, None]) + coarse[y0 + 1] * fy[:, None]  # height x coarse
    result: FloatArray = rows[:, x0] * (1 - fx) + rows[:, x0 + 1] * fx
    return result


def to_pixels(image: FloatArray) -> bytes:
    """8-bit grey pixels, row by row: rounded and clipped to 0..255."""
    return bytes(np.clip(np.round(image), 0, 255).astype(np.uint8))
