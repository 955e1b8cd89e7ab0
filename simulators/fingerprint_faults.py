"""Faults the simulated fingerprint sensor can be told to commit, and their spec syntax.

A fault spec is ``KIND`` or ``KIND:ARGUMENT``; every fault is armed once and used up:

==========================  ====================================================================
``no-finger[:N]``           the next N GenImg report "no finger" (0x02) even with a finger on
``messy-image[:N]``         the next N Img2Tz fail with "image too messy" (0x06)
``few-features[:N]``        the next N Img2Tz fail with "too few features" (0x07)
``bad-checksum[:N]``        the next N packets the sensor sends carry a wrong checksum
``bad-data-checksum[:N]``   the next N data packets (of UpImage/UpChar) carry a wrong checksum
``silence[:N]``             the next N commands get no answer at all
``silence:Ts``              no answer for T seconds (a number with ``s``), from the next command
``unplug-mid-image[:K]``    the next UpImage stops after K data packets and the cable is pulled
``garbage[:N]``             N bytes of line noise (with a false start code) before the next reply
``code:INSTR:CODE[:N]``     the next N INSTR commands answer with confirmation code CODE
==========================  ====================================================================

``N`` defaults to 1 (``K`` to 10, garbage to 16 bytes). ``INSTR`` is an instruction name as in
the datasheet (``GenImg``, ``Img2Tz``, ``Store``, ...; case does not matter) or its code
(``0x06``); ``CODE`` is a number (``0x18`` or ``24``). Example: ``code:store:0x18`` makes the
next Store fail with "error when writing flash".

A fault file (``--faults FILE``) is JSON or TOML: a list of specs, or of tables with ``kind``
and ``count`` / ``seconds`` / ``instruction`` / ``code``. In TOML the list is called ``faults``::

    faults = ["no-finger:2", {kind = "silence", seconds = 1.5}]
"""

from __future__ import annotations

import enum
import json
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

