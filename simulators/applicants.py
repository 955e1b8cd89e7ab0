"""Who is in front of a simulated device: a tester's presenter or a scripted applicant.

Both simulated biometric devices (``fingerprint``: a finger press on the glass; ``iris``: a
person sitting in front of the camera) are shown one *presentation* at a time, and the host
*takes* it (the fingerprint module once its image is read, the camera once a capture
completes). What differs between them is only what a presentation is, so it is a type
parameter and a factory:

* :class:`ManualPresenter`: a tester puts a presentation in front of the device; it stays
  until withdrawn, whatever the host takes;
* :class:`AutoApplicant`: a deterministic queue of applicants (person ids drawn from the seed
  and the device's index), presentation ``n`` made by the device's ``make``, the next one
  coming once the host has taken the current one, optionally after ``gap_polls`` looks at an
  empty device (a finger lifted between two presses).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Presentation(Protocol):
    def describe(self) -> dict[str, object]: ...


T = TypeVar("T", bound=Presentation)


class ManualPresenter(Generic[T]):
    """A presentation put in front of the device by a tester; stays until withdrawn."""

    mode = "manual"

    def __init__(self, key: str) -> None:
        self._key = key  # what status() calls the presentation ("finger", "in_view")
        self._current: T | None = None
        self.count = 0  # presentations so far

    def present(self, presentation: T) -> T:
        self._current = presentation
        self.count += 1
        return presentation

    def withdraw(self) -> None:
        self._current = None

    def current(self) -> T | None:
        return self._current

    def taken(self, presentation: T) -> None:
        """The host took it; a tester's presentation stays until withdrawn."""

    def describe(self) -> dict[str, object]:
        current = self._current
        return {"mode": self.mode, self._key: None if current is None else current.describe()}


def manual_only(
    presenter: ManualPresenter[T] | AutoApplicant[T], device: str
) -> ManualPresenter[T]:
    """The tester's presenter, or a ValueError telling to switch the ``device`` to manual."""
    if not isinstance(presenter, ManualPresenter):
        raise ValueError(f"the {device} is in auto mode: switch it to manual mode first")
    return presenter


class AutoApplicant(Generic[T]):
    """A scripted queue of applicants; see the module docstring.

    ``make(applicant, number)`` builds presentation ``number`` (counting those taken) from the
    applicant; the applicant gives the person ids (:meth:`person`) and the poor draws
    (:meth:`poor`). ``on_next`` is told of each new presentation as it comes.
    """

    mode = "auto"

    def __init__(
        self,
        make: Callable[[AutoApplicant[T], int], T],
        *,
        seed: int,
        index: int,
        poor_rate: float,
        key: str,
        counter_key: str,
        gap_polls: int = 0,
        on_next: Callable[[T], None] | None = None,
    ) -> None:
        self.seed = seed
        self.index = index
        self.poor_rate = poor_rate
        self.gap_polls = gap_polls
        self._make = make
        self._key = key
        self._counter_key = counter_key
        self._on_next = on_next
        self._person_rng = random.Random(seed + index)
        self._persons: list[int] = []
        self._number = 0
        self._gap_left = 0
        self._current = make(self, 0)
        if on_next is not None:
            on_next(self._current)

    def person(self, k: int) -> int:
        """The ``k``-th applicant's person id (drawn from the seed and the index)."""
        while len(self._persons) <= k:
            self._persons.append(self._person_rng.randrange(1, 1_000_000))
        return self._persons[k]

    def draw_key(self, number: int, *parts: object) -> str:
        """The text that fixes everything drawn for presentation ``number`` (and ``parts``)."""
        return ":".join(str(part) for part in (self.seed + self.index, number, *parts))

    def poor(self, number: int, *parts: object) -> bool:
        """Whether presentation ``number`` (or one part of it) is poor, at ``poor_rate``."""
        return random.Random(self.draw_key(number, *parts)).random() < self.poor_rate

    def current(self) -> T | None:
        """What the device sees now; nothing for ``gap_polls`` looks after a take."""
        if self._gap_left > 0:
            self._gap_left -= 1
            return None
        return self._current

    def taken(self, presentation: T) -> None:
        """The host took ``presentation``: the next one comes (a stale take is ignored)."""
        if presentation != self._current:
            return
        self._number += 1
        self._current = self._make(self, self._number)
        self._gap_left = self.gap_polls
        if self._on_next is not None:
            self._on_next(self._current)

    def describe(self) -> dict[str, object]:
        shown = self._current if self._gap_left == 0 else None
        return {
            "mode": self.mode,
            self._key: None if shown is None else shown.describe(),
            self._counter_key: self._number,
        }
