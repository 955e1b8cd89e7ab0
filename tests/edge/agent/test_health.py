"""What the heartbeat reads from the station itself."""

from __future__ import annotations

from pathlib import Path

from edge.agent.health import read_cpu_temperature


def test_cpu_temperature_from_the_thermal_zone(tmp_path: Path) -> None:
    (tmp_path / "temp").write_text("48312\n")
    assert read_cpu_temperature(tmp_path / "temp") == 48.3
    assert read_cpu_temperature(tmp_path / "missing") is None
    (tmp_path / "garbled").write_text("n/a")
    assert read_cpu_temperature(tmp_path / "garbled") is None
