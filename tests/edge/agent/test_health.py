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


def test_a_sensor_detail_longer_than_a_heartbeat_carries_is_cut_to_fit() -> None:
    from edge.agent.health import SensorBoard
    from protocol.bounds import SHORT_TEXT_LEN

    board = SensorBoard()
    advice = "iris camera (IDDK): no iris camera found ... " + "check the udev rule " * 20
    board.set("iris", "missing", advice)
    (state,) = board.snapshot()
    assert state.detail is not None and len(state.detail) == SHORT_TEXT_LEN
    assert state.detail.startswith("iris camera (IDDK): no iris camera found")
    assert state.detail.endswith("…")
    board.set("iris", "ok", "short")
    assert board.snapshot()[0].detail == "short"
