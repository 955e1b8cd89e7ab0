"""Fault specs of the simulated fingerprint sensor: syntax, files, and how faults are used up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulators.fingerprint_faults import (
    Fault,
    FaultKind,
    FaultPlan,
    FaultSpecError,
    fault_from_object,
    load_faults,
    parse_fault,
)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no-finger", Fault(FaultKind.NO_FINGER, 1)),
        ("no-finger:3", Fault(FaultKind.NO_FINGER, 3)),
        ("messy-image", Fault(FaultKind.MESSY_IMAGE, 1)),
        ("few-features:2", Fault(FaultKind.FEW_FEATURES, 2)),
        ("bad-checksum:4", Fault(FaultKind.BAD_CHECKSUM, 4)),
        ("silence:2", Fault(FaultKind.SILENCE, 2)),
        ("silence:1.5s", Fault(FaultKind.SILENCE, 1, seconds=1.5)),
        ("unplug-mid-image", Fault(FaultKind.UNPLUG_MID_IMAGE, 10)),
        ("unplug-mid-image:3", Fault(FaultKind.UNPLUG_MID_IMAGE, 3)),
        ("garbage", Fault(FaultKind.GARBAGE, 16)),
        ("code:store:0x18", Fault(FaultKind.CODE, 1, instruction=0x06, code=0x18)),
        ("code:GenImg:3:2", Fault(FaultKind.CODE, 2, instruction=0x01, code=3)),
        ("code:0x1d:0x01", Fault(FaultKind.CODE, 1, instruction=0x1D, code=1)),
    ],
)
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["", "explode", "no-finger:x", "no-finger:1:2", "silence:-1s", "code:store", "code:fly:1",
     "code:store:0x100", "no-finger:-2"],
)  # fmt: skip
def test_bad_fault_specs_say_what_is_wrong(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault(spec)


def test_fault_tables() -> None:
    assert fault_from_object({"kind": "silence", "seconds": 2}) == parse_fault("silence:2s")
    assert fault_from_object({"kind": "code", "instruction": "store", "code": 24}) == parse_fault(
        "code:store:24"
    )
    with pytest.raises(FaultSpecError, match="unknown fault keys"):
        fault_from_object({"kind": "no-finger", "times": 2})


def test_fault_files_in_json_and_toml(tmp_path: Path) -> None:
    json_file = tmp_path / "faults.json"
    json_file.write_text('["no-finger:2", {"kind": "garbage", "count": 8}]')
    toml_file = tmp_path / "faults.toml"
    toml_file.write_text('faults = ["no-finger:2", {kind = "garbage", count = 8}]\n')
    expected = [Fault(FaultKind.NO_FINGER, 2), Fault(FaultKind.GARBAGE, 8)]
    assert load_faults(json_file) == expected
    assert load_faults(toml_file) == expected
    (tmp_path / "bad.json").write_text('{"kind": "no-finger"}')
    with pytest.raises(FaultSpecError, match="list of faults"):
        load_faults(tmp_path / "bad.json")
    with pytest.raises(FaultSpecError, match="cannot read"):
        load_faults(tmp_path / "missing.json")


def test_faults_are_used_up() -> None:
    plan = FaultPlan([parse_fault("no-finger:2"), parse_fault("code:store:0x18")])
    assert plan.no_finger() and plan.no_finger() and not plan.no_finger()
    assert plan.forced_code(0x01) is None
    assert plan.forced_code(0x06) == 0x18
    assert plan.forced_code(0x06) is None
    assert plan.armed() == []


def test_timed_silence_starts_with_the_next_command() -> None:
    plan = FaultPlan([parse_fault("silence:0.2s")])
    time.sleep(0.3)  # the window has not started yet
    assert plan.silent()
    assert plan.silent()
    time.sleep(0.25)
    assert not plan.silent()


def test_size_faults_are_taken_whole() -> None:
    plan = FaultPlan([parse_fault("garbage:30"), parse_fault("unplug-mid-image:4")])
    assert plan.garbage() == 30
    assert plan.garbage() == 0
    assert plan.unplug_after() == 4
    assert plan.unplug_after() is None
