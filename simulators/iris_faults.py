"""Faults the simulated iris camera can be told to commit, and their spec syntax.

A fault spec is ``KIND`` or ``KIND:ARGUMENT``; every fault is armed once and used up:

============================  ==================================================================
``no-eye[:N]``                the next N captures find no eye: they end in ABORT with
                              NO_FRAME_AVAILABLE at their timeout
``occlusion[:N]``             in the next N captures the eyelids cover 70 % of each iris
``blur[:N]``                  the next N captures are out of focus (sigma 4 px)
``sensor-fault[:N]``          the next N captures end in ABORT with SENSOR_FAULT once they start
``busy[:N]``                  the next N commands (but GET_STATUS / GET_INFO) answer DEVICE_BUSY
``bad-crc[:N]``               the next N frames the camera sends carry a wrong CRC
``drop-events[:N]``           the next N status events are not sent
``silence[:N]``               the next N commands get no answer at all
``silence:Ts``                no answer for T seconds (a number with ``s``), from the next command
``unplug-mid-image[:K]``      the next image transfer stops after K blocks: the cable is pulled
``garbage[:N]``               N bytes of line noise (with a false sync) before the next response
``code:COMMAND:CODE[:N]``     the next N COMMAND commands answer with result code CODE
============================  ==================================================================

``N`` defaults to 1 (``K`` to 10, garbage to 16 bytes). ``COMMAND`` is a command name of the
protocol (``start_capture``, ``get-status``, ``GetResultImage``, ...; case, ``-`` and ``_`` do
not matter) or its code (``0x03``); ``CODE`` is a number (``0x20`` or ``32``).

A fault file (``--faults FILE``) is JSON or TOML: a list of specs, or of tables with ``kind``
and ``count`` / ``seconds`` / ``command`` / ``code``. In TOML the list is called ``faults``::

    faults = ["no-eye", {kind = "silence", seconds = 1.5}]
"""

from __future__ import annotations

import enum
import json
import threading
import time
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

