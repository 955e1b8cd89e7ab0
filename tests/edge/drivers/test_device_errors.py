"""The error table shared by the drivers: lookup, flags, unknown codes, the message shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.drivers.device_errors import DeviceError, ErrorCode, ErrorTable

TABLE = ErrorTable(
    "test sensor",
    [
        ErrorCode(1, "BUSY", "the sensor is busy", "wait a moment", retryable=True),
        ErrorCode(2, "GONE", "the sensor stopped answering", "check its cable", device_lost=True),
        ErrorCode(-1, "OURS", "the driver's own failure", "restart"),
    ],
    unknown_advice="report the code",
)


class SensorError(DeviceError):
    table = TABLE


def test_a_code_carries_its_row_and_flags() -> None:
    busy = SensorError(1, call="capture")
    assert (busy.code, busy.name, busy.retryable, busy.device_lost) == (1, "BUSY", True, False)
    assert str(busy) == "test sensor: the sensor is busy (BUSY, 0x0001, in capture): wait a moment"
    gone = SensorError(2, detail="/dev/ttyUSB0")
    assert gone.device_lost and not gone.retryable
    assert "[/dev/ttyUSB0]" in str(gone)
    assert "(OURS, -1)" in str(SensorError(-1))


def test_an_unknown_code_is_still_the_devices_error_with_advice() -> None:
    error = SensorError(0x42)
    assert isinstance(error, DeviceError)
    assert error.name == "code 0x42" and error.advice == "report the code"
    assert not error.retryable and not error.device_lost


def test_the_table_is_iterable_and_refuses_a_code_twice() -> None:
    assert [row.name for row in TABLE] == ["BUSY", "GONE", "OURS"]
    assert len(TABLE) == 3 and 2 in TABLE and 9 not in TABLE
    assert TABLE.by_name("GONE").code == 2
    with pytest.raises(KeyError):
        TABLE.by_name("NOPE")
    with pytest.raises(ValueError, match="twice"):
        ErrorTable("x", [ErrorCode(1, "A", "a", "a"), ErrorCode(1, "B", "b", "b")])


def test_a_table_kept_as_toml_is_read_and_a_typo_refused(tmp_path: Path) -> None:
    good = tmp_path / "codes.toml"
    good.write_text(
        'device = "test sensor"\nunknown_advice = "report it"\n\n'
        '[[code]]\ncode = 0x01\nname = "BUSY"\nmessage = "busy"\nadvice = "wait"\n'
        "retryable = true\n\n"
        '[[code]]\ncode = -1\nname = "GONE"\nmessage = "gone"\nadvice = "replug"\n'
        "device_lost = true\n",
        encoding="utf-8",
    )
    table = ErrorTable.from_toml(good)
    assert [(row.code, row.retryable, row.device_lost) for row in table] == [
        (1, True, False),
        (-1, False, True),
    ]
    assert table.device == "test sensor" and table[0x42].advice == "report it"
    typo = tmp_path / "typo.toml"
    typo.write_text(
        'device = "x"\n[[code]]\ncode = 1\nname = "A"\nmessage = "a"\nadvice = "a"\nretry = true\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="row 1"):
        ErrorTable.from_toml(typo)
    missing = tmp_path / "missing.toml"
    missing.write_text('device = "x"\n[[code]]\ncode = 1\nname = "A"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="needs code, name, message, advice"):
        ErrorTable.from_toml(missing)
    (tmp_path / "nodevice.toml").write_text("[[code]]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs device"):
        ErrorTable.from_toml(tmp_path / "nodevice.toml")
