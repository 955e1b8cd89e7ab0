"""Bounds on everything a station sends: sizes per topic, numbers, strings, sequence ranges.

Every byte from a station is hostile until checked (a stolen station holds a valid signing key
and broker password). The fleet checks a message's size against ``MAX_PAYLOAD`` before it
parses it; the message schemas (protocol/messages.py, protocol/ops_messages.py) use the
types below, so a number that would overflow a 64-bit column, a string longer than its column,
or a sequence range that would expand into millions of numbers is refused at parsing, before
anything reaches the database. The same limits bound the broker's ``message_size_limit``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

INT64_MAX = 2**63 - 1
# The highest packet sequence number a station could have created: ten thousand packets a
# day for a century is about 2**28. Anything above is refused (a 64-bit column still fits).
MAX_SEQ = 2**40
# Sequence numbers one reconciliation report may cover, all ranges together (a station's
# outbox keeps acknowledged packets for its retention period: far fewer than this).
MAX_REPORT_SEQS = 1_000_000
# How far a report's ``last_seq`` may run ahead of the highest sequence number the fleet has
# stored for the station: packets created while offline. Above it the report is refused.
MAX_SEQ_AHEAD = 200_000

# Unfinished packets the fleet holds chunks of, per station (fleet/ingest/budgets.py); also the
# most packets one resume query may ask about (protocol/resume.py).
MAX_OPEN_PACKETS = 64

# Column widths in the fleet's store (fleet/store/models.py) that station strings land in.
SOFTWARE_VERSION_LEN = 64
FIRMWARE_VERSION_LEN = 64
STATUS_REASON_LEN = 32
SHORT_TEXT_LEN = 200  # sensor kinds, sensor details, names of detail items
LONG_TEXT_LEN = 2000  # values of detail items (events, command answers)
MAX_SENSORS = 32
MAX_LINK_COUNTERS = 32
MAX_DETAIL_ITEMS = 32

# Largest payload accepted per topic suffix (the part after ``ewp/v1/stations/{id}/``; packet
# chunks by their prefix ``packets/``). A larger message is refused unparsed.
MAX_CHUNK_SIZE = 256 * 1024  # data bytes in one chunk (stations send 64 KiB by default)
MAX_CHUNKS = 4096  # chunks of one packet
# A chunk's bytes around its data: magic, version, header length, the header (at most
# protocol.envelope.MAX_HEADER_LEN), the signature, index, count and offset.
CHUNK_OVERHEAD = 4 + 1 + 2 + 4096 + 64 + 12
MAX_PAYLOAD: dict[str, int] = {
    "packets/": CHUNK_OVERHEAD + MAX_CHUNK_SIZE,
    "heartbeat": 16 * 1024,
    "status": 1024,
    "events": 8 * 1024,
    "responses": 16 * 1024,
    "config-applied": 8 * 1024,
    "reconciliation": 512 * 1024,
    "update-status": 8 * 1024,
    "resume": 16 * 1024,  # MAX_OPEN_PACKETS packets of about 130 bytes each
}
DEFAULT_MAX_PAYLOAD = 1024  # any other topic


def max_payload(suffix: str) -> int:
    """The largest payload accepted on a station topic with this suffix."""
    if suffix.startswith("packets/"):
        return MAX_PAYLOAD["packets/"]
    return MAX_PAYLOAD.get(suffix, DEFAULT_MAX_PAYLOAD)


def largest_message() -> int:
    """The largest legitimate message from a station (for the broker's size limit)."""
    return max(MAX_PAYLOAD.values())


Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Int64 = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]
SeqOrZero = Annotated[int, Field(ge=0, le=MAX_SEQ)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
# No NUL character in any station string: PostgreSQL refuses them in text columns.
NO_NUL = r"^[^\x00]*$"
ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_LEN, pattern=NO_NUL)]
LongText = Annotated[str, StringConstraints(max_length=LONG_TEXT_LEN, pattern=NO_NUL)]
EventKind = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
StationScalar = LongText | Int64 | FiniteFloat | bool | None
SoftwareVersion = Annotated[str, StringConstraints(max_length=SOFTWARE_VERSION_LEN, pattern=NO_NUL)]
FirmwareVersion = Annotated[str, StringConstraints(max_length=FIRMWARE_VERSION_LEN, pattern=NO_NUL)]
StatusReason = Annotated[str, StringConstraints(max_length=STATUS_REASON_LEN, pattern=NO_NUL)]


def check_seq_span(ranges_total: int) -> None:
    """Raise ValueError when ranges cover more sequence numbers than a report may."""
    if ranges_total > MAX_REPORT_SEQS:
        raise ValueError(
            f"ranges cover {ranges_total} sequence numbers; at most {MAX_REPORT_SEQS} per report"
        )
