"""Training mode: how many applicants the autopilot enrols, and that each one is valid."""

from __future__ import annotations

import threading

from edge.agent.autopilot import Autopilot
from edge.agent.settings import AutopilotSettings
from protocol.enrolment import Application


def test_enabled_without_a_count_enrols_until_stopped() -> None:
    # A newcomer's `[autopilot] enabled = true` must enrol someone: no count means no limit.
    assert AutopilotSettings(enabled=True).enrolments is None
    stop = threading.Event()
    seen: list[Application] = []

    def enrol(application: Application) -> None:
        seen.append(application)
        if len(seen) == 25:
            stop.set()

    pilot = Autopilot(station_id="st-1", count=None, interval_s=0, seed=7, enrol=enrol)
    pilot.run(stop)
    assert pilot.done == 25
    assert len({a.application_number for a in seen}) == 25


def test_a_count_is_a_limit_and_failures_do_not_count() -> None:
    stop = threading.Event()
    calls = 0

    def enrol(application: Application) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("sensor unplugged")

    pilot = Autopilot(station_id="st-1", count=3, interval_s=0, seed=7, enrol=enrol)
    # A failed attempt waits at least a second before the next; keep the test short.
    pilot.run(stop)
    assert (pilot.done, pilot.failed, calls) == (3, 1, 4)
