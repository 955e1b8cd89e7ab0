"""Messages of fleet operations: desired configuration and what the station applied,
reconciliation reports, and application status from the central system.

Same rules as protocol/messages.py: every message carries ``v``, unknown fields are refused.
Topics: ``config`` (down, retained), ``config-applied`` (up), ``reconciliation`` (up),
``app-status`` (down); see protocol/topics.py and docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from protocol.bounds import Count, LongText, Seq, SeqOrZero, check_seq_span
from protocol.messages import Message, PacketId, StationId, Timestamp
from protocol.station_config import StationConfig

Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
BangkokDay = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d\d-\d\d$")]
ApplicationNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9-]{4,32}$")]

# Sequence numbers as inclusive [first, last] ranges, ascending, not touching: [[1, 5], [7, 7]].
SeqRange = tuple[Seq, Seq]
MAX_RANGES = 10_000


def seq_ranges(seqs: Iterable[int]) -> list[tuple[int, int]]:
    """Compress sequence numbers into sorted inclusive ranges."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def expand_ranges(ranges: Iterable[tuple[int, int]]) -> set[int]:
    return {seq for first, last in ranges for seq in range(first, last + 1)}


def count_ranges(ranges: Iterable[tuple[int, int]]) -> int:
    return sum(last - first + 1 for first, last in ranges)


def format_ranges(ranges: Iterable[tuple[int, int]]) -> str:
    """Ranges for people: ``1-5,7``."""
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def _check_ranges(value: list[tuple[int, int]]) -> list[tuple[int, int]]:
    if len(value) > MAX_RANGES:
        raise ValueError(f"at most {MAX_RANGES} ranges")
    previous = 0
    for first, last in value:
        if first > last:
            raise ValueError(f"range [{first}, {last}] runs backwards")
        if first <= previous + 1 and previous:
            raise ValueError("ranges must be ascending and not touch")
        previous = last
    return value


# -- configuration -----------------------------------------------------------------------------


class DesiredConfig(Message):
    """Retained on the station's ``config`` topic: the whole configuration it should run.

    ``sha256`` is `protocol.station_config.config_sha256` of ``config``; the station checks it,
    validates the configuration again, applies it and answers with `ConfigApplied`.
    """

    v: Literal[1] = 1
    station_id: StationId
    version: int = Field(ge=1, description="grows by one each time this station's config changes")
    sha256: Sha256Hex
    issued_at: Timestamp
    config: StationConfig


class ConfigApplied(Message):
    """The station's answer on ``config-applied``: what it runs now, or why it refused."""

    v: Literal[1] = 1
    station_id: StationId
    version: Count = Field(description="the version it runs (0: its local settings)")
    sha256: Sha256Hex
    status: Literal["applied", "refused"]
    desired_version: Count | None = Field(default=None, ge=1, description="the version received")
    error: LongText | None = None
    applied_at: Timestamp


# -- reconciliation ----------------------------------------------------------------------------


class ReconciliationDay(Message):
    """What the station created on one day (Asia/Bangkok), from its outbox."""

    day: BangkokDay
    created: Count
    seqs: list[SeqRange] = Field(description="sequence numbers created that day")
    pending: list[SeqRange] = Field(
        default_factory=list, description="of those, not yet acknowledged by the fleet"
    )

    @field_validator("seqs", "pending")
    @classmethod
    def _valid_ranges(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return _check_ranges(value)


class ReconciliationReport(Message):
    """Sent on ``reconciliation`` every ``reconciliation_interval_s`` and after connecting.

    Sequence numbers have no gaps by construction (decision 0005), so ``missing`` — numbers
    between 1 and ``last_seq`` with no row in the outbox — can only mean a packet was lost or
    deleted at the station.
    """

    v: Literal[1] = 1
    station_id: StationId
    at: Timestamp
    last_seq: SeqOrZero
    created_total: Count
    days: list[ReconciliationDay] = Field(max_length=20_000)
    missing: list[SeqRange] = Field(default_factory=list)

    @field_validator("missing")
    @classmethod
    def _valid_ranges(cls, value: list[tuple[int, int]]) -> list[tuple[int, int]]:
        return _check_ranges(value)

    @model_validator(mode="after")
    def _bounded_span(self) -> ReconciliationReport:
        """All ranges together stay small enough to expand (protocol/bounds.py)."""
        total = count_ranges(self.missing)
        for day in self.days:
            total += count_ranges(day.seqs) + count_ranges(day.pending)
            check_seq_span(total)
        check_seq_span(total)
        return self


# -- application status ------------------------------------------------------------------------

ApplicationState = Literal[
    "received", "biometrics-verified", "permit-approved", "card-ready", "rejected"
]
APPLICATION_STATES: tuple[ApplicationState, ...] = (
    "received",
    "biometrics-verified",
    "permit-approved",
    "card-ready",
    "rejected",
)


class ApplicationStatus(Message):
    """The central system's decision on an application, sent to the station that enrolled it.

    Carries no personal data: the application number, the packet and the decision.
    """

    v: Literal[1] = 1
    station_id: StationId
    application_number: ApplicationNumber
    packet_id: PacketId | None = None
    status: ApplicationState
    reason: str | None = Field(default=None, max_length=500)
    at: Timestamp
