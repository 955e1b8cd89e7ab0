"""The resume query: which chunks of its unreceipted packets does the fleet hold?

A broker killed mid-upload can forget chunks it had already acknowledged (Mosquitto saves its
state every 30 s), so the broker's PUBACKs say nothing sure about what reached the fleet. After
every (re)connect a station asks on ``resume`` about each packet it has sent chunks of and has
no receipt for (at most ``MAX_OPEN_PACKETS``, the fleet's budget of unfinished packets per
station, each with its hash and chunk count). The fleet answers from what it stored, never
from the station's claims (decision 0067):

- a packet it stored, of this station and with this hash: a ``Receipt`` on ``receipts``
  (status ``duplicate``), which the station checks as any receipt;
- any other: its entry in one ``ResumeAnswer`` on ``resume-answer``, with the indexes of the
  chunks the fleet holds of it (of this station, hash and chunk count) as inclusive ranges;
  none: unknown. The station sends the chunks missing at once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from protocol.bounds import MAX_CHUNKS, MAX_OPEN_PACKETS
from protocol.envelope import Sha256Hex
from protocol.messages import Message, PacketId, StationId, Timestamp
from protocol.ops_messages import expand_ranges, seq_ranges

ChunkIndex = Annotated[int, Field(ge=0, lt=MAX_CHUNKS)]
ChunkCount = Annotated[int, Field(ge=1, le=MAX_CHUNKS)]


class QueriedPacket(Message):
    packet_id: PacketId
    sha256: Sha256Hex
    count: ChunkCount = Field(description="the packet's number of chunks as the station sends it")


class ResumeQuery(Message):
    """Station to fleet, on ``resume``."""

    v: Literal[1] = 1
    station_id: StationId
    packets: list[QueriedPacket] = Field(min_length=1, max_length=MAX_OPEN_PACKETS)

    @field_validator("packets")
    @classmethod
    def _one_entry_per_packet(cls, packets: list[QueriedPacket]) -> list[QueriedPacket]:
        if len({p.packet_id for p in packets}) != len(packets):
            raise ValueError("a packet id is asked about twice")
        return packets


class HeldChunks(Message):
    packet_id: PacketId
    held: list[tuple[ChunkIndex, ChunkIndex]] = Field(
        default_factory=list,
        max_length=MAX_CHUNKS,
        description="inclusive ranges of the chunk indexes the fleet holds; empty: unknown",
    )

    @model_validator(mode="after")
    def _ranges_in_order(self) -> HeldChunks:
        last = -1
        for first, end in self.held:
            if first <= last or end < first:
                raise ValueError("held ranges must be sorted, disjoint and first <= last")
            last = end
        return self

    @classmethod
    def of(cls, packet_id: str, indexes: set[int]) -> HeldChunks:
        return cls(packet_id=packet_id, held=seq_ranges(indexes))

    def indexes(self) -> set[int]:
        return expand_ranges(self.held)


class ResumeAnswer(Message):
    """Fleet to station, on ``resume-answer``: the queried packets it has not stored."""

    v: Literal[1] = 1
    packets: list[HeldChunks] = Field(max_length=MAX_OPEN_PACKETS)
    answered_at: Timestamp
