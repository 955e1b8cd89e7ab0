"""What the simulated devices' faults have in common: spec syntax, fault files, the armed faults.

Each simulated device has faults of its own (``fingerprint_faults``, ``iris_faults``): its kinds,
the names of its commands, the words its documentation uses. This module is the part that is
the same for every device:

* a fault spec is ``KIND`` or ``KIND:ARGUMENT``; the argument is a count (commands, packets,
  frames, bytes, per kind), or for ``silence`` a time ``Ts``; ``code:COMMAND:CODE[:N]`` makes
  the next N COMMAND commands answer with CODE. A device describes its own words with a
  :class:`FaultSyntax` (which checks that its kinds include these four, and writes the syntax
  summary shown with every error from the device's own examples);
* a fault file is JSON (a list) or TOML (a list called ``faults``), each entry a spec string or
  a table with ``kind`` and ``count`` / ``seconds`` / the command (the device's word) / ``code``;
* :class:`FaultPlan` holds the armed faults of one device: thread-safe, each fault used up
  once; ``silence``, ``unplug-mid-image``, ``garbage`` and ``code`` faults are used here, the
  device's own kinds by its subclass.
"""

from __future__ import annotations

import enum
import json
import threading
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

# The kinds every device has (the values its FaultKind enum must use for them).
SILENCE = "silence"
UNPLUG_MID_IMAGE = "unplug-mid-image"
GARBAGE = "garbage"
CODE = "code"
COMMON_KINDS = (SILENCE, UNPLUG_MID_IMAGE, GARBAGE, CODE)


class FaultSpecError(ValueError):
    """A fault spec that cannot be understood; the message shows the syntax."""


@dataclass(frozen=True)
class Fault:
    """One armed fault; a device's subclass names its commands (``COMMAND_NAMES``)."""

    COMMAND_NAMES: ClassVar[Mapping[int, str]] = {}

    kind: enum.Enum
    count: int = 1  # commands, packets, frames, events, blocks or bytes, per kind
    seconds: float | None = None  # silence for a time instead of a number of commands
    command: int | None = None  # for code faults: the command whose answer is forced
    code: int | None = None  # for code faults: the code it answers with

    def describe(self) -> str:
        """The fault as a spec (what a control port reports as armed)."""
        if self.kind.value == CODE:
            name = self.COMMAND_NAMES.get(self.command or -1, f"{self.command:#04x}")
            return f"code:{name}:{self.code:#04x}:{self.count}"
        if self.seconds is not None:
            return f"{self.kind.value}:{self.seconds:g}s"
        return f"{self.kind.value}:{self.count}"


F = TypeVar("F", bound=Fault)


