"""Who is in front of a simulated device (simulators/applicants.py), on its own: a tester's
presentation stays until withdrawn, a scripted applicant moves on once the host took the one
in front of the device. (Each device's own presentations are tested with the device.)"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from simulators.applicants import AutoApplicant, ManualPresenter, manual_only


@dataclass(frozen=True)
class Card:
    """The simplest presentation: whose, which one, good or poor."""

    person: int
    number: int
    poor: bool

    def describe(self) -> dict[str, object]:
        return {"person": self.person, "number": self.number, "poor": self.poor}


def card(applicant: AutoApplicant[Card], number: int) -> Card:
    return Card(applicant.person(number // 3), number, applicant.poor(number))


def queue(
    seed: int = 4, index: int = 0, poor_rate: float = 0.0, gap: int = 0
) -> AutoApplicant[Card]:
    return AutoApplicant(
        card, seed=seed, index=index, poor_rate=poor_rate, key="card", counter_key="next_card",
        gap_polls=gap,
    )  # fmt: skip


def test_a_testers_presentation_stays_until_withdrawn() -> None:
    hand: ManualPresenter[Card] = ManualPresenter("card")
    assert hand.current() is None and hand.describe() == {"mode": "manual", "card": None}
    shown = hand.present(Card(7, 1, False))
    hand.taken(shown)
    assert hand.current() == shown and hand.count == 1
    assert hand.describe() == {"mode": "manual", "card": shown.describe()}
    hand.withdraw()
    assert hand.current() is None


def test_manual_only_refuses_an_applicant_with_what_to_do() -> None:
    hand: ManualPresenter[Card] = ManualPresenter("card")
    assert manual_only(hand, "reader") is hand
    with pytest.raises(ValueError, match="the reader is in auto mode: switch it to manual"):
        manual_only(queue(), "reader")


def test_an_applicant_moves_on_only_when_the_current_one_is_taken() -> None:
    applicant = queue(gap=2)
    first = applicant.current()
    assert first is not None and first.number == 0
    applicant.taken(Card(first.person, 5, False))  # not the one in front: ignored
    assert applicant.current() == first
    applicant.taken(first)
    assert [applicant.current(), applicant.current()] == [None, None]  # the gap
    following = applicant.current()
    assert following is not None and following.number == 1
    assert applicant.describe() == {
        "mode": "auto", "card": following.describe(), "next_card": 1,
    }  # fmt: skip


def test_persons_and_poor_draws_come_from_the_seed_and_the_index() -> None:
    def persons(seed: int, index: int) -> list[int]:
        applicant = queue(seed, index)
        return [applicant.person(k) for k in range(5)]

    assert persons(4, 0) == persons(4, 0)
    assert persons(4, 0) != persons(4, 1)
    assert persons(4, 1) == persons(5, 0)  # as documented: drawn from seed + index
    applicant = queue(poor_rate=0.3)
    poor = sum(applicant.poor(n) for n in range(1000))
    assert 230 < poor < 370
    assert [applicant.poor(n) for n in range(50)] == [applicant.poor(n) for n in range(50)]
    assert applicant.draw_key(3, "left") == "4:3:left"  # each part of a presentation its own
