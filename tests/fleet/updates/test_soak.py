"""The soak measures, from heartbeats stored through ingest."""

from __future__ import annotations

from datetime import timedelta

from fleet.updates import soak
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import heartbeat


def _send(rig: OpsRig, station_id: str, **counters: int) -> None:
    starts = counters.pop("agent_starts", 1)
    pending = counters.pop("pending", 0)
    rig.heartbeat(
        heartbeat(
            station_id,
            captures={"enrolments_completed": 0, "attempts_ok": 0, "attempts_failed": 0,
                      "sensor_errors": 0, **counters},
            agent_starts=starts,
            queue={"pending": pending},
        )
    )  # fmt: skip


def test_counters_across_a_restart_and_the_hourly_rates(rig: OpsRig) -> None:
    rig.station("st-01")
    start = rig.clock()
    _send(rig, "st-01", enrolments_completed=10, attempts_ok=40, attempts_failed=0)
    rig.clock.advance(minutes=30)
    _send(rig, "st-01", enrolments_completed=14, attempts_ok=56, attempts_failed=4, pending=4)
    rig.clock.advance(minutes=30)
    # The agent restarted: its counters began again at zero.
    _send(rig, "st-01", enrolments_completed=2, attempts_ok=8, attempts_failed=0,
          agent_starts=2, sensor_errors=1)  # fmt: skip
    with rig.sessions() as session:
        means, counted = soak.group_measures(session, ["st-01"], start, rig.clock(), min_samples=2)
    assert counted == 1
    assert means["captures_per_hour"] == 6.0  # 4 + 2 in one hour
    assert means["capture_failure_rate"] == 4 / (16 + 8 + 4)
    assert means["restarts_per_hour"] == 1.0
    assert means["sensor_errors_per_hour"] == 1.0
    assert means["upload_backlog"] == 4 / 3


def test_too_few_heartbeats_do_not_count(rig: OpsRig) -> None:
    rig.station("st-01")
    start = rig.clock()
    _send(rig, "st-01")
    with rig.sessions() as session:
        _means, counted = soak.group_measures(
            session, ["st-01"], start, start + timedelta(hours=1), min_samples=2
        )
    assert counted == 0


def test_a_regression_needs_both_the_margin_and_the_tolerance() -> None:
    # 10 % worse failure rate at 0.02 vs 0.01: over the margin, under the tolerance.
    assert not soak.regressed("capture_failure_rate", 0.02, 0.01, 0.25, 0.05)
    assert soak.regressed("capture_failure_rate", 0.30, 0.01, 0.25, 0.05)
    # Fewer captures is worse (higher is better).
    assert soak.regressed("captures_per_hour", 2.0, 10.0, 0.25, 1.0)
    assert not soak.regressed("captures_per_hour", 9.0, 10.0, 0.25, 1.0)
    assert not soak.regressed("upload_backlog", None, 3.0, 0.25, 5.0)
