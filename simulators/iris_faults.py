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

The syntax, the fault files and the registry of armed faults are those of every simulated
device (``faults``); this module names the camera's own kinds and commands.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from simulators import faults
from simulators.faults import FaultSyntax

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


class FaultKind(enum.Enum):
    NO_EYE = "no-eye"
    OCCLUSION = "occlusion"
    BLUR = "blur"
    SENSOR_FAULT = "sensor-fault"
    BUSY = "busy"
    BAD_CRC = "bad-crc"
    DROP_EVENTS = "drop-events"
    SILENCE = faults.SILENCE
    UNPLUG_MID_IMAGE = faults.UNPLUG_MID_IMAGE
    GARBAGE = faults.GARBAGE
    CODE = faults.CODE


@dataclass(frozen=True)
class Fault(faults.Fault):
    """A fault of the simulated camera."""

    COMMAND_NAMES: ClassVar[Mapping[int, str]] = COMMAND_NAMES


SYNTAX = FaultSyntax(
    fault=Fault,
    kinds=FaultKind,
    command_word="command",
    code_word="result code",
    code_example="code:start_capture:0x20",
    examples="no-eye, occlusion:2, blur, sensor-fault, busy:3, bad-crc:2, drop-events:5",
    garbage_example=64,
    nonzero_code=True,
)


class FaultPlan(faults.FaultPlan[Fault]):
    """The armed faults of one simulated camera; thread-safe, each fault used up once."""

    syntax = SYNTAX

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
