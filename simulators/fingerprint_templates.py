"""Templates of the simulated R30x module and its template library (the module's flash).

Templates are a **simulator format**, not the module's (which is undocumented): a template
carries the finger's identity as 480 pseudo-random features plus noise that depends on the
press (a poor press is noisier). Comparing two templates correlates their features: the same
finger scores high (about 160-280, lower for poor presses), different fingers near 0. The
module does not extract anything from the pixels; it knows which finger it rendered.

Layout (512 bytes): ``b"EWPS"``, version 1, kind (1 character file from one image, 2 model
from RegModel), press quality 0-100, ISO finger position code, 8 reserved bytes, 480 signed
feature bytes, and a 16-byte BLAKE2b digest of everything before it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from simulators.fingerprint_images import FingerIdentity

log = logging.getLogger(__name__)

TEMPLATE_SIZE = 512
_MAGIC = b"EWPS"
_FEATURES = 480
_KIND_CHAR = 1
_KIND_MODEL = 2
SCORE_SCALE = 300
# Minimum score to call two templates the same finger, per security level (1 lenient .. 5).
MATCH_THRESHOLDS = {1: 30, 2: 45, 3: 60, 4: 75, 5: 90}


@functools.lru_cache(maxsize=256)
def _identity_features(identity: FingerIdentity) -> NDArray[np.float64]:
    return identity.rng("template-features").standard_normal(_FEATURES)


def _encode_template(kind: int, quality: int, finger_code: int, features: NDArray[Any]) -> bytes:
    quantised = np.clip(np.round(features * 40.0), -127, 127).astype(np.int8)
    body = _MAGIC + bytes((1, kind, quality, finger_code)) + bytes(8) + quantised.tobytes()
    return body + hashlib.blake2b(body, digest_size=16).digest()


def template_features(data: bytes) -> NDArray[np.float64] | None:
    """The features of a simulator template, or None if ``data`` is not one (or is damaged)."""
    if len(data) != TEMPLATE_SIZE or not data.startswith(_MAGIC):
        return None
    body, digest = data[:-16], data[-16:]
    if hashlib.blake2b(body, digest_size=16).digest() != digest:
        return None
    return np.frombuffer(body[16:], dtype=np.int8).astype(np.float64)


def match_score(a: bytes, b: bytes) -> int:
    """0 (unrelated) .. 300 (identical): the correlation of the two templates' features."""
    fa, fb = template_features(a), template_features(b)
    if fa is None or fb is None:
        return 0
    fa = fa - fa.mean()
    fb = fb - fb.mean()
    denominator = float(np.sqrt(np.dot(fa, fa) * np.dot(fb, fb)))
    if denominator == 0:
        return 0
    correlation = float(np.dot(fa, fb)) / denominator
    return max(0, round(correlation * SCORE_SCALE))


def merge_templates(a: bytes, b: bytes) -> bytes:
    """RegModel: the mean of two character files' features (less noise than either)."""
    fa, fb = template_features(a), template_features(b)
    assert fa is not None and fb is not None
    quality = min(a[6], b[6])
    return _encode_template(_KIND_MODEL, quality, a[7], (fa + fb) / 2.0 / 40.0)


class TemplateLibrary:
    """The module's flash: ``capacity`` pages of templates, saved to a JSON file when given."""

    FORMAT = "ewp-sim-fingerprint-library"

    def __init__(self, path: Path | None, capacity: int) -> None:
        self.path = path
        self.capacity = capacity
        self._pages: dict[int, bytes] = {}
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") != self.FORMAT:
                raise ValueError(f"not a {self.FORMAT} file")
            pages = {int(page): bytes.fromhex(text) for page, text in data["templates"].items()}
        except (OSError, ValueError, KeyError, AttributeError) as exc:
            raise ValueError(f"cannot load the template library {path}: {exc}") from None
        dropped = [page for page in pages if not 0 <= page < self.capacity]
        if dropped:
            log.warning("library %s: pages %s are beyond the capacity, ignored", path, dropped)
        self._pages = {page: t for page, t in pages.items() if 0 <= page < self.capacity}

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": self.FORMAT,
            "version": 1,
            "capacity": self.capacity,
            "templates": {str(page): t.hex() for page, t in sorted(self._pages.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def get(self, page: int) -> bytes | None:
        return self._pages.get(page)

    def put(self, page: int, template: bytes) -> None:
        self._pages[page] = template
        self._save()

    def delete(self, start: int, count: int) -> None:
        for page in range(start, start + count):
            self._pages.pop(page, None)
        self._save()

    def clear(self) -> None:
        self._pages.clear()
        self._save()

    def pages(self) -> list[int]:
        return sorted(self._pages)

    def __len__(self) -> int:
        return len(self._pages)


def character_file(identity: FingerIdentity, quality: int, noise: float, seed: int) -> bytes:
    """Img2Tz of one impression: the finger's features plus ``noise`` drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    features = _identity_features(identity) + rng.normal(0.0, noise, _FEATURES)
    return _encode_template(_KIND_CHAR, quality, identity.finger.code, features)