@dataclass(frozen=True)
class FaultSyntax(Generic[F]):
    """How one device's faults are written: its kinds, its commands (those its ``fault`` names), and
    their words."""

    fault: type[F]
    kinds: type[enum.Enum]
    command_word: str  # "instruction", "command": in messages, and the key in a fault table
    code_word: str  # "confirmation code", "result code"
    code_example: str  # a code fault, e.g. "code:store:0x18"
    examples: str  # the device's own kinds as examples, e.g. "no-finger:3, messy-image"
    garbage_example: int = 16  # the count the summary shows for garbage
    # kind value -> count without an argument (else 1); every device's defaults unless given
    default_counts: Mapping[str, int] = field(
        default_factory=lambda: {UNPLUG_MID_IMAGE: 10, GARBAGE: 16}
    )
    nonzero_code: bool = False  # whether a forced code of 0 is refused

    def __post_init__(self) -> None:
        values = {kind.value for kind in self.kinds}
        missing = [kind for kind in COMMON_KINDS if kind not in values]
        if missing:
            raise TypeError(f"{self.kinds.__name__} lacks the kinds every device has: {missing}")

    @property
    def commands(self) -> dict[str, int]:
        """Command names (lower case, no ``-`` or ``_``) -> codes: the fault's ``COMMAND_NAMES``."""
        return {name: code for code, name in self.fault.COMMAND_NAMES.items()}

    @property
    def summary(self) -> str:
        """``fault specs look like ...``: shown with every syntax error."""
        return (
            f"fault specs look like {self.examples}, silence:4, silence:1.5s, "
            f"unplug-mid-image:10, garbage:{self.garbage_example} or {self.code_example}"
        )

    def _number(self, text: str, what: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise FaultSpecError(f"{what} must be a number, got {text!r}; {self.summary}") from None
        if value < 0:
            raise FaultSpecError(f"{what} must not be negative, got {value}")
        return value

    def _command(self, text: str) -> int:
        key = text.strip().lower().replace("_", "").replace("-", "")
        if key in self.commands:
            return self.commands[key]
        try:
            return int(text, 0)
        except ValueError:
            names = ", ".join(sorted(self.commands))
            raise FaultSpecError(
                f"unknown {self.command_word} {text!r}; use one of {names}"
            ) from None

    def parse(self, spec: str) -> F:
        """Parse one fault spec (see the device's fault module for its kinds)."""
        parts = [part.strip() for part in spec.strip().split(":")]
        try:
            kind = self.kinds(parts[0].lower())
        except ValueError:
            raise FaultSpecError(f"unknown fault {parts[0]!r}; {self.summary}") from None
        args = parts[1:]
        if kind.value == CODE:
            if len(args) not in (2, 3):
                raise FaultSpecError(f"code faults look like {self.code_example}[:N], got {spec!r}")
            code = self._number(args[1], f"the {self.code_word}")
            if code > 0xFF or (self.nonzero_code and code == 0):
                one = "one non-zero byte" if self.nonzero_code else "one byte"
                raise FaultSpecError(f"a {self.code_word} is {one}, got {code:#x}")
            count = self._number(args[2], "the count") if len(args) == 3 else 1
            return self.fault(kind, count=count, command=self._command(args[0]), code=code)
        if len(args) > 1:
            raise FaultSpecError(
                f"{kind.value} takes at most one argument, got {spec!r}; {self.summary}"
            )
        if not args or not args[0]:
            return self.fault(kind, count=self.default_counts.get(kind.value, 1))
        if kind.value == SILENCE and args[0].endswith("s"):
            try:
                seconds = float(args[0][:-1])
            except ValueError:
                raise FaultSpecError(
                    f"silence takes N commands or Ts seconds, got {spec!r}"
                ) from None
            if not seconds > 0:
                raise FaultSpecError("silence seconds must be positive")
            return self.fault(kind, seconds=seconds)
        return self.fault(kind, count=self._number(args[0], f"the argument of {kind.value}"))

    def from_object(self, item: object) -> F:
        """A fault from a file or a control port: a spec string or a table with ``kind``."""
        if isinstance(item, str):
            return self.parse(item)
        if not isinstance(item, dict) or "kind" not in item:
            raise FaultSpecError(f"a fault is a spec string or a table with 'kind', got {item!r}")
        known = {"kind", "count", "seconds", self.command_word, "code"}
        unknown = set(item) - known
        if unknown:
            raise FaultSpecError(f"unknown fault keys {sorted(unknown)}; use {sorted(known)}")
        spec = str(item["kind"])
        if spec == CODE:
            spec += f":{item.get(self.command_word, '')}:{item.get('code', '')}"
            if "count" in item:
                spec += f":{item['count']}"
        elif "seconds" in item:
            spec += f":{item['seconds']}s"
        elif "count" in item:
            spec += f":{item['count']}"
        return self.parse(spec)

    def load(self, path: Path) -> list[F]:
        """Faults from a JSON file (a list) or a TOML file (a list called ``faults``)."""
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
        return [self.from_object(item) for item in data]


class FaultPlan(Generic[F]):
    """The armed faults of one simulated device; thread-safe, each fault used up once.

    A device's subclass sets ``syntax`` (its :class:`FaultSyntax`) and adds a method for each
    of its own kinds, built on :meth:`_use` or :meth:`_take` (under ``_lock``).
    """

    syntax: FaultSyntax[F]

    def __init__(self, faults: Iterable[F] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[F] = []
        self._silence_until: float | None = None
        self._silence = self.syntax.kinds(SILENCE)
        for fault in faults or []:
            self.arm(fault)

    def arm(self, fault: F) -> None:
        with self._lock:
            if fault.count > 0 or fault.seconds is not None:
                self._faults.append(fault)

    def inject(self, fault: F | str | dict[str, object]) -> F:
        """Arm a fault given as a ``Fault``, a spec string, or a table as in a fault file."""
        parsed = fault if isinstance(fault, self.syntax.fault) else self.syntax.from_object(fault)
        self.arm(parsed)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._silence_until = None

    def armed(self) -> list[str]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def _take(self, kind: enum.Enum, command: int | None = None) -> F | None:
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

    def _use(self, kind: enum.Enum) -> bool:
        """Whether a fault of ``kind`` was armed (one count of it is used up)."""
        with self._lock:
            return self._take(kind) is not None

    def _take_whole(self, kind: enum.Enum) -> F | None:
        """For faults whose argument is a size, not a number of uses: take the fault at once."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.kind is kind:
                    del self._faults[index]
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
                if fault.kind is self._silence and fault.seconds is not None:
                    del self._faults[index]
                    self._silence_until = now + fault.seconds
                    return True
            return self._take(self._silence) is not None

    def forced_code(self, command: int) -> int | None:
        """The code to answer ``command`` with, when a code fault is armed for it."""
        with self._lock:
            fault = self._take(self.syntax.kinds(CODE), command)
            return None if fault is None else fault.code

    def unplug_after(self) -> int | None:
        """Data packets or blocks to send of the next image before pulling the cable."""
        fault = self._take_whole(self.syntax.kinds(UNPLUG_MID_IMAGE))
        return None if fault is None else fault.count

    def garbage(self) -> int:
        """Bytes of line noise to send before the next reply (0 for none)."""
        fault = self._take_whole(self.syntax.kinds(GARBAGE))
        return 0 if fault is None else fault.count
