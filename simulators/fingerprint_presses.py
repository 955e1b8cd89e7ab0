"""Fingers on the glass of the simulated R30x module: presses, a tester's hand, an applicant.

A press is one impression of one finger (``number`` makes each press a new impression: its
image and its character file differ from the finger's other presses). Who presses is shared
with the iris camera (``applicants``): a tester places and lifts fingers (``manual``), or a
scripted applicant presses fingers one after another (``auto``): press ``n`` is of finger
``n // presses_per_finger``; fingers go right thumb .. left little of one subject, then the
next subject. A press stays on the glass until the host has taken its image (Img2Tz or
UpImage after a GenImg); the finger is then lifted for ``lift_polls`` GenImg calls before the
next press.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simulators.applicants import AutoApplicant, ManualPresenter
from simulators.fingerprint_images import (
    FingerIdentity,
    FingerPosition,
    PressConditions,
    prefetch_master,
    render_press,
)
from simulators.fingerprint_templates import character_file

Quality = Literal["good", "poor"]


@dataclass(frozen=True)
class Press:
    """One press of a finger on the glass; ``number`` makes each press a new impression."""

    identity: FingerIdentity
    poor: bool
    number: int

    @property
    def seed(self) -> int:
        digest = hashlib.blake2b(
            self.identity.digest() + self.number.to_bytes(8, "big"), digest_size=8
        ).digest()
        return int.from_bytes(digest, "big")

    @property
    def quality(self) -> int:
        return 35 if self.poor else 85

    def conditions(self) -> PressConditions:
        return PressConditions.draw(np.random.default_rng(self.seed), poor=self.poor)

    def render(self) -> bytes:
        return render_press(self.identity, self.conditions(), self.seed)

    def character_file(self) -> bytes:
        """Img2Tz: the finger's features plus this impression's noise."""
        noise = 0.8 if self.poor else 0.35
        return character_file(self.identity, self.quality, noise, self.seed ^ 0x7E3A)

    def describe(self) -> dict[str, object]:
        return {
            "subject": self.identity.subject,
            "finger": self.identity.finger.value,
            "quality": "poor" if self.poor else "good",
            "press": self.number,
        }


FingerPresenter = ManualPresenter[Press] | AutoApplicant[Press]


def tester_hand() -> ManualPresenter[Press]:
    """Fingers placed and lifted by a tester (control port or in-process calls)."""
    return ManualPresenter("finger")


def finger_applicant(
    *,
    seed: int,
    index: int = 0,
    presses_per_finger: int = 1,
    poor_rate: float = 0.0,
    lift_polls: int = 2,
) -> AutoApplicant[Press]:
    """A scripted applicant pressing fingers one after another (see the module docstring)."""
    fingers = list(FingerPosition)

    def press(applicant: AutoApplicant[Press], number: int) -> Press:
        finger_index = number // presses_per_finger
        subject = applicant.person(finger_index // 10)
        identity = FingerIdentity(subject, fingers[finger_index % 10], seed)
        return Press(identity, applicant.poor(number), number)

    # The next finger is known as soon as it comes: render its master while the host works.
    return AutoApplicant(
        press,
        seed=seed,
        index=index,
        poor_rate=poor_rate,
        key="finger",
        counter_key="next_press",
        gap_polls=lift_polls,
        on_next=lambda p: prefetch_master(p.identity),
    )
