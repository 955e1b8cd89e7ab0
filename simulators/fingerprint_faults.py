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

The syntax, the fault files and the registry of armed faults are those of every simulated
device (``faults``); this module names the sensor's own kinds and commands.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from simulators import faults
from simulators.faults import FaultSyntax

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


class FaultKind(enum.Enum):
    NO_FINGER = "no-finger"
    MESSY_IMAGE = "messy-image"
    FEW_FEATURES = "few-features"
    BAD_CHECKSUM = "bad-checksum"
    BAD_DATA_CHECKSUM = "bad-data-checksum"
    SILENCE = faults.SILENCE
    UNPLUG_MID_IMAGE = faults.UNPLUG_MID_IMAGE
    GARBAGE = faults.GARBAGE
    CODE = faults.CODE


@dataclass(frozen=True)
class Fault(faults.Fault):
    """A fault of the simulated sensor; ``command`` is the instruction of a code fault."""

    COMMAND_NAMES: ClassVar[Mapping[int, str]] = INSTRUCTION_NAMES


SYNTAX = FaultSyntax(
    fault=Fault,
    kinds=FaultKind,
    command_word="instruction",
    code_word="confirmation code",
    code_example="code:store:0x18",
    examples="no-finger:3, messy-image, few-features, bad-checksum:2, bad-data-checksum",
)


class FaultPlan(faults.FaultPlan[Fault]):
    """The armed faults of one simulated sensor; thread-safe, each fault used up once."""

    syntax = SYNTAX

    def no_finger(self) -> bool:
        return self._use(FaultKind.NO_FINGER)

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

    def corrupt_packet(self, *, data: bool = False) -> bool:
        """Whether the next packet goes out damaged (``data``: it is a data packet)."""
        with self._lock:
            if self._take(FaultKind.BAD_CHECKSUM) is not None:
                return True
            return data and self._take(FaultKind.BAD_DATA_CHECKSUM) is not None
