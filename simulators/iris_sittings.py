"""Who is in front of the simulated iris camera: sittings, a tester's person, an applicant.

A sitting is one person in front of the camera with the conditions of each eye (open or
closed, eyelid occlusion, defocus blur). Who sits is shared with the fingerprint module
(``applicants``): a person placed by a tester stays until withdrawn (``manual``); a scripted
queue of applicants (``auto``) has each person captured ``captures_per_person`` times:
capture ``n`` (counting completed captures) is of person ``n // captures_per_person``, person
ids drawn from the seed, each eye of each capture poor (a drooping eyelid, defocus, or both)
with probability ``poor_rate``, all drawn deterministically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from simulators.applicants import AutoApplicant, ManualPresenter
from simulators.iris_codec import LEFT, RIGHT
from simulators.iris_images import EyeConditions, EyeSide


@dataclass(frozen=True)
class Sitting:
    """A person in front of the camera, with the conditions of each eye."""

    person: int
    left: EyeConditions
    right: EyeConditions

    def eye(self, side: EyeSide) -> EyeConditions:
        return self.left if side is EyeSide.LEFT else self.right

    def open_mask(self) -> int:
        return (LEFT if self.left.open else 0) | (RIGHT if self.right.open else 0)

    def describe(self) -> dict[str, object]:
        return {"person": self.person, "left": self.left.describe(), "right": self.right.describe()}


OpenEyes = Literal["both", "left", "right", "none"]


def eye_conditions(
    value: EyeConditions | dict[str, object] | None, base: EyeConditions
) -> EyeConditions:
    if value is None:
        return base
    if isinstance(value, EyeConditions):
        return value
    unknown = set(value) - {"open", "occlusion", "blur"}
    if unknown:
        raise ValueError(f"unknown eye condition {sorted(unknown)}: use open, occlusion, blur")
    return EyeConditions(
        open=bool(value.get("open", base.open)),
        occlusion=float(value.get("occlusion", base.occlusion)),  # type: ignore[arg-type]
        blur=float(value.get("blur", base.blur)),  # type: ignore[arg-type]
    )


EyePresenter = ManualPresenter[Sitting] | AutoApplicant[Sitting]


def tester_person() -> ManualPresenter[Sitting]:
    """A person placed in front of the camera by a tester; stays until withdrawn."""
    return ManualPresenter("in_view")


def iris_applicant(
    *, seed: int, index: int = 0, captures_per_person: int = 2, poor_rate: float = 0.0
) -> AutoApplicant[Sitting]:
    """A scripted queue of applicants (see the module docstring)."""

    def eye(applicant: AutoApplicant[Sitting], number: int, side: EyeSide) -> EyeConditions:
        digest = hashlib.blake2b(applicant.draw_key(number, side.value).encode(), digest_size=8)
        rng = np.random.default_rng(int.from_bytes(digest.digest(), "big"))
        poor = applicant.poor(number, side.value)
        return EyeConditions.poor(rng) if poor else EyeConditions.good(rng)

    def sitting(applicant: AutoApplicant[Sitting], number: int) -> Sitting:
        person = applicant.person(number // captures_per_person)
        return Sitting(
            person, eye(applicant, number, EyeSide.LEFT), eye(applicant, number, EyeSide.RIGHT)
        )

    return AutoApplicant(
        sitting,
        seed=seed,
        index=index,
        poor_rate=poor_rate,
        key="in_view",
        counter_key="next_capture",
    )
