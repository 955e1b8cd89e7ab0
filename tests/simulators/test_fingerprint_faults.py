"""The simulated fingerprint sensor's own faults: its kinds, its instructions, its words.
(The syntax, files and plan every device shares are tested in test_faults.py.)"""

from __future__ import annotations

import pytest

from simulators.faults import FaultSpecError
from simulators.fingerprint_faults import SYNTAX, Fault, FaultKind, FaultPlan

parse_fault = SYNTAX.parse
fault_from_object = SYNTAX.from_object


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("no-finger", Fault(FaultKind.NO_FINGER, 1)),
        ("no-finger:3", Fault(FaultKind.NO_FINGER, 3)),
        ("messy-image", Fault(FaultKind.MESSY_IMAGE, 1)),
        ("few-features:2", Fault(FaultKind.FEW_FEATURES, 2)),
        ("bad-checksum:4", Fault(FaultKind.BAD_CHECKSUM, 4)),
        ("bad-data-checksum", Fault(FaultKind.BAD_DATA_CHECKSUM, 1)),
        ("code:store:0x18", Fault(FaultKind.CODE, 1, command=0x06, code=0x18)),
        ("code:GenImg:3:2", Fault(FaultKind.CODE, 2, command=0x01, code=3)),
        ("code:0x1d:0x01", Fault(FaultKind.CODE, 1, command=0x1D, code=1)),
    ],
)
def test_fault_specs(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected
    assert parse_fault(expected.describe()) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'; fault specs look like no-finger:3"),
        ("code:store", r"code faults look like code:store:0x18\[:N\]"),
        ("code:fly:1", "unknown instruction 'fly'; use one of auraledconfig"),
        ("code:store:0x100", "a confirmation code is one byte, got 0x100"),
        ("code:store:x", "the confirmation code must be a number"),
        ("no-finger:-2", "the argument of no-finger must not be negative"),
    ],
)
def test_bad_fault_specs_use_the_datasheet_words(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_fault(spec)


def test_code_tables_name_the_instruction() -> None:
    assert fault_from_object({"kind": "code", "instruction": "store", "code": 24}) == parse_fault(
        "code:store:24"
    )
    with pytest.raises(FaultSpecError, match="unknown fault keys"):
        fault_from_object({"kind": "code", "command": "store", "code": 24})


def test_the_sensors_own_faults_are_used_up() -> None:
    plan = FaultPlan([parse_fault("no-finger:2"), parse_fault("code:store:0x18")])
    assert plan.armed() == ["no-finger:2", "code:store:0x18:1"]
    assert plan.no_finger() and plan.no_finger() and not plan.no_finger()
    assert plan.forced_code(0x06) == 0x18 and plan.forced_code(0x06) is None
    plan.arm(parse_fault("few-features"))
    plan.arm(parse_fault("messy-image"))
    assert plan.bad_image() == 0x07 and plan.bad_image() == 0x06 and plan.bad_image() is None
    plan.arm(parse_fault("bad-data-checksum"))
    assert not plan.corrupt_packet()  # an ack is not a data packet
    assert plan.corrupt_packet(data=True) and not plan.corrupt_packet(data=True)
    plan.arm(parse_fault("bad-checksum"))
    assert plan.corrupt_packet() and not plan.corrupt_packet()
    assert plan.armed() == []
