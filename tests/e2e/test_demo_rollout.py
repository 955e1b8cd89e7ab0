"""`ewp demo --rollout` and `--rollout-fail-canary` at small scale: three centres run their
agent from a release layout under the demo's supervisor; a new release is built, published and
rolled out by the fleet's own engine while the stations enrol, and each station's own updater
installs it, restarts into it and passes (or fails) its health check."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from edge.agent.updater.layout import Layout
from ewp.demo.options import DemoOptions
from ewp.demo.run import run_demo
from ewp.demo.summary import DemoResult


def _run(tmp_path: Path, *, broken: bool) -> tuple[DemoResult, str]:
    out = io.StringIO()
    options = DemoOptions(
        stations=3,
        mobile=0,
        enrolments_per_station=2,
        fingers=("right-index", "left-index"),
        eyes=(),
        timeout_s=170,
        workdir=tmp_path / "demo",
        enrolment_interval_s=10.0,
        rollout=not broken,
        rollout_fail_canary=broken,
        updatable=3,
    )
    result = run_demo(options, Console(file=out, width=200), hold=False)
    return result, out.getvalue()


@pytest.mark.slow
def test_the_demo_rolls_a_new_release_out_in_phases_while_stations_enrol(
    tmp_path: Path,
) -> None:
    result, text = _run(tmp_path, broken=False)
    assert result.ok, (result.problems, result.rollout, text)
    rollout = result.rollout
    assert rollout is not None
    assert rollout["state"] == "completed"
    assert [(p["name"], p["state"], p["stations"]) for p in rollout["phases"]] == [
        ("canary", "passed", 1), ("quarter", "passed", 1), ("rest", "passed", 1),
    ]  # fmt: skip
    new = rollout["to_version"]
    assert new != rollout["from_version"]
    for station in rollout["stations"]:
        assert (station["state"], station["running"]) == ("healthy", new), station
        assert station["restarts"] >= 1  # it restarted into the new version
        layout = Layout(tmp_path / "demo" / "stations" / station["station_id"] / "opt")
        assert layout.installed_version() == new and layout.previous_version() != new
    assert rollout["updated"] == 3 and rollout["rolled_back"] == 0
    # what every station created still arrived exactly once, and was opened
    assert result.packets_created == result.expected == 6 == result.opened_by_central
    assert result.lost == result.duplicates == 0
    assert "rollout completed on every station" in text


@pytest.mark.slow
def test_a_broken_release_fails_at_the_canary_which_rolls_back_and_the_rollout_halts(
    tmp_path: Path,
) -> None:
    result, text = _run(tmp_path, broken=True)
    assert result.ok, (result.problems, result.rollout, text)
    rollout = result.rollout
    assert rollout is not None
    assert rollout["state"] == "halted"
    assert [p["state"] for p in rollout["phases"]] == ["failed", "pending", "pending"]
    canary, *others = rollout["stations"]
    assert canary["phase"] == "canary" and canary["state"] == "rolled-back"
    assert canary["running"] == rollout["from_version"]
    assert "the sensor refused the password" in canary["reason"]
    assert "canary" in rollout["halt_reason"] and "rolled-back" in rollout["halt_reason"]
    assert rollout["offered_outside_canary"] == []
    for station in others:
        assert station["state"] == "skipped" and station["restarts"] == 0, station
        layout = Layout(tmp_path / "demo" / "stations" / station["station_id"] / "opt")
        assert not (layout.releases / rollout["to_version"]).exists()
    assert rollout["updated"] == 0 and rollout["rolled_back"] == 1
    assert result.packets_created == result.expected == 6 == result.opened_by_central
    assert result.lost == result.duplicates == 0
    assert "rollout halted:" in text and "rollout halted at the canary" in text
