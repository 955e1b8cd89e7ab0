"""Operator sessions: PIN plus a finger identified on the module's own library."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from edge.agent.operators import (
    OperatorError,
    OperatorLockedError,
    OperatorRegistry,
    check_pin,
    hash_pin,
)
from edge.drivers.fingerprint_r30x import FingerprintSensor
from simulators.fingerprint import (
    RunningFingerprintSimulator,
    SensorConfig,
    start_fingerprint_simulator,
)
from tests.edge.agent.scripted_hand import ScriptedHand


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[RunningFingerprintSimulator]:
    with start_fingerprint_simulator(
        SensorConfig(mode="manual", library=tmp_path / "library.json")
    ) as running:
        yield running


@pytest.fixture
def sensor(sim: RunningFingerprintSimulator) -> Iterator[FingerprintSensor]:
    port = serial.serial_for_url(sim.url, timeout=0.05)
    yield FingerprintSensor(port, timeout=1.0)
    port.close()


def test_pin_hashes() -> None:
    stored = hash_pin("482913")
    assert check_pin("482913", stored)
    assert not check_pin("482914", stored)
    assert "482913" not in stored


def test_register_then_login_with_pin_and_finger(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor, tmp_path: Path
) -> None:
    clock = [1000.0]
    registry = OperatorRegistry(tmp_path / "operators.sqlite", clock=lambda: clock[0])
    enrol = ScriptedHand(sim.sensor, [(900, "right-index", "good")] * 2)
    operator = registry.add(sensor, "somchai", "Somchai P.", "482913", timeout_s=5, prompt=enrol)
    assert operator.pages and sensor.template_count() == 1
    login = ScriptedHand(sim.sensor, [(900, "right-index", "good")])
    session = registry.login(sensor, "somchai", "482913", timeout_s=5, prompt=login)
    assert session.operator.operator_id == "somchai"
    assert not session.expired(clock[0] + 299)
    assert session.expired(clock[0] + 301), "idle logout after 5 minutes"


@pytest.mark.parametrize("pin", ["12", "1111", "1234", "abcd"])
def test_weak_or_malformed_pins_are_refused(
    sensor: FingerprintSensor, tmp_path: Path, pin: str
) -> None:
    registry = OperatorRegistry(tmp_path / "operators.sqlite")
    with pytest.raises(OperatorError, match="PIN"):
        registry.add(sensor, "op", "Op", pin, timeout_s=1)


def test_wrong_finger_wrong_pin_and_lockout(
    sim: RunningFingerprintSimulator, sensor: FingerprintSensor, tmp_path: Path
) -> None:
    clock = [1000.0]
    registry = OperatorRegistry(
        tmp_path / "operators.sqlite", max_failures=3, lockout_s=600, clock=lambda: clock[0]
    )
    registry.add(
        sensor,
        "malee",
        "Malee K.",
        "559031",
        timeout_s=5,
        prompt=ScriptedHand(sim.sensor, [(901, "left-thumb", "good")] * 2),
    )
    with pytest.raises(OperatorError, match="wrong PIN"):
        registry.login(sensor, "malee", "000000", timeout_s=5)
    stranger = ScriptedHand(sim.sensor, [(902, "left-thumb", "good")])
    with pytest.raises(OperatorError, match=r"not recognised|not registered"):
        registry.login(sensor, "malee", "559031", timeout_s=5, prompt=stranger)
    with pytest.raises(OperatorError, match="wrong PIN"):
        registry.login(sensor, "malee", "111111", timeout_s=5)
    owner = ScriptedHand(sim.sensor, [(901, "left-thumb", "good")])
    with pytest.raises(OperatorLockedError, match="locked for 10 more minutes"):
        registry.login(sensor, "malee", "559031", timeout_s=5, prompt=owner)
    clock[0] += 601
    session = registry.login(sensor, "malee", "559031", timeout_s=5, prompt=owner)
    assert session.operator.name == "Malee K."


def test_unknown_operator_gives_nothing_away(sensor: FingerprintSensor, tmp_path: Path) -> None:
    registry = OperatorRegistry(tmp_path / "operators.sqlite")
    with pytest.raises(OperatorError, match=r"^unknown operator or wrong PIN$"):
        registry.login(sensor, "nobody", "482913", timeout_s=1)
