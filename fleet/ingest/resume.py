"""Resume queries: a station asks which chunks of its unreceipted packets the fleet holds.

The answer comes from the store only (protocol/resume.py, decision 0067): the ``packets`` row
of a packet this station stored with this hash (answered with a receipt, as a resent packet
would be), else the ``packet_chunks`` rows of this station, hash and chunk count. A packet id of
another station, or with another hash, is answered as unknown: nothing about it is revealed.
A query that does not parse, names another station, or comes from a station not active is
refused like any other message (``_reject``); it is bounded by ``protocol.bounds`` before it
is parsed and by its schema (``MAX_OPEN_PACKETS`` packets) after, and costs two indexed
queries however it is made.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from fleet.ingest.core import IngestCore
from fleet.store.models import Packet, PacketChunk, Station
from protocol.envelope import utc_timestamp
from protocol.errors import MessageError
from protocol.messages import Receipt, parse_message
from protocol.resume import HeldChunks, ResumeAnswer, ResumeQuery

log = logging.getLogger(__name__)

ANSWER_BYTES = 256 * 1024  # an answer larger than this goes out in several messages


class ResumeQueries(IngestCore):
    def handle_resume(
        self, station_id: str, payload: bytes
    ) -> tuple[list[Receipt], list[ResumeAnswer]]:
        """The receipts (packets stored) and answers (the others) for one resume query."""
        try:
            query = parse_message(ResumeQuery, payload)
        except MessageError as exc:
            self._reject(station_id, None, "malformed-resume", str(exc))
            return [], []
        if query.station_id != station_id:
            self._reject(
                station_id,
                None,
                "station-mismatch",
                f"resume query names station {query.station_id}, published by {station_id}",
            )
            return [], []
        ids = [p.packet_id for p in query.packets]
        with self._sessions() as session:
            station = session.get(Station, station_id)
            if station is None or station.state != "active":
                state = "unregistered" if station is None else station.state
                self._reject(station_id, None, "unregistered", f"station is {state}", session)
                return [], []
            stored: dict[str, str] = {
                packet_id: sha256
                for packet_id, sha256 in session.execute(
                    select(Packet.packet_id, Packet.sha256).where(
                        Packet.packet_id.in_(ids), Packet.station_id == station_id
                    )
                )
            }
            held: dict[tuple[str, str, int], set[int]] = {}
            for packet_id, sha256, count, idx in session.execute(
                select(
                    PacketChunk.packet_id, PacketChunk.sha256, PacketChunk.count, PacketChunk.idx
                ).where(PacketChunk.packet_id.in_(ids), PacketChunk.station_id == station_id)
            ):
                held.setdefault((packet_id, sha256, count), set()).add(idx)
        receipts: list[Receipt] = []
        entries: list[HeldChunks] = []
        for asked in query.packets:
            if stored.get(asked.packet_id) == asked.sha256:
                receipts.append(
                    Receipt(
                        packet_id=asked.packet_id,
                        sha256=stored[asked.packet_id],
                        status="duplicate",
                        received_at=utc_timestamp(),
                    )
                )
                continue
            indexes = held.get((asked.packet_id, asked.sha256, asked.count), set())
            entries.append(HeldChunks.of(asked.packet_id, {i for i in indexes if i < asked.count}))
        log.info(
            "resume query from %s: %d packet(s) stored, %d not (%d with chunks held)",
            station_id,
            len(receipts),
            len(entries),
            sum(1 for e in entries if e.held),
        )
        return receipts, answers_for(entries)


def answers_for(entries: list[HeldChunks]) -> list[ResumeAnswer]:
    """``entries`` in as few answers as fit ``ANSWER_BYTES`` each (none for no entries)."""
    answers: list[list[HeldChunks]] = []
    size = ANSWER_BYTES
    for entry in entries:
        entry_size = len(entry.to_payload())
        if size + entry_size > ANSWER_BYTES:
            answers.append([])
            size = 0
        answers[-1].append(entry)
        size += entry_size
    return [ResumeAnswer(packets=group, answered_at=utc_timestamp()) for group in answers]
