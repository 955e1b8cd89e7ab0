"""What the enrolment workflow says to the operator, and what it asks them.

The workflow (edge/agent/capture.py) talks to any screen through a ``Console``: it says things
as ``Guidance`` (a message key of edge/agent/i18n.py and its values, so the terminal, the kiosk
or the autopilot log renders them in Thai or English), shows each capture as a
``ShownCapture``, and asks for a ``Resolution`` when no attempt reached the threshold. A
position the operator declares uncapturable before capture starts is ``Declared``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Level = Literal["info", "capturing", "good", "retry", "error"]
ExceptionReason = Literal["missing", "amputated", "bandaged", "unusable", "other"]


@dataclass(frozen=True)
class Guidance:
    """One thing to tell the operator: a message key of edge/agent/i18n.py and its values."""

    key: str
    level: Level = "info"
    params: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Declared:
    """A position the operator says cannot be captured, before capture starts."""

    reason: ExceptionReason
    note: str = ""


@dataclass(frozen=True)
class KeepBest:
    """After failed attempts: keep the best capture below the threshold."""


Resolution = KeepBest | Declared


@dataclass(frozen=True)
class ShownCapture:
    """One capture as a screen may show it (8-bit grey pixels, in memory only) with its score."""

    position: str
    attempt: int
    quality: int
    width: int
    height: int
    pixels: bytes


class Console(Protocol):
    """The operator's side of the workflow (terminal, kiosk, autopilot, test script)."""

    def guide(self, guidance: Guidance) -> None: ...

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        """No attempt reached the threshold: keep the best, or record an exception."""
        ...
