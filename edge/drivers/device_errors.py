"""Device errors as tables: one error type per device, carrying the device's own code.

A device (or its vendor library) answers with numeric result codes. Rather than one class per
code, a driver declares an :class:`ErrorTable` — code, the vendor's name for it, what it means,
what the operator can do about it, and two flags the caller branches on — and one subclass of
:class:`DeviceError` bound to that table::

    IDDK_ERRORS = ErrorTable("iris camera (IDDK)", [
        ErrorCode(0x3006, "IDDK_SE_NO_QUALIFIED_FRAME", "no frame was good enough",
                  "ask the applicant to look at the camera again", retryable=True),
        ...
    ])

    class IddkError(DeviceError):
        table = IDDK_ERRORS

    raise IddkError(0x3006, call="Iddk_GetResultImage")

The message a person reads is built from the table: ``iris camera (IDDK): no frame was good
enough (IDDK_SE_NO_QUALIFIED_FRAME, 0x3006, in Iddk_GetResultImage): ask the applicant to look
at the camera again``. Callers decide on flags, never on message text:

* ``retryable``: the same operation may succeed if simply tried again (the applicant moved, a
  frame was not good enough);
* ``device_lost``: the device is gone or its handle is dead (unplugged, I/O failure): close
  it and find it again before the next try.

A table may be kept as data (``ErrorTable.from_toml``): the serial drivers' tables are TOML
files beside them. A code missing from the table still raises the device's error type, with
the table's advice for unknown codes, so a new firmware's code never escapes as something else.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from typing import Any, ClassVar

__all__ = ["CodedError", "DeviceError", "ErrorCode", "ErrorTable"]


@dataclass(frozen=True)
class ErrorCode:
    """One row of a device's error table."""

    code: int
    name: str
    message: str
    advice: str
    retryable: bool = False
    device_lost: bool = False


class ErrorTable:
    """The codes one device can answer with, looked up by number."""

    def __init__(
        self,
        device: str,
        rows: Iterable[ErrorCode],
        *,
        unknown_advice: str = "note the code and report it to the station's support",
    ) -> None:
        self.device = device
        self.unknown_advice = unknown_advice
        self._rows: dict[int, ErrorCode] = {}
        for row in rows:
            if row.code in self._rows:
                raise ValueError(f"{device}: error code {row.code:#x} is in the table twice")
            self._rows[row.code] = row

    @classmethod
    def from_toml(cls, source: Traversable) -> ErrorTable:
        """A table kept as data: ``device``, ``unknown_advice`` and one ``[[code]]`` a row.

        A key the table does not know, or a row without code, name, message or advice, is
        refused with the file and the row, so a typo cannot pass unnoticed.
        """
        data: dict[str, Any] = tomllib.loads(source.read_text(encoding="utf-8"))
        fields = {f.name for f in dataclasses.fields(ErrorCode)}
        unknown = set(data) - {"device", "unknown_advice", "code"}
        if unknown or "device" not in data:
            raise ValueError(f"{source}: needs device and [[code]] rows, not {sorted(unknown)}")
        rows = []
        for number, row in enumerate(data.get("code", []), 1):
            if set(row) - fields or not {"code", "name", "message", "advice"} <= set(row):
                raise ValueError(
                    f"{source}: row {number} needs code, name, message, advice "
                    f"(and may have retryable, device_lost): {row}"
                )
            rows.append(ErrorCode(**row))
        extra = {"unknown_advice": data["unknown_advice"]} if "unknown_advice" in data else {}
        return cls(data["device"], rows, **extra)

    def __getitem__(self, code: int) -> ErrorCode:
        """The row of ``code``; an unknown code gets a row saying so (never a KeyError)."""
        row = self._rows.get(code)
        if row is not None:
            return row
        return ErrorCode(code, f"code {code:#x}", "unknown result code", self.unknown_advice)

    def __contains__(self, code: object) -> bool:
        return code in self._rows

    def __iter__(self) -> Iterator[ErrorCode]:
        return iter(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    def by_name(self, name: str) -> ErrorCode:
        for row in self._rows.values():
            if row.name == name:
                return row
        raise KeyError(name)

    def describe(self, code: int, *, call: str = "", detail: str = "") -> str:
        """The message a person reads for ``code``: device, meaning, detail, code, advice."""
        row = self[code]
        where = f", in {call}" if call else ""
        number = f"{code:#06x}" if code >= 0 else str(code)
        shown = f" [{detail}]" if detail else ""
        return f"{self.device}: {row.message}{shown} ({row.name}, {number}{where}): {row.advice}"


class CodedError:
    """The row of an error's code and its flags, mixed into each device's error type."""

    row: ErrorCode

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def advice(self) -> str:
        return self.row.advice

    @property
    def retryable(self) -> bool:
        return self.row.retryable

    @property
    def device_lost(self) -> bool:
        return self.row.device_lost


class DeviceError(CodedError, Exception):
    """A device's error: its code, looked up in the subclass's ``table``.

    Subclasses set ``table``; ``call`` names what was being done (a library function, a
    command) and ``detail`` adds what only the caller knows (a path, a device name).
    """

    table: ClassVar[ErrorTable]

    def __init__(self, code: int, *, call: str = "", detail: str = "") -> None:
        self.code = code
        self.call = call
        self.detail = detail
        self.row = self.table[code]
        super().__init__(self.table.describe(code, call=call, detail=detail))