COMMANDS: dict[str, int] = {
    "init": 0x01,
    "getinfo": 0x02,
    "startcapture": 0x03,
    "getstatus": 0x04,
    "trigger": 0x05,
    "stopcapture": 0x06,
    "getresultquality": 0x07,
    "getresultimage": 0x08,
    "clear": 0x09,
}
COMMAND_NAMES = {code: name for name, code in COMMANDS.items()}


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message shows the syntax."""


class FaultKind(enum.Enum):
    NO_EYE = "no-eye"
    OCCLUSION = "occlusion"
    BLUR = "blur"
    SENSOR_FAULT = "sensor-fault"
    BUSY = "busy"
    BAD_CRC = "bad-crc"
    DROP_EVENTS = "drop-events"
    SILENCE = "silence"
    UNPLUG_MID_IMAGE = "unplug-mid-image"
    GARBAGE = "garbage"
    CODE = "code"


_DEFAULT_COUNT = {FaultKind.UNPLUG_MID_IMAGE: 10, FaultKind.GARBAGE: 16}
_SYNTAX = (
    "fault specs look like no-eye, occlusion:2, blur, sensor-fault, busy:3, bad-crc:2, "
    "drop-events:5, silence:4, silence:1.5s, unplug-mid-image:10, garbage:64 or "
    "code:start_capture:0x20"
)


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    count: int = 1  # captures, commands, frames, events, blocks or bytes, per kind
    seconds: float | None = None  # silence for a time instead of a number of commands
    command: int | None = None  # for CODE
    code: int | None = None  # for CODE

    def describe(self) -> str:
        if self.kind is FaultKind.CODE:
            name = COMMAND_NAMES.get(self.command or -1, f"{self.command:#04x}")
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


def _command(text: str) -> int:
    key = text.strip().lower().replace("_", "").replace("-", "")
    if key in COMMANDS:
        return COMMANDS[key]
    try:
        return int(text, 0)
    except ValueError:
        names = ", ".join(sorted(COMMANDS))
        raise FaultSpecError(f"unknown command {text!r}; use one of {names}") from None


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
            raise FaultSpecError(f"code faults look like code:start_capture:0x20[:N], got {spec!r}")
        code = _number(args[1], "the result code")
        if not 0 < code <= 0xFF:
            raise FaultSpecError(f"a result code is one non-zero byte, got {code:#x}")
        count = _number(args[2], "the count") if len(args) == 3 else 1
        return Fault(kind, count=count, command=_command(args[0]), code=code)
    if len(args) > 1:
        raise FaultSpecError(f"{kind.value} takes at most one argument, got {spec!r}; {_SYNTAX}")
    if not args or not args[0]:
        return Fault(kind, count=_DEFAULT_COUNT.get(kind, 1))
    if kind is FaultKind.SILENCE and args[0].endswith("s"):
        try:
            seconds = float(args[0][:-1])
        except ValueError:
            raise FaultSpecError(f"silence takes N commands or Ts seconds, got {spec!r}") from None
        if not seconds > 0:
            raise FaultSpecError("silence seconds must be positive")
        return Fault(kind, seconds=seconds)
    return Fault(kind, count=_number(args[0], f"the argument of {kind.value}"))


def fault_from_object(item: object) -> Fault:
    """A fault from a file or the control port: a spec string or a table with ``kind``."""
    if isinstance(item, str):
        return parse_fault(item)
    if not isinstance(item, dict) or "kind" not in item:
        raise FaultSpecError(f"a fault is a spec string or a table with 'kind', got {item!r}")
    known = {"kind", "count", "seconds", "command", "code"}
    unknown = set(item) - known
    if unknown:
        raise FaultSpecError(f"unknown fault keys {sorted(unknown)}; use {sorted(known)}")
    spec = str(item["kind"])
    if spec == FaultKind.CODE.value:
        spec += f":{item.get('command', '')}:{item.get('code', '')}"
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
    """The armed faults of one simulated camera; thread-safe, each fault used up once."""

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

    def _take(self, kind: FaultKind, command: int | None = None) -> Fault | None:
        """Use up one count of the first armed fault of ``kind`` (caller holds the lock)."""
        for index, fault in enumerate(self._faults):
            if fault.kind is not kind or fault.seconds is not None:
                continue
            if command is not None and fault.command != command:
                continue
            if fault.count <= 1:
                del self._faults[index]
            else:
                self._faults[index] = replace(fault, count=fault.count - 1)
            return fault
        return None

    def _use(self, kind: FaultKind, command: int | None = None) -> bool:
        with self._lock:
            return self._take(kind, command) is not None

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

    def no_eye(self) -> bool:
        """For a capture that starts: whether it will find no eye."""
        return self._use(FaultKind.NO_EYE)

    def occlusion(self) -> bool:
        return self._use(FaultKind.OCCLUSION)

    def blur(self) -> bool:
        return self._use(FaultKind.BLUR)

    def sensor_fault(self) -> bool:
        return self._use(FaultKind.SENSOR_FAULT)

    def busy(self) -> bool:
        return self._use(FaultKind.BUSY)

    def corrupt_frame(self) -> bool:
        return self._use(FaultKind.BAD_CRC)

    def drop_event(self) -> bool:
        return self._use(FaultKind.DROP_EVENTS)

    def forced_code(self, command: int) -> int | None:
        with self._lock:
            fault = self._take(FaultKind.CODE, command)
            return None if fault is None else fault.code

    def unplug_after(self) -> int | None:
        """Blocks to send of the next image transfer before pulling the cable."""
        fault = self._take_whole(FaultKind.UNPLUG_MID_IMAGE)
        return None if fault is None else fault.count

    def garbage(self) -> int:
        """Bytes of line noise to send before the next response (0 for none)."""
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
