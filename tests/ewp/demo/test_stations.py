"""ewp/demo/stations.py: the demo's stations, and the agent configuration each one runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from edge.agent.settings import AgentSettings
from ewp.demo.options import DemoOptions
from ewp.demo.stations import (
    LIVE_ENROLMENT_INTERVAL_S,
    MOBILE_PROVINCES,
    Station,
    agent_config,
    demo_province,
    station_name,
)


def _station(tmp_path: Path) -> Station:
    station = Station("mu-01", "mobile", tmp_path / "mu-01", tmp_path / "mu-01" / "agent.toml")
    station.broker_url = "mqtts://127.0.0.1:8883"
    return station


def test_the_vans_come_first_then_the_centres() -> None:
    names = [station_name(n, 2) for n in range(4)]
    assert names == [
        ("mu-01", "mobile"),
        ("mu-02", "mobile"),
        ("ct-01", "center"),
        ("ct-02", "center"),
    ]
    assert demo_province(0, True) in MOBILE_PROVINCES
    centres = {demo_province(n, False) for n in range(77)}
    assert len(centres) == 77, "every province once before any repeats"


@pytest.mark.parametrize("live", [False, True])
def test_the_agent_configuration_is_valid_settings(tmp_path: Path, live: bool) -> None:
    options = DemoOptions(enrolments_per_station=3, eyes=("left",), seed=9)
    text = agent_config(
        options, _station(tmp_path), "tcp://127.0.0.1:7001", "tcp://127.0.0.1:7101", live=live
    )
    settings = AgentSettings.model_validate(tomllib.loads(text))
    assert settings.uplink.broker_url == "mqtts://127.0.0.1:8883"
    assert settings.sensors.iris is not None
    assert settings.autopilot.enabled and settings.autopilot.seed == 9
    if live:
        # Held after the summary: enrolments go on (no count), now and then.
        assert "enrolments =" not in text
        assert settings.autopilot.interval_s == LIVE_ENROLMENT_INTERVAL_S
    else:
        assert settings.autopilot.enrolments == 3
        assert settings.autopilot.interval_s == options.enrolment_interval_s


def test_without_eyes_no_iris_camera_is_configured(tmp_path: Path) -> None:
    text = agent_config(DemoOptions(eyes=()), _station(tmp_path), "tcp://127.0.0.1:7001", None)
    settings = AgentSettings.model_validate(tomllib.loads(text))
    assert settings.sensors.iris is None and settings.capture.eyes == []
