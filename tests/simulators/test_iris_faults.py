"""Fault specs of the simulated iris camera: syntax, files, and how faults are used up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulators.iris_faults import (
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
        ("no-eye", Fault(FaultKind.NO_EYE, 1)),
        ("no-eye:3", Fault(FaultKind.NO_EYE, 3)),
        ("occlusion:2", Fault(FaultKind.OCCLUSION, 2)),
        ("blur", Fault(FaultKind.BLUR, 1)),
        ("sensor-fault", Fault(FaultKind.SENSOR_FAULT, 1)),
        ("busy:4", Fault(FaultKind.BUSY, 4)),
        ("bad-crc:2", Fault(FaultKind.BAD_CRC, 2)),
        ("drop-events:5", Fault(FaultKind.DROP_EVENTS, 5)),
        ("silence:2", Fault(FaultKind.SILENCE, 2)),
        ("silence:1.5s", Fault(FaultKind.SILENCE, 1, seconds=1.5)),
        ("unplug-mid-image", Fault(FaultKind.UNPLUG_MID_IMAGE, 10)),
        ("unplug-mid-image:3", Fault(FaultKind.UNPLUG_MID_IMAGE, 3)),
        ("garbage", Fault(FaultKind.GARBAGE, 16)),
        ("code:start_capture:0x20", Fault(FaultKind.CODE, 1, command=0x03, code=0x20)),
        ("code:GetResultImage:5:2", Fault(FaultKind.CODE, 2, command=0x08, code=5)),
        ("code:0x04:0x10", Fault(FaultKind.CODE, 1, command=0x04, code=0x10)),
    ],
)
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected
    assert parse_fault(expected.describe()) == expected  # what the control port reports


@pytest.mark.parametrize(
    "spec",
    ["", "explode", "no-eye:x", "no-eye:1:2", "silence:-1s", "silence:nans", "code:init",
     "code:fly:1", "code:init:0x100", "code:init:0", "busy:-2"],
)  # fmt: skip
def test_bad_fault_specs_say_what_is_wrong(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_fault(spec)


def test_fault_tables() -> None:
    assert fault_from_object({"kind": "silence", "seconds": 2}) == parse_fault("silence:2s")
    assert fault_from_object({"kind": "code", "command": "clear", "code": 5, "count": 2}) == (
        parse_fault("code:clear:5:2")
    )
    assert fault_from_object({"kind": "busy", "count": 3}) == parse_fault("busy:3")
    with pytest.raises(FaultSpecError, match="unknown fault keys"):
        fault_from_object({"kind": "busy", "colour": "red"})
    with pytest.raises(FaultSpecError):
        fault_from_object(42)


def test_fault_files(tmp_path: Path) -> None:
    json_file = tmp_path / "faults.json"
    json_file.write_text('["no-eye", {"kind": "silence", "seconds": 1.5}]')
    toml_file = tmp_path / "faults.toml"
    toml_file.write_text('faults = ["no-eye", {kind = "silence", seconds = 1.5}]\n')
    expected = [parse_fault("no-eye"), parse_fault("silence:1.5s")]
    assert load_faults(json_file) == load_faults(toml_file) == expected
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "object.json").write_text('{"kind": "busy"}')
    for name in ("bad.json", "object.json", "missing.json"):
        with pytest.raises(FaultSpecError):
            load_faults(tmp_path / name)


def test_faults_are_used_up() -> None:
    plan = FaultPlan([parse_fault("busy:2"), parse_fault("code:init:0x20")])
    assert plan.armed() == ["busy:2", "code:init:0x20:1"]
    assert plan.busy() and plan.busy() and not plan.busy()
    assert plan.forced_code(0x02) is None  # another command
    assert plan.forced_code(0x01) == 0x20 and plan.forced_code(0x01) is None
    plan.arm(parse_fault("unplug-mid-image:4"))
    plan.arm(parse_fault("garbage:32"))
    assert plan.unplug_after() == 4 and plan.unplug_after() is None
    assert plan.garbage() == 32 and plan.garbage() == 0
    for kind, use in (
        ("no-eye", plan.no_eye),
        ("occlusion", plan.occlusion),
        ("blur", plan.blur),
        ("sensor-fault", plan.sensor_fault),
        ("bad-crc", plan.corrupt_frame),
        ("drop-events", plan.drop_event),
    ):
        plan.arm(parse_fault(kind))
        assert use() and not use()
    plan.arm(parse_fault("no-eye:0"))  # nothing to arm
    assert plan.armed() == []


def test_silence_by_count_and_by_time() -> None:
    plan = FaultPlan([parse_fault("silence:2")])
    assert plan.silent() and plan.silent() and not plan.silent()
    plan.arm(parse_fault("silence:0.2s"))
    assert plan.silent() and plan.silent()
    time.sleep(0.25)
    assert not plan.silent()
    plan.arm(parse_fault("silence:5s"))
    assert plan.silent()
    plan.clear()
    assert not plan.silent() and plan.armed() == []