INSTRUCTIONS: dict[str, int] = {
    "genimg": 0x01,
    "img2tz": 0x02,
    "match": 0x03,
    "search": 0x04,
    "regmodel": 0x05,
    "store": 0x06,
    "loadchar": 0x07,
    "upchar": 0x08,
    "downchar": 0x09,
    "upimage": 0x0A,
    "deletchar": 0x0C,
    "empty": 0x0D,
    "setsyspara": 0x0E,
    "readsyspara": 0x0F,
    "vfypwd": 0x13,
    "templatenum": 0x1D,
    "readindextable": 0x1F,
    "auraledconfig": 0x35,
    "checksensor": 0x36,
    "handshake": 0x40,
}
INSTRUCTION_NAMES = {code: name for name, code in INSTRUCTIONS.items()}


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message shows the syntax."""


class FaultKind(enum.Enum):
    NO_FINGER = "no-finger"
    MESSY_IMAGE = "messy-image"
    FEW_FEATURES = "few-features"
    BAD_CHECKSUM = "bad-checksum"
    BAD_DATA_CHECKSUM = "bad-data-checksum"
    SILENCE = "silence"
    UNPLUG_MID_IMAGE = "unplug-mid-image"
    GARBAGE = "garbage"
    CODE = "code"


_DEFAULT_COUNT = {FaultKind.UNPLUG_MID_IMAGE: 10, FaultKind.GARBAGE: 16}
_SYNTAX = (
    "fault specs look like no-finger:3, messy-image, few-features, bad-checksum:2, "
    "bad-data-checksum, silence:4, "
    "silence:1.5s, unplug-mid-image:10, garbage:16 or code:store:0x18"
)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    count: int = 1  # commands, packets or bytes, per kind
    seconds: float | None = None  # silence for a time instead of a number of commands
    instruction: int | None = None  # for CODE
    code: int | None = None  # for CODE

    def describe(self) -> str:
        if self.kind is FaultKind.CODE:
            name = INSTRUCTION_NAMES.get(self.instruction or -1, f"{self.instruction:#04x}")
            return f"code:{name}:{self.code:#04x}:{self.count}"
        if self.seconds is not None:
            return f"{self.kind.value}:{self.seconds:g}s"
        return f"{self.kind.value}:{self.count}"


def _number(text: str, what: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise FaultSpecError(f"{what} must be a number, got {text!r}; {_SYNTAX}") from None
    if value < 0:
        raise FaultSpecError(f"{what} must not be negative, got {value}")
    return value


def _instruction(text: str) -> int:
    key = text.strip().lower().replace("_", "").replace("-", "")
    if key in INSTRUCTIONS:
        return INSTRUCTIONS[key]
    try:
        return int(text, 0)
    except ValueError:
        names = ", ".join(sorted(INSTRUCTIONS))
        raise FaultSpecError(f"unknown instruction {text!r}; use one of {names}") from None


def parse_fault(spec: str) -> Fault:
    """Parse one fault spec (see the module documentation for the syntax)."""
    parts = [part.strip() for part in spec.strip().split(":")]
    try:
        kind = FaultKind(parts[0].lower())
    except ValueError:
        raise FaultSpecError(f"unknown fault {parts[0]!r}; {_SYNTAX}") from None
    args = parts[1:]
    if kind is FaultKind.CODE:
        if len(args) not in (2, 3):
            raise FaultSpecError(f"code faults look like code:store:0x18[:N], got {spec!r}")
        code = _number(args[1], "the confirmation code")
        if code > 0xFF:
            raise FaultSpecError(f"a confirmation code is one byte, got {code:#x}")
        count = _number(args[2], "the count") if len(args) == 3 else 1
        return Fault(kind, count=count, instruction=_instruction(args[0]), code=code)
    if len(args) > 1:
        raise FaultSpecError(f"{kind.value} takes at most one argument, got {spec!r}; {_SYNTAX}")
    if not args or not args[0]:
        return Fault(kind, count=_DEFAULT_COUNT.get(kind, 1))
    if kind is FaultKind.SILENCE and args[0].endswith("s"):
        try:
            seconds = float(args[0][:-1])
        except ValueError:
            raise FaultSpecError(f"silence takes N commands or Ts seconds, got {spec!r}") from None
        if seconds <= 0:
            raise FaultSpecError("silence seconds must be positive")
        return Fault(kind, seconds=seconds)
    return Fault(kind, count=_number(args[0], f"the argument of {kind.value}"))


def fault_from_object(item: object) -> Fault:
    """A fault from a file or the control port: a spec string or a table with ``kind``."""
    if isinstance(item, str):
        return parse_fault(item)
    if not isinstance(item, dict) or "kind" not in item:
        raise FaultSpecError(f"a fault is a spec string or a table with 'kind', got {item!r}")
    known = {"kind", "count", "seconds", "instruction", "code"}
    unknown = set(item) - known
    if unknown:
        raise FaultSpecError(f"unknown fault keys {sorted(unknown)}; use {sorted(known)}")
    spec = str(item["kind"])
    if spec == FaultKind.CODE.value:
        spec += f":{item.get('instruction', '')}:{item.get('code', '')}"
        if "count" in item:
            spec += f":{item['count']}"
    elif "seconds" in item:
        spec += f":{item['seconds']}s"
    elif "count" in item:
        spec += f":{item['count']}"
    return parse_fault(spec)


def load_faults(path: Path) -> list[Fault]:
    """Faults from a JSON or TOML file (see the module documentation)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FaultSpecError(f"cannot read fault file {path}: {exc.strerror}") from None
    data: object
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text).get("faults", [])
        except tomllib.TOMLDecodeError as exc:
            raise FaultSpecError(f"{path} is not valid TOML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FaultSpecError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise FaultSpecError(f"{path} must hold a list of faults")
    return [fault_from_object(item) for item in data]


class FaultPlan:
    """The armed faults of one simulated sensor; thread-safe, each fault used up once."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._silence_until: float | None = None
        for fault in faults or []:
            self.arm(fault)

    def arm(self, fault: Fault) -> None:
        with self._lock:
            if fault.count > 0 or fault.seconds is not None:
                self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._silence_until = None

    def armed(self) -> list[str]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def _take(self, kind: FaultKind, instruction: int | None = None) -> Fault | None:
        """Use up one count of the first armed fault of ``kind`` (caller holds the lock)."""
        for index, fault in enumerate(self._faults):
            if fault.kind is not kind or fault.seconds is not None:
                continue
            if instruction is not None and fault.instruction != instruction:
                continue
            if fault.count <= 1:
                del self._faults[index]
            else:
                self._faults[index] = Fault(
                    fault.kind, fault.count - 1, None, fault.instruction, fault.code
                )
            return fault
        return None

    def silent(self) -> bool:
        """Whether the command that just arrived goes unanswered."""
        with self._lock:
            now = time.monotonic()
            if self._silence_until is not None:
                if now < self._silence_until:
                    return True
                self._silence_until = None
            for index, fault in enumerate(self._faults):
                if fault.kind is FaultKind.SILENCE and fault.seconds is not None:
                    del self._faults[index]
                    self._silence_until = now + fault.seconds
                    return True
            return self._take(FaultKind.SILENCE) is not None

    def no_finger(self) -> bool:
        with self._lock:
            return self._take(FaultKind.NO_FINGER) is not None

    def bad_image(self) -> int | None:
        """Confirmation code for the next Img2Tz, when a bad-image fault is armed."""
        with self._lock:
            for fault in list(self._faults):
                if fault.kind is FaultKind.MESSY_IMAGE:
                    self._take(FaultKind.MESSY_IMAGE)
                    return 0x06
                if fault.kind is FaultKind.FEW_FEATURES:
                    self._take(FaultKind.FEW_FEATURES)
                    return 0x07
            return None

    def forced_code(self, instruction: int) -> int | None:
        with self._lock:
            fault = self._take(FaultKind.CODE, instruction)
            return None if fault is None else fault.code

    def corrupt_packet(self, *, data: bool = False) -> bool:
        """Whether the next packet goes out damaged (``data``: it is a data packet)."""
        with self._lock:
            if self._take(FaultKind.BAD_CHECKSUM) is not None:
                return True
            return data and self._take(FaultKind.BAD_DATA_CHECKSUM) is not None

    def unplug_after(self) -> int | None:
        """Data packets to send of the next UpImage before pulling the cable."""
        fault = self._take_whole(FaultKind.UNPLUG_MID_IMAGE)
        return None if fault is None else fault.count

    def garbage(self) -> int:
        """Bytes of line noise to send before the next reply (0 for none)."""
        fault = self._take_whole(FaultKind.GARBAGE)
        return 0 if fault is None else fault.count

    def _take_whole(self, kind: FaultKind) -> Fault | None:
        """For faults whose argument is a size, not a number of uses: take the fault at once."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind is kind:
                    del self._faults[index]
                    return fault
            return None
