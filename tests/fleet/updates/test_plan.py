"""Rollout plans: validation, phase sizes, maintenance windows in Bangkok time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from fleet.updates.plan import (
    MaintenanceWindow,
    PhasePlan,
    RolloutPlan,
    Selector,
    assign_phases,
    window_for,
)


def test_default_plan_is_canary_ten_percent_rest() -> None:
    ids = [f"st-{n:02d}" for n in range(48)]
    phases = assign_phases(RolloutPlan(), ids)
    sizes = [sum(1 for p in phases.values() if p == i) for i in range(3)]
    assert sizes == [1, 5, 42]
    assert phases["st-00"] == 0


def test_the_last_phase_takes_what_is_left_and_small_fleets_leave_phases_empty() -> None:
    plan = RolloutPlan(phases=[PhasePlan(name="a", stations=2), PhasePlan(name="b", stations=2)])
    assert assign_phases(plan, ["x1", "x2", "x3", "x4", "x5"])["x5"] == 1
    assert set(assign_phases(RolloutPlan(), ["x1"]).values()) == {0}


@pytest.mark.parametrize(
    "document",
    [
        {"phases": [{"name": "a"}]},  # no size
        {"phases": [{"name": "a", "stations": 1, "percent": 5}]},  # two sizes
        {"phases": [{"name": "a", "rest": True}, {"name": "b", "stations": 1}]},
        {"phases": [{"name": "a", "stations": 1}, {"name": "a", "rest": True}]},
        {"phases": [{"name": "a", "stations": 1, "error_threshold": 1.5}]},
        {"phases": [{"name": "a", "stations": 1, "typo": 1}]},
        {"soak": {"tolerance": {"happiness": 1}}},
    ],
)
def test_bad_plans_are_refused(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RolloutPlan.model_validate(document)


@pytest.mark.parametrize(
    "document",
    [{}, {"fleet": True, "tags": ["mobile"]}, {"tags": ["Bad Tag"]}, {"stations": ["X"]}],
)
def test_a_selector_names_exactly_one_valid_target(document: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Selector.model_validate(document)


def test_a_window_across_midnight_is_open_at_night_only() -> None:
    night = [MaintenanceWindow(tag="mobile", start="19:00", end="07:00")]
    at_10 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # Monday 10:00 Bangkok
    at_23 = datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # Monday 23:00 Bangkok
    at_05 = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # Tuesday 05:00 Bangkok
    assert window_for({"mobile"}, night, at_10) == (False, None)
    assert window_for({"mobile"}, night, at_23) == (True, datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    assert window_for({"mobile"}, night, at_05) == (True, datetime(2026, 11, 24, 0, 0, tzinfo=UTC))
    assert window_for({"center"}, night, at_10) == (True, None)  # no window: any time


def test_the_window_days_are_the_days_it_opens_and_every_tag_must_agree() -> None:
    weekend = MaintenanceWindow(tag="north", start="20:00", end="06:00", days=["sat"])
    night = MaintenanceWindow(tag="mobile", start="19:00", end="07:00")
    saturday_night = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # Sat 22:00 Bangkok
    sunday_night = datetime(2026, 11, 29, 15, 0, tzinfo=UTC)  # Sun 22:00 Bangkok
    sunday_early = datetime(2026, 11, 28, 22, 0, tzinfo=UTC)  # Sun 05:00: Saturday's window
    assert window_for({"north"}, [weekend], saturday_night)[0]
    assert window_for({"north"}, [weekend], sunday_early)[0]
    assert not window_for({"north"}, [weekend], sunday_night)[0]
    # Both tags' windows must be open; the earlier end wins.
    open_, until = window_for({"north", "mobile"}, [weekend, night], sunday_early)
    assert open_ and until == datetime(2026, 11, 28, 23, 0, tzinfo=UTC)  # 06:00 Bangkok
    assert not window_for({"north", "mobile"}, [weekend, night], sunday_night)[0]
