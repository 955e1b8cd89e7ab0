"""Synthetic fingerprint images: deterministic per finger, distinct between fingers, and poor
presses measurably worse than good ones.

Ridge clarity, the statistic used here: split the image into 16 x 16 blocks; in each, take the
coherence of the grey-level gradients (how much they agree on one direction: 1 for clean
parallel ridges, 0 for noise or a blank area; from the structure tensor,
sqrt((Gxx - Gyy)^2 + 4 Gxy^2) / (Gxx + Gyy)) times the block's contrast (its standard
deviation / 40, capped at 1); average over all blocks. A proper quality score comes later.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from simulators import fingerprint_images
from simulators.fingerprint_images import (
    HEIGHT,
    WIDTH,
    FingerClass,
    FingerIdentity,
    FingerPosition,
    master_cached,
    master_pattern,
    orientation_field,
)
from simulators.fingerprint_presses import Press, finger_applicant


def ridge_clarity(pixels: bytes) -> float:
    image = np.frombuffer(pixels, dtype=np.uint8).reshape(HEIGHT, WIDTH).astype(np.float64)
    gy, gx = np.gradient(image)
    block = 16
    rows, cols = HEIGHT // block, WIDTH // block

    def per_block(values: np.ndarray) -> np.ndarray:
        return values.reshape(rows, block, cols, block).sum(axis=(1, 3))

    gxx, gyy, gxy = per_block(gx * gx), per_block(gy * gy), per_block(gx * gy)
    coherence = np.sqrt((gxx - gyy) ** 2 + 4 * gxy**2) / (gxx + gyy + 1e-9)
    contrast = image.reshape(rows, block, cols, block).std(axis=(1, 3))
    return float(np.mean(coherence * np.clip(contrast / 40.0, 0.0, 1.0)))


def press(subject: int, finger: FingerPosition, number: int, *, poor: bool = False) -> Press:
    return Press(FingerIdentity(subject, finger, seed=0), poor, number)


def test_image_size_and_determinism() -> None:
    a = press(17, FingerPosition.RIGHT_INDEX, 1).render()
    b = press(17, FingerPosition.RIGHT_INDEX, 1).render()
    assert len(a) == WIDTH * HEIGHT
    assert a == b


def test_each_press_is_a_new_impression_of_the_same_cached_master() -> None:
    identity = FingerIdentity(17, FingerPosition.RIGHT_INDEX)
    first = press(17, FingerPosition.RIGHT_INDEX, 1).render()
    second = press(17, FingerPosition.RIGHT_INDEX, 2).render()
    assert first != second
    assert master_pattern(identity) is master_pattern(
        FingerIdentity(17, FingerPosition.RIGHT_INDEX)
    )


def test_a_master_asked_for_by_several_sensors_at_once_is_rendered_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[FingerIdentity] = []
    real_render = fingerprint_images._render_master

    def counting_render(identity: FingerIdentity) -> fingerprint_images.MasterArray:
        rendered.append(identity)
        return real_render(identity)

    monkeypatch.setattr(fingerprint_images, "_render_master", counting_render)
    identity = FingerIdentity(424242, FingerPosition.LEFT_RING, seed=9)
    results: list[fingerprint_images.MasterArray] = []
    threads = [
        threading.Thread(target=lambda: results.append(master_pattern(identity))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # (Other tests' scripted applicants may render their fingers in the background meanwhile.)
    assert [i for i in rendered if i == identity] == [identity]
    assert len(results) == 4 and all(r is results[0] for r in results)


def test_a_scripted_applicants_next_finger_is_rendered_before_the_host_asks() -> None:
    applicant = finger_applicant(seed=8080, lift_polls=0)
    first = applicant.current()
    assert first is not None
    applicant.taken(first)
    following = applicant.current()
    assert following is not None and following.identity != first.identity
    deadline = time.monotonic() + 30
    while not master_cached(following.identity):
        assert time.monotonic() < deadline, "the next finger's master was not rendered ahead"
        time.sleep(0.05)


def test_different_fingers_have_unrelated_ridge_patterns() -> None:
    patterns = [
        master_pattern(FingerIdentity(17, FingerPosition.RIGHT_INDEX)),
        master_pattern(FingerIdentity(17, FingerPosition.LEFT_INDEX)),
        master_pattern(FingerIdentity(18, FingerPosition.RIGHT_INDEX)),
        master_pattern(FingerIdentity(17, FingerPosition.RIGHT_INDEX, seed=1)),
    ]
    for i, a in enumerate(patterns):
        for b in patterns[i + 1 :]:
            assert abs(float(np.corrcoef(a.ravel(), b.ravel())[0, 1])) < 0.1


@pytest.mark.parametrize("subject", [3, 17, 101])
def test_good_presses_have_clearly_better_ridge_clarity_than_poor_ones(subject: int) -> None:
    good = [ridge_clarity(press(subject, FingerPosition.RIGHT_THUMB, n).render()) for n in range(3)]
    poor = [
        ridge_clarity(press(subject, FingerPosition.RIGHT_THUMB, n, poor=True).render())
        for n in range(3)
    ]
    assert min(good) > 0.45
    assert max(poor) < 0.3
    assert min(good) > 2 * max(poor)


def test_the_four_bit_wire_format_keeps_the_difference() -> None:
    from simulators.fingerprint import pack_nibbles

    def over_the_wire(pixels: bytes) -> bytes:
        wire = pack_nibbles(pixels)
        out = bytearray()
        for byte in wire:
            out += bytes(((byte >> 4) * 17, (byte & 0xF) * 17))
        return bytes(out)

    good = over_the_wire(press(5, FingerPosition.LEFT_RING, 1).render())
    poor = over_the_wire(press(5, FingerPosition.LEFT_RING, 2, poor=True).render())
    assert ridge_clarity(good) > 2 * ridge_clarity(poor)


def test_orientation_field_has_the_class_singularities() -> None:
    classes = {FingerIdentity(s, FingerPosition.RIGHT_INDEX).finger_class for s in range(60)}
    assert {FingerClass.LEFT_LOOP, FingerClass.RIGHT_LOOP, FingerClass.WHORL} <= classes
    field = orientation_field(FingerIdentity(1, FingerPosition.RIGHT_INDEX))
    assert field.min() >= 0.0
    assert field.max() < np.pi


def test_finger_positions_have_iso_codes() -> None:
    assert FingerPosition.RIGHT_THUMB.code == 1
    assert FingerPosition.LEFT_LITTLE.code == 10
    assert FingerPosition.from_code(7) is FingerPosition.LEFT_INDEX
