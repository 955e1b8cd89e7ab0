"""Synthetic fingerprint images for the simulated R30x sensor (numpy only).

Each simulated finger (subject id + finger position + seed) has a *master pattern*, generated
once and cached, the way SFinGe-style generators work:

1. a finger class (arch, tented arch, left loop, right loop, whorl) and the positions of its
   singular points (cores and deltas), drawn from the finger's identity;
2. an orientation field from those singularities (the zero-pole model: the ridge angle is half
   the sum of the angles to the cores minus half the sum of the angles to the deltas), with a
   gentle finger-specific warp;
3. ridges grown from white noise by iterative oriented band-pass filtering: in the frequency
   domain each pass applies a Gabor-like filter tuned to the ridge frequency (about 1/9 pixel,
   500 dpi) for a set of orientations, and every pixel keeps the response of the orientation its
   field asks for; a soft clip between passes turns the noise into continuous ridges with
   natural minutiae (endings and bifurcations where the flow cannot stay regular).

Each *press* of that finger renders a different impression from the cached master: a small
shift and rotation, a pressure that thickens or thins the ridges, a contact area and sensor
noise. A poor press also has low contrast, partial contact, a smudge, dry breaks in the
ridges and more noise, so that the image quality differs measurably from a good press.

Images are 256 pixels wide and 288 high, 8 bits a pixel, dark ridges on a light background,
like an R30x optical sensor at 500 dpi.
"""

from __future__ import annotations

import enum
import logging
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulators.image_synthesis import FloatArray, SeededIdentity, box_blur, smooth_noise

log = logging.getLogger(__name__)

WIDTH = 256
HEIGHT = 288

# The master is larger than the image so that shifted and rotated presses stay inside it.
_MASTER_W = 320
_MASTER_H = 352
_ORIENTATION_BINS = 8
_PASSES = 5

MasterArray = NDArray[np.float32]


class FingerPosition(enum.Enum):
    """Finger positions, with the ISO/IEC 19794-2 finger position codes."""

    RIGHT_THUMB = "right-thumb"
    RIGHT_INDEX = "right-index"
    RIGHT_MIDDLE = "right-middle"
    RIGHT_RING = "right-ring"
    RIGHT_LITTLE = "right-little"
    LEFT_THUMB = "left-thumb"
    LEFT_INDEX = "left-index"
    LEFT_MIDDLE = "left-middle"
    LEFT_RING = "left-ring"
    LEFT_LITTLE = "left-little"

    @property
    def code(self) -> int:
        """ISO finger position code: 1 right thumb ... 10 left little finger."""
        return list(FingerPosition).index(self) + 1

    @classmethod
    def from_code(cls, code: int) -> FingerPosition:
        return list(FingerPosition)[code - 1]


class FingerClass(enum.Enum):
    ARCH = "arch"
    TENTED_ARCH = "tented-arch"
    LEFT_LOOP = "left-loop"
    RIGHT_LOOP = "right-loop"
    WHORL = "whorl"


@dataclass(frozen=True)
class FingerIdentity(SeededIdentity):
    """One simulated finger: who it belongs to, which finger, and the simulator's seed."""

    subject: int
    finger: FingerPosition
    seed: int = 0

    def key(self) -> str:
        return f"ewp-sim-finger:{self.seed}:{self.subject}:{self.finger.value}"

    @property
    def finger_class(self) -> FingerClass:
        """Class frequencies roughly as in the population: loops, then whorls, then arches."""
        draw = self.rng("class").random()
        if draw < 0.32:
            return FingerClass.RIGHT_LOOP
        if draw < 0.64:
            return FingerClass.LEFT_LOOP
        if draw < 0.92:
            return FingerClass.WHORL
        if draw < 0.96:
            return FingerClass.TENTED_ARCH
        return FingerClass.ARCH


