"""Packet chunks: verified, held until the packet is complete, stored once, acknowledged.

Workers subscribe through a shared subscription (``$share/ingest/...``), so several of them,
in one process or many, split the load: any worker may get any chunk, so chunks are kept in
the database until the last one arrives.

For every chunk:

1. parse it; the header's station id must be the one in the topic (the broker ACL guarantees the
   topic belongs to the publisher);
2. the station must be registered and active, and the header's signature must verify with its
   registered key: otherwise the chunk is refused, recorded in ``rejections`` and nothing else
   changes;
3. a packet already stored with the same hash is acknowledged again (``duplicate``) and not
   stored twice; the same packet id with another hash is refused;
4. the chunk is stored; when all chunks are there, the packet is reassembled, its SHA-256
   checked, written to a file (fsync'd) and recorded in ``packets``; only then is the
   ``stored`` receipt published.

A worker handles the chunks it received at once together (``handle_chunks``: one transaction,
one durable commit, when nothing unusual is among them; anything unusual goes through
``handle_chunk`` alone).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from fleet.ingest.admission import PacketAdmission
from fleet.ingest.budgets import Held, held_by
from fleet.ingest.stored import StoredPackets
from fleet.store.db import relax_durability
from fleet.store.locking import (
    is_transient,
    run_again_if_transient,
    writers_serialise,
)
from fleet.store.models import (
    Packet,
    PacketChunk,
    Station,
)
from protocol.chunks import PacketChunk as WireChunk
from protocol.chunks import join_chunks
from protocol.envelope import PacketHeader, SealedPacket
from protocol.errors import ProtocolError, SignatureError
from protocol.messages import Receipt

log = logging.getLogger(__name__)


class PacketIngest(PacketAdmission, StoredPackets):
    """Packet chunks from stations (see the module docstring)."""

    def _count_chunks(self, count: int) -> None:
        with self._lock:
            self.counters.chunks += count
        self.metrics.chunks.inc(count)

    def handle_chunk(self, topic_station: str, payload: bytes) -> Receipt | None:
        """Handle one chunk; returns the receipt to publish to the station, if any."""
        self._count_chunks(1)
        return run_again_if_transient(
            f"chunk from {topic_station}", lambda: self._handle_chunk(topic_station, payload)
        )

    def _handle_chunk(self, topic_station: str, payload: bytes) -> Receipt | None:
        """``handle_chunk``: its transactions are each safe to run again (a chunk row stored
        before is a resent chunk the second time)."""
        try:
            chunk = WireChunk.from_bytes(payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed", str(exc))
            return None
        header = chunk.header
        if header.station_id != topic_station:
            self._reject(
                topic_station,
                header.packet_id,
                "station-mismatch",
                f"header names station {header.station_id}, published by {topic_station}",
            )
            return self._receipt(chunk, "rejected", "the header names another station")
        with self._sessions() as session:
            station = session.get(Station, topic_station)
            if station is None or station.state != "active" or station.public_key is None:
                state = "unregistered" if station is None else station.state
                self._reject(
                    topic_station, header.packet_id, "unregistered", f"station is {state}", session
                )
                return None
            try:
                self._verify(station, chunk)
            except (SignatureError, ProtocolError) as exc:
                self._reject(topic_station, header.packet_id, "bad-signature", str(exc), session)
                return self._receipt(chunk, "rejected", "signature does not verify")
            wrong = self._wrong_recipient(header)
            if wrong is not None:
                self._reject(topic_station, header.packet_id, "wrong-recipient", wrong, session)
                self.flag(topic_station, "wrong-recipient", wrong)
                return self._receipt(chunk, "rejected", wrong)
            existing = session.get(Packet, header.packet_id)
            if existing is not None:
                return self._already_stored(session, existing, chunk)
            key = (
                PacketChunk.packet_id == header.packet_id,
                PacketChunk.sha256 == header.sealed_sha256,
            )
            # Which chunks are here: their numbers only (the data is read once, to assemble).
            held = set(session.scalars(select(PacketChunk.idx).where(*key)))
            if chunk.index in held:  # a resent chunk we already hold
                if len(held) >= chunk.count:
                    # Every chunk is here but the packet is not: the worker that stored the
                    # last one died before it assembled them (PostgreSQL). Assemble them now.
                    return self._assemble(session, chunk, self._held_chunks(session, header))
                session.rollback()
                return None
            if len(held) + 1 == chunk.count:
                # Fast path: this chunk completes the packet (always so for one-chunk packets).
                return self._assemble(session, chunk, [*self._held_chunks(session, header), chunk])
            refusal = held_by(session, [topic_station])[topic_station].refusal(
                header.packet_id, len(chunk.data)
            )
            if refusal is not None:
                self._reject(topic_station, header.packet_id, "over-budget", refusal, session)
                self.flag(topic_station, "over-budget", refusal)
                return None
            # A chunk row needs no durability of its own: lost in a crash, it comes again with
            # the station's resend (no receipt without the packet). The packet's commit is
            # durable, and with it everything committed before.
            relax_durability(session)
            session.add(self._chunk_row(topic_station, chunk))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # another worker stored the same chunk (a resend)
            return self._after_chunk_commit(session, chunk)

    def handle_chunks(self, items: Sequence[tuple[str, bytes]]) -> list[tuple[str, Receipt]]:
        """Handle the chunks a worker received at once ((topic station, payload) each);
        returns the receipts to publish, with the station each goes to.

        The usual case (chunks of packets not stored yet, from active stations, signatures
        good) takes one transaction for all of them, and one commit: durable if it stores a
        packet, as ``handle_chunk`` would (the packet files are written and fsync'd one by one,
        before it). Everything else (a refusal, a packet already stored, a packet id with two
        contents, a hash that does not match, another worker storing the same rows at the
        same moment) is left to ``handle_chunk``, one chunk at a time, as if it came alone."""
        if len(items) < 2:
            return self._one_by_one(items)
        parsed: list[tuple[str, bytes, WireChunk]] = []
        alone: list[tuple[str, bytes]] = []
        for station_id, payload in items:
            try:
                chunk = WireChunk.from_bytes(payload)
            except ProtocolError:
                alone.append((station_id, payload))
                continue
            if chunk.header.station_id == station_id:
                parsed.append((station_id, payload, chunk))
            else:
                alone.append((station_id, payload))
        written: dict[str, str] = {}

        def attempt() -> tuple[list[tuple[str, Receipt]], list[tuple[str, bytes]], list[WireChunk]]:
            try:
                return self._store_together(parsed, written)
            except DBAPIError as exc:
                if is_transient(exc):  # run again: the files it wrote are not needed
                    self._drop_unreferenced(written)
                    written.clear()
                raise

        try:
            receipts, left, inserted = run_again_if_transient("a batch of chunks", attempt)
        except IntegrityError:
            # PostgreSQL: another worker stored some of these rows first; sort it out chunk by
            # chunk (the files written are dropped below unless they became the packets').
            everything = [(station_id, payload) for station_id, payload, _ in parsed]
            try:
                return self._one_by_one([*alone, *everything])
            finally:
                self._drop_unreferenced(written)
        except BaseException:
            self._drop_unreferenced(written)
            raise
        for chunk in inserted:  # each its own transaction, after the batch's commit
            receipt = run_again_if_transient(
                "a chunk after its batch", functools.partial(self._after_commit_alone, chunk)
            )
            if receipt is not None:
                receipts.append((chunk.header.station_id, receipt))
        return receipts + self._one_by_one([*alone, *left])

    def _after_commit_alone(self, chunk: WireChunk) -> Receipt | None:
        with self._sessions() as session:
            return self._after_chunk_commit(session, chunk)

    def _one_by_one(self, items: Sequence[tuple[str, bytes]]) -> list[tuple[str, Receipt]]:
        receipts = []
        for station_id, payload in items:
            receipt = self.handle_chunk(station_id, payload)
            if receipt is not None:
                receipts.append((station_id, receipt))
        return receipts

    def _store_together(
        self, parsed: list[tuple[str, bytes, WireChunk]], written: dict[str, str]
    ) -> tuple[list[tuple[str, Receipt]], list[tuple[str, bytes]], list[WireChunk]]:
        """The usual case of ``handle_chunks`` in one transaction; returns its receipts, the
        chunks left for ``handle_chunk``, and one chunk of each packet that got new chunk rows
        (to look at again after the commit). Files written go into ``written``.

        Rows are written packet by packet in packet id order, the stations' running totals
        last: every worker takes its locks in the same order, so two batches never wait on
        each other in a cycle (no deadlock)."""
        left: list[tuple[str, bytes]] = []
        if not parsed:
            return [], left, []
        with self._sessions() as session:
            stations = {
                row.station_id: row
                for row in session.scalars(
                    select(Station).where(Station.station_id.in_({s for s, _, _ in parsed}))
                )
            }
            by_packet: dict[str, list[tuple[str, bytes, WireChunk]]] = {}
            for station_id, payload, chunk in parsed:
                station = stations.get(station_id)
                if station is None or station.state != "active" or station.public_key is None:
                    left.append((station_id, payload))  # refused there
                    continue
                try:
                    self._verify(station, chunk)
                except (SignatureError, ProtocolError):
                    left.append((station_id, payload))  # refused there
                    continue
                if self._wrong_recipient(chunk.header) is not None:
                    left.append((station_id, payload))  # refused there
                    continue
                by_packet.setdefault(chunk.header.packet_id, []).append(
                    (station_id, payload, chunk)
                )
            stored = set(
                session.scalars(select(Packet.packet_id).where(Packet.packet_id.in_(by_packet)))
            )
            held: dict[str, dict[str, set[int]]] = {}  # packet id -> hash -> chunk indexes
            for packet_id, sha256, idx in session.execute(
                select(PacketChunk.packet_id, PacketChunk.sha256, PacketChunk.idx).where(
                    PacketChunk.packet_id.in_(by_packet)
                )
            ):
                held.setdefault(packet_id, {}).setdefault(sha256, set()).add(idx)
            budgets: dict[str, Held] | None = None  # read when first needed
            inserted: list[WireChunk] = []  # one chunk of each packet that got new rows
            assembled: list[tuple[str, WireChunk, SealedPacket]] = []
            for packet_id in sorted(by_packet):  # one lock order for every worker
                group = by_packet[packet_id]
                sha256s = {chunk.header.sealed_sha256 for _, _, chunk in group}
                counts = {chunk.count for _, _, chunk in group}
                if packet_id in stored or len(sha256s) > 1 or len(counts) > 1:
                    left += [(station_id, payload) for station_id, payload, _ in group]
                    continue
                sha256 = next(iter(sha256s))
                if set(held.get(packet_id, {})) - {sha256}:  # chunks of another content
                    left += [(station_id, payload) for station_id, payload, _ in group]
                    continue
                have = held.get(packet_id, {}).get(sha256, set())
                new: dict[int, WireChunk] = {}
                for _, _, chunk in group:
                    if chunk.index not in have:  # else a resent chunk we hold already
                        new.setdefault(chunk.index, chunk)
                station_id, last = group[0][0], group[0][2]
                if len(have) + len(new) < last.count:
                    if new:
                        if budgets is None:
                            budgets = held_by(session, {s for s, _, _ in parsed})
                        size = sum(len(c.data) for c in new.values())
                        if budgets[station_id].refusal(packet_id, size) is not None:
                            left += [(station_id, payload) for station_id, payload, _ in group]
                            continue  # refused there
                        budgets[station_id].add(packet_id, size)
                        session.add_all([self._chunk_row(station_id, c) for c in new.values()])
                        session.flush()  # in packet id order (see above)
                        inserted.append(next(iter(new.values())))
                    continue
                # Complete: with new chunks, or (only resent ones) every chunk was here but the
                # worker that stored the last one died before it assembled them.
                rows = session.scalars(
                    select(PacketChunk).where(
                        PacketChunk.packet_id == packet_id, PacketChunk.sha256 == sha256
                    )
                ).all()
                try:
                    packet = join_chunks([*map(self._wire, rows), *new.values()])
                except ProtocolError:  # refused there, with a request to send it again
                    left += [(station_id, payload) for station_id, payload, _ in group]
                    continue
                written[packet_id] = self._add_packet(session, packet)
                session.execute(
                    delete(PacketChunk).where(
                        PacketChunk.packet_id == packet_id, PacketChunk.sha256 == sha256
                    )
                )
                assembled.append((station_id, last, packet))
            if assembled:
                self._count_packets(session, [packet for _, _, packet in assembled])
            else:
                relax_durability(session)  # chunk rows only (see handle_chunk)
            session.commit()
            self._count_chunks(len(parsed) - len(left))
            receipts: list[tuple[str, Receipt]] = []
            for station_id, chunk, packet in assembled:
                self._count_stored(packet)
                receipts.append((station_id, self._receipt(chunk, "stored")))
        return receipts, left, inserted

    @staticmethod
    def _chunk_row(station_id: str, chunk: WireChunk) -> PacketChunk:
        header = chunk.header
        return PacketChunk(
            packet_id=header.packet_id,
            sha256=header.sealed_sha256,
            idx=chunk.index,
            station_id=station_id,
            count=chunk.count,
            offset=chunk.offset,
            header=chunk.header_bytes,
            signature=chunk.signature,
            data=chunk.data,
        )

    def _after_chunk_commit(self, session: Session, chunk: WireChunk) -> Receipt | None:
        """After a chunk row was committed: where workers do not serialise (PostgreSQL), a
        resent chunk may land just after another worker assembled the packet: it is not
        needed, and must not linger. Two workers may also each store one of the last chunks
        without seeing the other's: whoever sees all of them assembles (both may: the packet's
        key picks one). Where they serialise (SQLite), the transaction that stored the chunk
        saw every other chunk and packet already: nothing to do."""
        if writers_serialise(session):
            return None
        header = chunk.header
        key = (
            PacketChunk.packet_id == header.packet_id,
            PacketChunk.sha256 == header.sealed_sha256,
        )
        stored_count, held_count = session.execute(
            select(
                select(func.count())
                .select_from(Packet)
                .where(Packet.packet_id == header.packet_id)
                .scalar_subquery(),
                select(func.count()).select_from(PacketChunk).where(*key).scalar_subquery(),
            )
        ).one()
        if stored_count:
            stored = session.get(Packet, header.packet_id)
            assert stored is not None  # packets are never deleted
            session.execute(delete(PacketChunk).where(*key))
            session.commit()
            return self._already_stored(session, stored, chunk)
        if held_count < chunk.count:
            session.rollback()
            return None
        held = session.scalars(select(PacketChunk).where(*key)).all()
        if len(held) < chunk.count:  # assembled by another worker meanwhile
            session.rollback()
            return None
        return self._assemble(session, chunk, [*map(self._wire, held)])

    def _held_chunks(self, session: Session, header: PacketHeader) -> list[WireChunk]:
        rows = session.scalars(
            select(PacketChunk).where(
                PacketChunk.packet_id == header.packet_id,
                PacketChunk.sha256 == header.sealed_sha256,
            )
        )
        return [*map(self._wire, rows)]

    @staticmethod
    def _wire(row: PacketChunk) -> WireChunk:
        header = PacketHeader.model_validate_json(row.header)
        return WireChunk(
            header, row.header, row.signature, row.idx, row.count, row.offset, row.data
        )

    def _assemble(
        self, session: Session, last: WireChunk, chunks: list[WireChunk]
    ) -> Receipt | None:
        """Store the packet made of ``chunks`` (all of them), in the caller's transaction."""
        header = last.header
        key = (
            PacketChunk.packet_id == header.packet_id,
            PacketChunk.sha256 == header.sealed_sha256,
        )
        try:
            packet = join_chunks(chunks)
        except ProtocolError as exc:
            session.execute(delete(PacketChunk).where(*key))
            self._reject(
                last.header.station_id,
                header.packet_id,
                "hash-mismatch",
                str(exc),
                session,
                keep=True,
            )
            return self._receipt(
                last,
                "rejected",
                "reassembled packet does not match its hash; send it again",
                retry=True,
            )
        path = self._add_packet(session, packet)
        try:
            session.execute(delete(PacketChunk).where(*key))  # flushes the insert first
            self._count_packets(session, [packet])
            session.commit()
        except IntegrityError:
            # Another worker assembled the same packet at the same moment (PostgreSQL: both
            # saw every chunk) and committed first: it sends the receipt.
            session.rollback()
            stored = session.get(Packet, header.packet_id)
            if stored is None:
                raise
            if stored.path != path:  # written under another day's directory: not needed
                self._files.path(path).unlink(missing_ok=True)
            if stored.sha256 != header.sealed_sha256:
                return self._already_stored(session, stored, last)
            session.execute(delete(PacketChunk).where(*key))  # any a resend left meanwhile
            session.commit()
            return None
        self._count_stored(packet)
        return self._receipt(last, "stored")
