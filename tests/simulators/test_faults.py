"""What every simulated device's faults share (simulators/faults.py): the spec syntax, fault
files, and how armed faults are used up; run with each device's own words."""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Any

import pytest

from simulators import fingerprint_faults, iris_faults
from simulators.faults import FaultPlan, FaultSpecError, FaultSyntax

Syntax = FaultSyntax[Any]
PlanType = type[FaultPlan[Any]]

SYNTAXES = {"fingerprint": fingerprint_faults.SYNTAX, "iris": iris_faults.SYNTAX}
PLANS: dict[str, PlanType] = {
    "fingerprint": fingerprint_faults.FaultPlan,
    "iris": iris_faults.FaultPlan,
}


@pytest.fixture(params=sorted(SYNTAXES))
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def syntax(device: str) -> Syntax:
    return SYNTAXES[device]


@pytest.fixture
def plan_type(device: str) -> PlanType:
    return PLANS[device]


@pytest.mark.parametrize(
    ("spec", "kind", "count", "seconds"),
    [
        ("silence", "silence", 1, None),
        ("silence:2", "silence", 2, None),
        ("SILENCE:1.5s", "silence", 1, 1.5),
        ("unplug-mid-image", "unplug-mid-image", 10, None),
        ("unplug-mid-image:3", "unplug-mid-image", 3, None),
        ("garbage", "garbage", 16, None),
        ("garbage:64", "garbage", 64, None),
    ],
)
def test_the_kinds_every_device_has(
    syntax: Syntax,
    spec: str,
    kind: str,
    count: int,
    seconds: float | None,
) -> None:
    fault = syntax.parse(spec)
    assert (fault.kind.value, fault.count, fault.seconds) == (kind, count, seconds)
    assert syntax.parse(fault.describe()) == fault  # what a control port reports


@pytest.mark.parametrize(
    "spec",
    ["", "explode", "silence:x", "silence:1:2", "silence:-1s", "silence:nans", "silence:0s",
     "garbage:-2", "code:0x01", "code:fly:1", "code:0x01:0x100", "code:0x01:1:x"],
)  # fmt: skip
def test_bad_specs_say_what_is_wrong(syntax: Syntax, spec: str) -> None:
    with pytest.raises(FaultSpecError):
        syntax.parse(spec)


def test_code_faults_name_a_command_or_give_its_number(syntax: Syntax) -> None:
    by_number = syntax.parse("code:0x01:0x20:2")
    assert (by_number.command, by_number.code, by_number.count) == (0x01, 0x20, 2)
    name, code = next(iter(syntax.commands.items()))
    assert syntax.parse(f"code:{name.upper()}:{code}").command == code
    assert syntax.parse(by_number.describe()) == by_number


def test_fault_tables(syntax: Syntax) -> None:
    assert syntax.from_object({"kind": "silence", "seconds": 2}) == syntax.parse("silence:2s")
    assert syntax.from_object({"kind": "garbage", "count": 8}) == syntax.parse("garbage:8")
    table = {"kind": "code", syntax.command_word: "0x01", "code": 5, "count": 2}
    assert syntax.from_object(table) == syntax.parse("code:0x01:5:2")
    with pytest.raises(FaultSpecError, match="unknown fault keys"):
        syntax.from_object({"kind": "silence", "times": 2})
    with pytest.raises(FaultSpecError):
        syntax.from_object(42)


def test_fault_files_in_json_and_toml(syntax: Syntax, tmp_path: Path) -> None:
    json_file = tmp_path / "faults.json"
    json_file.write_text('["silence:2", {"kind": "garbage", "count": 8}]')
    toml_file = tmp_path / "faults.toml"
    toml_file.write_text('faults = ["silence:2", {kind = "garbage", count = 8}]\n')
    expected = [syntax.parse("silence:2"), syntax.parse("garbage:8")]
    assert syntax.load(json_file) == syntax.load(toml_file) == expected
    (tmp_path / "object.json").write_text('{"kind": "silence"}')
    with pytest.raises(FaultSpecError, match="list of faults"):
        syntax.load(tmp_path / "object.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(FaultSpecError, match="not valid JSON"):
        syntax.load(tmp_path / "bad.json")
    (tmp_path / "bad.toml").write_text("faults = [")
    with pytest.raises(FaultSpecError, match="not valid TOML"):
        syntax.load(tmp_path / "bad.toml")
    with pytest.raises(FaultSpecError, match="cannot read"):
        syntax.load(tmp_path / "missing.json")


def test_faults_are_used_up(syntax: Syntax, plan_type: PlanType) -> None:
    plan = plan_type([syntax.parse("code:0x01:0x20:2"), syntax.parse("silence:0")])
    assert plan.armed() == [syntax.parse("code:0x01:0x20:2").describe()]  # nothing to arm
    assert plan.forced_code(0x02) is None  # another command
    assert plan.forced_code(0x01) == 0x20 and plan.forced_code(0x01) == 0x20
    assert plan.forced_code(0x01) is None
    assert plan.armed() == []


def test_silence_by_count_and_by_time(syntax: Syntax, plan_type: PlanType) -> None:
    plan = plan_type([syntax.parse("silence:2")])
    assert plan.silent() and plan.silent() and not plan.silent()
    plan.arm(syntax.parse("silence:0.2s"))
    time.sleep(0.3)  # the window starts with the next command, not when armed
    assert plan.silent() and plan.silent()
    time.sleep(0.25)
    assert not plan.silent()
    plan.arm(syntax.parse("silence:5s"))
    assert plan.silent()
    plan.clear()
    assert not plan.silent() and plan.armed() == []


def test_size_faults_are_taken_whole(syntax: Syntax, plan_type: PlanType) -> None:
    plan = plan_type([syntax.parse("garbage:30"), syntax.parse("unplug-mid-image:4")])
    assert plan.garbage() == 30 and plan.garbage() == 0
    assert plan.unplug_after() == 4 and plan.unplug_after() is None


def test_a_device_kinds_must_include_every_common_kind() -> None:
    class Kinds(enum.Enum):  # silence, garbage and code, but no unplug-mid-image
        SILENCE = "silence"
        GARBAGE = "garbage"
        CODE = "code"

    with pytest.raises(TypeError, match="unplug-mid-image"):
        FaultSyntax(
            fault=fingerprint_faults.Fault,
            kinds=Kinds,
            command_word="command",
            code_word="code",
            code_example="code:x:1",
            examples="",
        )


def test_the_syntax_summary_names_every_kind(syntax: Syntax) -> None:
    for kind in syntax.kinds:
        assert kind.value in syntax.summary