@dataclass(frozen=True)
class PressConditions:
    """How one press of a finger went. All values are deterministic from the press seed."""

    shift_x: float  # pixels
    shift_y: float
    rotation: float  # radians
    pressure: float  # -1 light .. +1 heavy (ridge thickness)
    contrast: float  # 0..1, ridge darkness against the background
    contact: float  # 0..1, share of the nominal contact ellipse that touches the glass
    contact_offset_x: float  # where the partial contact sits, pixels
    contact_offset_y: float
    noise: float  # standard deviation of the sensor noise, grey levels
    smudge: bool
    dry: float  # 0..1, share of ridge length broken by dryness

    @classmethod
    def draw(cls, rng: np.random.Generator, *, poor: bool) -> PressConditions:
        if not poor:
            return cls(
                shift_x=float(rng.uniform(-10, 10)),
                shift_y=float(rng.uniform(-10, 10)),
                rotation=math.radians(float(rng.uniform(-6, 6))),
                pressure=float(rng.uniform(-0.3, 0.3)),
                contrast=float(rng.uniform(0.85, 1.0)),
                contact=float(rng.uniform(0.95, 1.05)),
                contact_offset_x=0.0,
                contact_offset_y=0.0,
                noise=float(rng.uniform(4, 8)),
                smudge=False,
                dry=0.0,
            )
        return cls(
            shift_x=float(rng.uniform(-16, 16)),
            shift_y=float(rng.uniform(-16, 16)),
            rotation=math.radians(float(rng.uniform(-12, 12))),
            pressure=float(rng.choice([-0.9, 0.9]) * rng.uniform(0.6, 1.0)),
            contrast=float(rng.uniform(0.3, 0.45)),
            contact=float(rng.uniform(0.55, 0.75)),
            contact_offset_x=float(rng.uniform(-45, 45)),
            contact_offset_y=float(rng.uniform(-55, 55)),
            noise=float(rng.uniform(14, 22)),
            smudge=True,
            dry=float(rng.uniform(0.2, 0.35)),
        )


def _singularities(identity: FingerIdentity) -> tuple[list[complex], list[complex]]:
    """Cores and deltas in master coordinates (complex x + iy, y pointing down)."""
    rng = identity.rng("singularities")
    cx = _MASTER_W / 2 + float(rng.uniform(-15, 15))
    cy = _MASTER_H / 2 + float(rng.uniform(-25, 5))
    kind = identity.finger_class
    if kind is FingerClass.WHORL:
        spread = float(rng.uniform(8, 22))
        tilt = float(rng.uniform(-0.6, 0.6))
        core1 = complex(cx, cy) + spread * complex(math.sin(tilt), -math.cos(tilt))
        core2 = complex(cx, cy) - spread * complex(math.sin(tilt), -math.cos(tilt))
        dy = float(rng.uniform(80, 110))
        delta1 = complex(cx - float(rng.uniform(75, 105)), cy + dy)
        delta2 = complex(cx + float(rng.uniform(75, 105)), cy + dy + float(rng.uniform(-15, 15)))
        return [core1, core2], [delta1, delta2]
    if kind in (FingerClass.LEFT_LOOP, FingerClass.RIGHT_LOOP):
        side = -1.0 if kind is FingerClass.LEFT_LOOP else 1.0
        core = complex(cx - side * float(rng.uniform(0, 15)), cy - float(rng.uniform(0, 20)))
        delta = complex(cx + side * float(rng.uniform(70, 100)), cy + float(rng.uniform(80, 115)))
        return [core], [delta]
    if kind is FingerClass.TENTED_ARCH:
        core = complex(cx, cy + float(rng.uniform(0, 20)))
        delta = core + complex(float(rng.uniform(-3, 3)), float(rng.uniform(25, 35)))
        return [core], [delta]
    # Plain arch: a core and a delta below the finger, far enough to leave only the arch flow.
    core = complex(cx, cy + 260 + float(rng.uniform(0, 40)))
    delta = core + complex(0, 50)
    return [core], [delta]


def orientation_field(identity: FingerIdentity) -> FloatArray:
    """Ridge orientation in radians (0 = horizontal ridges), master sized, from singularities."""
    cores, deltas = _singularities(identity)
    ys, xs = np.mgrid[0:_MASTER_H, 0:_MASTER_W].astype(np.float64)
    z = xs + 1j * ys
    theta = np.zeros_like(xs)
    for core in cores:
        theta += 0.5 * np.angle(z - core)
    for delta in deltas:
        theta -= 0.5 * np.angle(z - delta)
    rng = identity.rng("warp")
    # A smooth, finger-specific perturbation so that two loops are not the same loop.
    for _ in range(3):
        fx, fy = rng.uniform(0.5, 2.0, size=2) * 2 * math.pi
        phase = rng.uniform(0, 2 * math.pi)
        amp = rng.uniform(0.03, 0.10)
        theta += amp * np.sin(fx * xs / _MASTER_W + fy * ys / _MASTER_H + phase)
    if identity.finger_class is FingerClass.ARCH:
        theta = 0.6 * theta
    result: FloatArray = np.mod(theta, math.pi)
    return result


