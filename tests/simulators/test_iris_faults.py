"""The simulated iris camera's own faults: its kinds, its commands, its words.
(The syntax, files and plan every device shares are tested in test_faults.py.)"""

from __future__ import annotations

import pytest

from simulators.faults import FaultSpecError
from simulators.iris_faults import SYNTAX, Fault, FaultKind, FaultPlan

parse_fault = SYNTAX.parse
fault_from_object = SYNTAX.from_object


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
        ("code:start_capture:0x20", Fault(FaultKind.CODE, 1, command=0x03, code=0x20)),
        ("code:GetResultImage:5:2", Fault(FaultKind.CODE, 2, command=0x08, code=5)),
        ("code:get-status:0x10", Fault(FaultKind.CODE, 1, command=0x04, code=0x10)),
    ],
)
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected
    assert parse_fault(expected.describe()) == expected  # what the control port reports


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'; fault specs look like no-eye"),
        ("code:init", r"code faults look like code:start_capture:0x20\[:N\]"),
        ("code:fly:1", "unknown command 'fly'; use one of clear"),
        ("code:init:0x100", "a result code is one non-zero byte, got 0x100"),
        ("code:init:0", "a result code is one non-zero byte, got 0x0"),
        ("busy:-2", "the argument of busy must not be negative"),
    ],
)
def test_bad_fault_specs_use_the_protocol_words(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_fault(spec)


def test_code_tables_name_the_command() -> None:
    assert fault_from_object({"kind": "code", "command": "clear", "code": 5, "count": 2}) == (
        parse_fault("code:clear:5:2")
    )
    assert fault_from_object({"kind": "busy", "count": 3}) == parse_fault("busy:3")
    with pytest.raises(FaultSpecError, match="unknown fault keys"):
        fault_from_object({"kind": "code", "instruction": "clear", "code": 5})


def test_the_cameras_own_faults_are_used_up() -> None:
    plan = FaultPlan([parse_fault("busy:2"), parse_fault("code:init:0x20")])
    assert plan.armed() == ["busy:2", "code:init:0x20:1"]
    assert plan.busy() and plan.busy() and not plan.busy()
    assert plan.forced_code(0x01) == 0x20 and plan.forced_code(0x01) is None
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
