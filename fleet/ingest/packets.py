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

import logging
from collections.abc import Sequence
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from fleet.commands import station_keys
from fleet.ingest.core import IngestCore
from fleet.store.db import relax_durability
from fleet.store.locking import upsert, writers_serialise
from fleet.store.models import (
    Packet,
    PacketChunk,
    Station,
    StationPacketCount,
    utcnow,
)
from protocol.chunks import PacketChunk as WireChunk
from protocol.chunks import join_chunks
from protocol.envelope import PacketHeader, SealedPacket, verify_header_signature
from protocol.errors import ProtocolError, SignatureError
from protocol.keys import decode_station_public_key, station_key_id
from protocol.messages import Receipt

log = logging.getLogger(__name__)

VERIFIED_HEADERS_KEPT = 4096  # signed headers already verified (one per packet in progress)


class PacketIngest(IngestCore):
    """Packet chunks from stations (see the module docstring)."""

    def _count_chunks(self, count: int) -> None:
        with self._lock:
            self.counters.chunks += count
        self.metrics.chunks.inc(count)

    def handle_chunk(self, topic_station: str, payload: bytes) -> Receipt | None:
        """Handle one chunk; returns the receipt to publish to the station, if any."""
        self._count_chunks(1)
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
            held = session.scalars(select(PacketChunk).where(*key)).all()
            if any(row.idx == chunk.index for row in held):  # a resent chunk we already hold
                if len(held) >= chunk.count:
                    # Every chunk is here but the packet is not: the worker that stored the
                    # last one died before it assembled them (PostgreSQL). Assemble them now.
                    return self._assemble(session, chunk, [*map(self._wire, held)])
                session.rollback()
                return None
            if len(held) + 1 == chunk.count:
                # Fast path: this chunk completes the packet (always so for one-chunk packets).
                return self._assemble(session, chunk, [*map(self._wire, held), chunk])
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
        try:
            receipts, left = self._store_together(parsed, written)
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
        return receipts + self._one_by_one([*alone, *left])

    def _one_by_one(self, items: Sequence[tuple[str, bytes]]) -> list[tuple[str, Receipt]]:
        receipts = []
        for station_id, payload in items:
            receipt = self.handle_chunk(station_id, payload)
            if receipt is not None:
                receipts.append((station_id, receipt))
        return receipts

    def _store_together(
        self, parsed: list[tuple[str, bytes, WireChunk]], written: dict[str, str]
    ) -> tuple[list[tuple[str, Receipt]], list[tuple[str, bytes]]]:
        """The usual case of ``handle_chunks`` in one transaction; returns its receipts and
        the chunks left for ``handle_chunk``. Files written go into ``written``."""
        left: list[tuple[str, bytes]] = []
        if not parsed:
            return [], left
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
            new_rows: list[PacketChunk] = []
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
                        new_rows += [self._chunk_row(station_id, c) for c in new.values()]
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
            session.add_all(new_rows)
            session.commit()
            self._count_chunks(len(parsed) - len(left))
            receipts: list[tuple[str, Receipt]] = []
            for station_id, chunk, packet in assembled:
                self._count_stored(packet)
                receipts.append((station_id, self._receipt(chunk, "stored")))
            for chunk in inserted:
                receipt = self._after_chunk_commit(session, chunk)
                if receipt is not None:
                    receipts.append((chunk.header.station_id, receipt))
        return receipts, left

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

    def _drop_unreferenced(self, written: dict[str, str]) -> None:
        """Remove files a failed transaction wrote that no stored packet points to (another
        worker stored that packet under another day's directory, or nobody did yet)."""
        if not written:
            return
        try:
            with self._sessions() as session:
                rows = session.execute(
                    select(Packet.packet_id, Packet.path).where(Packet.packet_id.in_(written))
                )
                kept = {packet_id: path for packet_id, path in rows}
        except DBAPIError:
            log.warning("could not check %d packet files written before a failure", len(written))
            return
        for packet_id, path in written.items():
            if kept.get(packet_id) != path:
                self._files.path(path).unlink(missing_ok=True)

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

    def _verify(self, station: Station, chunk: WireChunk) -> None:
        """Check the chunk's signed header against the station's key. The chunks of a packet
        carry the same header and signature: a pair verified once with this key is not
        verified again (a bounded cache of successes)."""
        signer = self._signer_key(station, chunk.header)
        memo = (station_key_id(signer), chunk.header_bytes, chunk.signature)
        with self._lock:
            if memo in self._verified:
                self._verified.move_to_end(memo)
                return
        verify_header_signature(chunk.header, chunk.header_bytes, chunk.signature, signer)
        with self._lock:
            self._verified[memo] = None
            if len(self._verified) > VERIFIED_HEADERS_KEPT:
                self._verified.popitem(last=False)

    def _wrong_recipient(self, header: PacketHeader) -> str | None:
        """Why the packet is sealed to a key central does not accept (a key of its own, an
        old central key no longer accepted, a downgrade to another KEM), or None."""
        if (header.kem, header.recipient) in self._recipients:
            return None
        current = self._central_keys[0]
        return (
            f"sealed to key {header.recipient} ({header.kem}), not to the central key "
            f"{current.key_id} ({current.kem}): update the station's central key"
        )

    @staticmethod
    def _signer_key(station: Station, header: PacketHeader) -> ed25519.Ed25519PublicKey:
        """The key the header names, among the station's current key and its previous key
        while the rotation grace period lasts; else the current key (which then fails)."""
        keys = station_keys(station)
        for key in keys:
            if station_key_id(key) == header.signer:
                return key
        assert station.public_key is not None
        return decode_station_public_key(station.public_key)

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

    def _add_packet(self, session: Session, packet: SealedPacket) -> str:
        """Write the packet's file (fsync'd) and add its row to the caller's transaction (the
        caller deletes its chunk rows); returns the file's path."""
        header = packet.header
        received = utcnow()
        path = self._files.write(packet, received)
        session.add(
            Packet(
                packet_id=header.packet_id,
                station_id=header.station_id,
                seq=header.seq,
                sha256=header.sealed_sha256,
                size=len(packet.sealed),
                content_type=header.content_type,
                created_at=header.created_at,
                received_at=received,
                path=path,
            )
        )
        return path

    @staticmethod
    def _count_packets(
        session: Session, packets: list[SealedPacket], *, resent: str | None = None
    ) -> None:
        """Add stored ``packets`` (or one resend of a packet of station ``resent``) to their
        stations' running totals, in the caller's transaction: one statement per station, in
        station id order (so two workers' transactions never wait on each other in a cycle)."""
        per_station: dict[str, list[SealedPacket]] = {}
        for packet in packets:
            per_station.setdefault(packet.station_id, []).append(packet)
        if resent is not None:
            per_station.setdefault(resent, [])
        for station_id in sorted(per_station):
            mine = per_station[station_id]
            statement = upsert(
                session,
                StationPacketCount,
                {
                    "station_id": station_id,
                    "packets": len(mine),
                    "bytes": sum(len(p.sealed) for p in mine),
                    "last_seq": max((p.header.seq for p in mine), default=0),
                    "resends": 0 if mine else 1,
                },
            )
            table, new = StationPacketCount.__table__.c, statement.excluded
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["station_id"],
                    set_={
                        "packets": table.packets + new.packets,
                        "bytes": table.bytes + new.bytes,
                        "last_seq": case(
                            (new.last_seq > table.last_seq, new.last_seq), else_=table.last_seq
                        ),
                        "resends": table.resends + new.resends,
                    },
                )
            )

    def _count_stored(self, packet: SealedPacket) -> None:
        with self._lock:
            self.counters.stored += 1
        self.metrics.packets_stored.inc()
        log.info(
            "stored packet %s from %s (seq %d, %d bytes)",
            packet.header.packet_id,
            packet.header.station_id,
            packet.header.seq,
            len(packet.sealed),
        )

    def _already_stored(self, session: Session, stored: Packet, chunk: WireChunk) -> Receipt | None:
        header = chunk.header
        if stored.sha256 != header.sealed_sha256 or stored.station_id != header.station_id:
            self._reject(
                header.station_id,
                header.packet_id,
                "conflict",
                "packet id already stored with other content",
                session,
            )
            return self._receipt(chunk, "rejected", "packet id already used for other content")
        now = self._clock()
        with self._lock:
            last = self._last_dup_receipt.get(header.packet_id)
            if last is not None and now - last < self._dup_interval:
                session.rollback()
                return None
            self._last_dup_receipt[header.packet_id] = now
            self.counters.duplicates += 1
        self.metrics.duplicates.inc()
        stored.resends = Packet.resends + 1  # in SQL: concurrent resends all count
        self._count_packets(session, [], resent=stored.station_id)
        session.commit()
        log.info(
            "packet %s from %s was already stored: acknowledged again",
            header.packet_id,
            header.station_id,
        )
        return self._receipt(chunk, "duplicate")

    def drop_stale_chunks(self, older_than: timedelta) -> int:
        """Chunks of packets whose upload never finished (the station resends them anyway)."""
        with self._sessions() as session:
            result = session.execute(
                delete(PacketChunk).where(PacketChunk.received_at < utcnow() - older_than)
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]