def _gabor_bank(frequency: float) -> list[FloatArray]:
    """Frequency-domain band-pass filters, one per orientation bin, for ``numpy.fft.rfft2``."""
    fy = np.fft.fftfreq(_MASTER_H)[:, None]
    fx = np.fft.rfftfreq(_MASTER_W)[None, :]
    sigma_across = 0.22 * frequency  # bandwidth across the ridges: ridge period stays regular
    sigma_along = 0.35 * frequency  # bandwidth along the ridges: lets ridges bend and end
    bank = []
    for k in range(_ORIENTATION_BINS):
        ridge_angle = k * math.pi / _ORIENTATION_BINS
        # The wave vector of a ridge pattern points across the ridges.
        nx, ny = -math.sin(ridge_angle), math.cos(ridge_angle)
        across = fx * nx + fy * ny
        along = -fx * ny + fy * nx
        response = np.exp(
            -((np.abs(across) - frequency) ** 2) / (2 * sigma_across**2)
            - along**2 / (2 * sigma_along**2)
        )
        bank.append(response)
    return bank


class _MasterCache:
    """The masters of recently pressed fingers, computed once even when asked for at once.

    One `ewp sim fingerprint --count N` process serves up to 16 sensors whose scripted
    applicants press ten fingers each in turn, so the cache holds 160 masters (about 450 KB
    each as float32: 72 MB at most). A smaller cache than that working set would render a
    master again on every press, and a loaded machine then answers GenImg too late.

    ``prefetch`` renders a master in a background thread: a scripted applicant's next finger
    is known in advance, so it is ready before the host asks for its image, and GenImg costs
    only the press itself (tens of milliseconds), as on the real module.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._done: OrderedDict[FingerIdentity, MasterArray] = OrderedDict()
        self._pending: dict[FingerIdentity, threading.Event] = {}
        self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sim-master")

    def get(self, identity: FingerIdentity) -> MasterArray:
        while True:
            with self._lock:
                master = self._done.get(identity)
                if master is not None:
                    self._done.move_to_end(identity)
                    return master
                waiting = self._pending.get(identity)
                if waiting is None:
                    self._pending[identity] = threading.Event()
                    break
            waiting.wait()  # another thread renders it; then read it from the cache
        try:
            master = _render_master(identity)
            with self._lock:
                self._done[identity] = master
                while len(self._done) > self._size:
                    self._done.popitem(last=False)
            return master
        finally:
            with self._lock:
                self._pending.pop(identity).set()

    def prefetch(self, identity: FingerIdentity) -> None:
        with self._lock:
            if identity in self._done or identity in self._pending:
                return
        future = self._prefetcher.submit(self.get, identity)
        future.add_done_callback(_log_prefetch_failure)

    def __contains__(self, identity: FingerIdentity) -> bool:
        with self._lock:
            return identity in self._done


def _log_prefetch_failure(future: Future[MasterArray]) -> None:
    if (exc := future.exception()) is not None:
        log.warning("rendering a finger's master pattern in advance failed: %s", exc)


_masters = _MasterCache(160)


def master_pattern(identity: FingerIdentity) -> MasterArray:
    """The finger's ridge pattern, values in -1 (valley) .. +1 (ridge), master sized (cached)."""
    return _masters.get(identity)


def prefetch_master(identity: FingerIdentity) -> None:
    """Start rendering ``identity``'s master in the background, if it is not cached yet."""
    _masters.prefetch(identity)


def master_cached(identity: FingerIdentity) -> bool:
    return identity in _masters


def _render_master(identity: FingerIdentity) -> MasterArray:
    rng = identity.rng("ridges")
    frequency = 1.0 / float(rng.uniform(8.4, 9.6))
    position = orientation_field(identity) / math.pi * _ORIENTATION_BINS
    low = (np.floor(position).astype(np.int64) % _ORIENTATION_BINS)[None]
    high = (low + 1) % _ORIENTATION_BINS
    weight_high = position - np.floor(position)
    bank = _gabor_bank(frequency)
    responses = np.empty((_ORIENTATION_BINS, _MASTER_H, _MASTER_W))
    pattern = rng.standard_normal((_MASTER_H, _MASTER_W))
    for _ in range(_PASSES):
        spectrum = np.fft.rfft2(pattern)
        for k, response in enumerate(bank):
            responses[k] = np.fft.irfft2(spectrum * response, s=pattern.shape)
        # Each pixel keeps the response of its own orientation, between the two nearest bins.
        below = np.take_along_axis(responses, low, axis=0)[0]
        above = np.take_along_axis(responses, high, axis=0)[0]
        result = below + weight_high * (above - below)
        scale = float(np.std(result)) or 1.0
        pattern = np.clip(result / scale * 1.6, -1.0, 1.0)
    master: MasterArray = pattern.astype(np.float32)
    return master


def _sample(master: MasterArray, xs: FloatArray, ys: FloatArray) -> FloatArray:
    """Bilinear sampling of ``master`` at fractional coordinates (clamped at the border)."""
    x0 = np.clip(np.floor(xs).astype(np.int64), 0, _MASTER_W - 2)
    y0 = np.clip(np.floor(ys).astype(np.int64), 0, _MASTER_H - 2)
    fx = np.clip(xs - x0, 0.0, 1.0)
    fy = np.clip(ys - y0, 0.0, 1.0)
    top = master[y0, x0] * (1 - fx) + master[y0, x0 + 1] * fx
    bottom = master[y0 + 1, x0] * (1 - fx) + master[y0 + 1, x0 + 1] * fx
    result: FloatArray = top * (1 - fy) + bottom * fy
    return result


def render_press(identity: FingerIdentity, conditions: PressConditions, seed: int) -> bytes:
    """One impression of ``identity`` on the glass: HEIGHT rows of WIDTH 8-bit pixels."""
    master = master_pattern(identity)
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    # Image coordinates relative to the image centre, rotated and shifted into the master.
    u = xs - WIDTH / 2 - conditions.shift_x
    v = ys - HEIGHT / 2 - conditions.shift_y
    cos_r, sin_r = math.cos(conditions.rotation), math.sin(conditions.rotation)
    mx = cos_r * u - sin_r * v + _MASTER_W / 2
    my = sin_r * u + cos_r * v + _MASTER_H / 2
    ridges = _sample(master, mx, my)

    # Pressure: a heavy press widens the ridges (lower threshold), a light one thins them.
    ridge = 1.0 / (1.0 + np.exp(-4.0 * (ridges + 0.45 * conditions.pressure)))

    # Contact: an ellipse (the fingertip), scaled for partial contact, with a soft edge.
    ax = 0.43 * WIDTH * math.sqrt(conditions.contact)
    ay = 0.46 * HEIGHT * math.sqrt(conditions.contact)
    ex = (u - conditions.contact_offset_x) / ax
    ey = (v - conditions.contact_offset_y - 0.04 * HEIGHT) / ay
    radius = np.sqrt(ex**2 + ey**2)
    edge = smooth_noise(rng, HEIGHT, WIDTH, 24) * 0.12
    contact = np.clip((1.0 + edge - radius) / 0.08, 0.0, 1.0)

    if conditions.dry > 0:
        breaks = smooth_noise(rng, HEIGHT, WIDTH, 6)
        ridge = ridge * (breaks > conditions.dry)
    if conditions.smudge:
        blurred = box_blur(ridge, 4)
        blob_x = float(rng.uniform(-60, 60))
        blob_y = float(rng.uniform(-70, 70))
        blob = np.exp(-((u - blob_x) ** 2 + (v - blob_y) ** 2) / (2 * 45.0**2))
        ridge = ridge * (1 - blob) + (0.55 * blurred + 0.3) * blob

    background = 235.0 - 40.0 * (1.0 - conditions.contrast)
    darkness = 200.0 * conditions.contrast
    image = background - darkness * ridge * contact
    image += rng.normal(0.0, conditions.noise, size=image.shape)
    return bytes(np.clip(image, 0, 255).astype(np.uint8))
