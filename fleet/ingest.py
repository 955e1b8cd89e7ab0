"""Fleet ingest: packet chunks, heartbeats, status and events from stations, over MQTT.

``Ingest`` holds the decisions (no MQTT in it, so tests can hammer it directly); ``IngestWorker``
is the MQTT consumer around it. Workers subscribe through a shared subscription
(``$share/ingest/...``), so several of them, in one process or many, split the load: any worker
may get any chunk, so chunks are kept in the database until the last one arrives.

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

A worker takes what the broker has sent it at once (up to 64 messages) and handles the chunks
together (``handle_chunks``: one transaction, one durable commit, when nothing unusual is among
them; anything unusual goes through ``handle_chunk`` alone) and the heartbeats together. The
MQTT messages are acknowledged (manual PUBACK) only after they were handled, so a worker that
dies mid-way gets them redelivered.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import case, delete, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from fleet import audit, rotation
from fleet.commands import record_response, station_keys
from fleet.errors import FleetError
from fleet.metrics import FleetMetrics
from fleet.packet_files import PacketFiles
from fleet.store.db import relax_durability
from fleet.store.locking import is_transient, locked, upsert, writers_serialise
from fleet.store.models import (
    Packet,
    PacketChunk,
    Rejection,
    Station,
    StationEventRow,
    StationPacketCount,
    utcnow,
)
from mqtt_session import (
    BrokerAddress,
    Credentials,
    Message,
    MqttSession,
    SessionError,
    SessionHooks,
    SessionOptions,
    Subscription,
    TlsOptions,
)
from protocol import topics
from protocol.chunks import PacketChunk as WireChunk
from protocol.chunks import join_chunks
from protocol.envelope import PacketHeader, SealedPacket, utc_timestamp, verify_header_signature
from protocol.errors import ProtocolError, SignatureError
from protocol.keys import decode_station_public_key, station_key_id
from protocol.messages import (
    Command,
    CommandResponse,
    Heartbeat,
    Receipt,
    StationEvent,
    StationStatus,
    parse_message,
)

if TYPE_CHECKING:
    from fleet.ops import FleetOps

T = TypeVar("T")
log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

# Station events that also go into the audit log.
SECURITY_EVENTS = frozenset({"tamper", "tamper-cleared", "agent-watchdog", "packet-refused"})
VERIFIED_HEADERS_KEPT = 4096  # signed headers already verified (one per packet in progress)
TRANSIENT_ATTEMPTS = 5  # a message whose transaction the database broke off is handled again
MAX_BATCH = 64  # messages a worker takes at once (Mosquitto sends up to 64 unacknowledged)
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps a worker's share while it is away


@dataclass
class IngestCounters:
    chunks: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    heartbeats: int = 0


class Ingest:
    """What to do with each message from a station. Thread-safe (a session per call)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        files: PacketFiles,
        *,
        duplicate_receipt_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: FleetMetrics | None = None,
        key_grace: timedelta = timedelta(days=14),
        set_station_password: rotation.SetPassword | None = None,
    ) -> None:
        self._sessions = sessions
        self.metrics = metrics or FleetMetrics()
        self._key_grace = key_grace
        self.set_station_password = set_station_password
        self._files = files
        self._dup_interval = duplicate_receipt_interval_s
        self._clock = clock
        self._last_dup_receipt: dict[str, float] = {}
        self._last_rejection: dict[tuple[str, str | None, str], float] = {}
        self._verified: OrderedDict[tuple[str, bytes, bytes], None] = OrderedDict()
        self._lock = threading.Lock()
        self.counters = IngestCounters()
        # Health, liveness, alerts, configuration and reconciliation (fleet/ops.py): set by
        # the fleet context; None when ingest runs alone (tests of the packet path).
        self.ops: FleetOps | None = None
        # ``update-status`` reports (fleet/updates/status_ingest.py via the fleet context).
        self.on_update_status: Callable[[str, bytes], None] | None = None

    # -- packets -------------------------------------------------------------------------------

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

    @staticmethod
    def _receipt(
        chunk: WireChunk, status: str, reason: str | None = None, *, retry: bool = False
    ) -> Receipt:
        return Receipt.model_validate(
            {
                "packet_id": chunk.header.packet_id,
                "sha256": chunk.header.sealed_sha256,
                "status": status,
                "reason": reason,
                "retry": retry,
                "received_at": utc_timestamp(),
            }
        )

    def _reject(
        self,
        station_id: str,
        packet_id: str | None,
        reason: str,
        detail: str,
        session: Session | None = None,
        *,
        keep: bool = False,
    ) -> None:
        """Record a refusal (once a minute per station, packet and reason: no log flooding).

        Pass the caller's open session (on SQLite a second connection would wait for its write
        lock): what it did is rolled back first, unless ``keep``, and committed with the record.
        """
        if session is not None and not keep:
            session.rollback()
        now = self._clock()
        self.metrics.rejections.labels(reason=reason).inc()
        with self._lock:
            self.counters.rejected += 1
            key = (station_id, packet_id, reason)
            last = self._last_rejection.get(key)
            if last is not None and now - last < 60:
                if session is not None:
                    session.commit()  # what the caller kept (keep=True) still happens
                return
            self._last_rejection[key] = now
        security.warning(
            "refused from %s (packet %s): %s: %s", station_id, packet_id, reason, detail
        )
        row = Rejection(
            station_id=station_id, packet_id=packet_id, reason=reason, detail=detail[:2000]
        )
        audit_detail: audit.Detail = {"reason": reason, "packet_id": packet_id}
        if session is not None:
            session.add(row)
            audit.record(
                session,
                actor="fleet:ingest",
                action="security.rejected",
                target=station_id,
                detail=audit_detail,
            )
            session.commit()
            return
        with self._sessions() as own:
            own.add(row)
            audit.record(
                own,
                actor="fleet:ingest",
                action="security.rejected",
                target=station_id,
                detail=audit_detail,
            )
            own.commit()

    def drop_stale_chunks(self, older_than: timedelta) -> int:
        """Chunks of packets whose upload never finished (the station resends them anyway)."""
        with self._sessions() as session:
            result = session.execute(
                delete(PacketChunk).where(PacketChunk.received_at < utcnow() - older_than)
            )
            session.commit()
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- health --------------------------------------------------------------------------------

    def handle_heartbeat(self, topic_station: str, payload: bytes) -> None:
        self.handle_heartbeats([(topic_station, payload)])

    def handle_heartbeats(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Heartbeats ((topic station, payload) each) received at once, in one transaction:
        stations are locked in the order of their ids (a station's heartbeats keep theirs), so
        two workers' batches never wait on each other in a cycle.

        Heartbeats are telemetry: the commit does not wait for the disk (PostgreSQL;
        ``relax_durability``). A crash may lose the samples of its last moments, and the next
        heartbeat comes within the station's interval."""
        valid: list[tuple[str, Heartbeat]] = []
        for topic_station, payload in items:
            try:
                heartbeat = parse_message(Heartbeat, payload)
            except ProtocolError as exc:
                self._reject(topic_station, None, "malformed-heartbeat", str(exc))
                continue
            if heartbeat.station_id != topic_station:
                self._reject(
                    topic_station, None, "station-mismatch", "heartbeat for another station"
                )
                continue
            valid.append((topic_station, heartbeat))
        if not valid:
            return
        valid.sort(key=lambda item: item[0])
        recorded = 0
        with self._sessions() as session:
            relax_durability(session)
            for topic_station, heartbeat in valid:
                # Locked, then its liveness (fleet/store/locking.py: the station's row first).
                station = locked(session, Station, topic_station)
                if station is None or station.state != "active":
                    continue
                station.last_seen_at = utcnow()
                station.online = True
                station.software_version = heartbeat.software_version
                environment = heartbeat.environment
                if environment is not None and environment.controller_firmware:
                    station.firmware_version = environment.controller_firmware
                station.last_heartbeat = heartbeat.model_dump_json()
                if self.ops is not None:
                    self.ops.on_heartbeat(session, topic_station, heartbeat)
                recorded += 1
            session.commit()
        with self._lock:
            self.counters.heartbeats += recorded
        self.metrics.heartbeats.inc(recorded)

    def handle_status(self, topic_station: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = parse_message(StationStatus, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-status", str(exc))
            return
        with self._sessions() as session:
            # Every worker gets the status (not shared): they take turns on the station's row.
            station = locked(session, Station, topic_station)
            if station is None or status.station_id != topic_station:
                return
            station.online = status.state == "online" and station.state == "active"
            station.status_at = utcnow()
            if status.software_version:
                station.software_version = status.software_version
            if self.ops is not None and station.state == "active":
                self.ops.on_status(session, topic_station, status)
            session.commit()
        log.info(
            "station %s is %s%s",
            topic_station,
            status.state,
            f" ({status.reason})" if status.reason else "",
        )

    def handle_response(self, topic_station: str, payload: bytes) -> list[Command]:
        """Store a signed answer; returns the commands to send next (a rotation's next step)."""
        try:
            response = parse_message(CommandResponse, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-response", str(exc))
            return []
        follow_up: list[Command] = []
        with self._sessions() as session:
            recorded = record_response(session, topic_station, response)
            if recorded is None:
                self._reject(
                    topic_station,
                    None,
                    "bad-response",
                    f"response to {response.command_id} unknown or not signed by the station",
                    session,
                )
                return []
            command, first = recorded
            if first and command.kind in rotation.KINDS:
                follow_up = rotation.finish(
                    session,
                    command,
                    response,
                    grace=self._key_grace,
                    set_password=self.set_station_password,
                )
        if first:
            self.metrics.command_responses.labels(status=response.status).inc()
        log.info(
            "station %s answered command %s: %s",
            topic_station,
            response.command_id,
            response.status,
        )
        return follow_up

    def handle_event(self, topic_station: str, payload: bytes) -> None:
        try:
            event = parse_message(StationEvent, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-event", str(exc))
            return
        with self._sessions() as session:
            if session.get(Station, topic_station) is None or event.station_id != topic_station:
                return
            self.metrics.events.labels(severity=event.severity).inc()
            row = StationEventRow(
                station_id=topic_station,
                kind=event.kind,
                severity=event.severity,
                detail=json.dumps(event.detail),
            )
            session.add(row)
            if self.ops is not None:
                self.ops.on_event(session, topic_station, event, row)
            if event.kind in SECURITY_EVENTS:  # the audit head last (it serialises appends)
                audit.record(
                    session,
                    actor=f"station:{topic_station}",
                    action=f"security.{event.kind}",
                    target=topic_station,
                    detail=dict(event.detail),
                )
            session.commit()
        level = logging.WARNING if event.severity in ("error", "critical") else logging.INFO
        log.log(level, "event from %s: %s %s", topic_station, event.kind, event.detail)

    def handle_ops_message(self, topic_station: str, suffix: str, payload: bytes) -> None:
        """``config-applied`` and ``reconciliation``: handed to fleet/ops.py."""
        if self.ops is None:
            return
        try:
            self.ops.handle_message(topic_station, suffix, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, f"malformed-{suffix}", str(exc))

    def handle_update_status(self, topic_station: str, payload: bytes) -> None:
        """``update-status``: handed to the rollouts (fleet/updates/status_ingest.py)."""
        if self.on_update_status is None:
            return
        try:
            self.on_update_status(topic_station, payload)
        except ProtocolError as exc:
            self._reject(topic_station, None, "malformed-update-status", str(exc))


@dataclass(frozen=True)
class BrokerLogin:
    """How the fleet's own processes log in to the broker: the loopback plaintext listener on
    the broker's host, or TLS (verified against ``ca_file``) from another host."""

    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_file: Path | None = None

    @property
    def address(self) -> BrokerAddress:
        tls = TlsOptions(ca_file=self.ca_file) if self.tls else None
        return BrokerAddress(self.host, self.port, tls)


class IngestWorker:
    """One MQTT consumer of the shared ingest subscription (an :class:`MqttSession` driven from
    this worker's thread, acknowledging each message only after it was handled)."""

    def __init__(self, ingest: Ingest, login: BrokerLogin, *, client_id: str) -> None:
        self.ingest = ingest
        self.login = login
        self.client_id = client_id
        self._received: list[Message] = []
        shared = [
            (topics.shared(topics.PACKET_CHUNKS.filter_all_stations()), 1),
            (topics.shared(topics.HEARTBEAT.filter_all_stations()), 0),
            (topics.shared(topics.EVENTS.filter_all_stations()), 1),
            (topics.shared(topics.RESPONSES.filter_all_stations()), 1),
            (topics.shared(topics.CONFIG_APPLIED.filter_all_stations()), 1),
            (topics.shared(topics.RECONCILIATION.filter_all_stations()), 1),
            (topics.shared(topics.UPDATE_STATUS.filter_all_stations()), 1),
            # Retained status is not delivered through shared subscriptions: every worker
            # reads it (updates are idempotent).
            (topics.STATUS.filter_all_stations(), 1),
        ]
        self._session = MqttSession(
            login.address,
            SessionOptions(
                client_id=client_id,
                credentials=Credentials(login.username, login.password),
                session_expiry_s=SESSION_EXPIRY_S,
                max_inflight=64,
                manual_ack=True,
            ),
            [
                Subscription(topic_filter, qos, self._received.append)
                for topic_filter, qos in shared
            ],
            SessionHooks(
                on_refused=lambda refusal: log.error(
                    "broker refused ingest login %s: %s", login.username, refusal.text
                ),
                on_disconnected=lambda why: self._received.clear(),  # the broker sends again
                on_ready=lambda: log.info("ingest worker %s subscribed", client_id),
            ),
        )
        self.connected = self._session.ready  # logged in and subscribed

    def _receive(self) -> None:
        """Read what the broker sends: wait up to 0.1 s for a message, then take whatever
        else is already there, up to MAX_BATCH (the broker sends at most its in-flight limit
        before it sees acknowledgements)."""
        self._session.step(0.1)
        while self._session.socket_open and 0 < len(self._received) < MAX_BATCH:
            before = len(self._received)
            self._session.step(0)
            if len(self._received) == before:
                break

    def _handle_received(self) -> None:
        """Handle the messages received: the chunks together (``Ingest.handle_chunks``), the
        heartbeats together, the rest one by one in the order they came; then acknowledge
        them all, in that order: a crash before that gets them redelivered."""
        batch = list(self._received)
        self._received.clear()
        chunks: list[tuple[str, bytes]] = []
        heartbeats: list[tuple[str, bytes]] = []
        others: list[tuple[str, str, bytes]] = []
        for msg in batch:
            try:
                station_id, suffix = topics.parse_station_topic(msg.topic)
            except ValueError:
                log.warning("message on unexpected topic %s dropped", msg.topic)
                continue
            if suffix.startswith("packets/"):
                chunks.append((station_id, bytes(msg.payload)))
            elif suffix == topics.HEARTBEAT.suffix:
                heartbeats.append((station_id, bytes(msg.payload)))
            else:
                others.append((station_id, suffix, bytes(msg.payload)))
        if chunks:
            receipts = self._retrying("packet chunks", lambda: self.ingest.handle_chunks(chunks))
            for station_id, receipt in receipts:
                self._session.publish(
                    topics.RECEIPTS.for_station(station_id), receipt.to_payload(), qos=1
                )
                self.ingest.metrics.receipts.labels(status=receipt.status).inc()
        if heartbeats:
            self._retrying("heartbeats", lambda: self.ingest.handle_heartbeats(heartbeats))
        for station_id, suffix, payload in others:
            self._retrying(
                f"{suffix} from {station_id}",
                lambda: self._handle(station_id, suffix, payload),  # noqa: B023
            )
        for msg in batch:
            self._session.ack(msg)

    def _retrying(self, what: str, work: Callable[[], T]) -> T:
        """``work()``, run again when the database broke its transaction off (a deadlock the
        server broke, a serialisation failure, a busy SQLite): it was rolled back whole, so
        running it again is safe."""
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return work()
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == TRANSIENT_ATTEMPTS:
                    raise
                log.info("ingest: %s retried (%s)", what, exc.orig)
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    def _handle(self, station_id: str, suffix: str, payload: bytes) -> None:
        if suffix == topics.STATUS.suffix:
            self.ingest.handle_status(station_id, payload)
        elif suffix == topics.EVENTS.suffix:
            self.ingest.handle_event(station_id, payload)
        elif suffix == topics.RESPONSES.suffix:
            for command in self.ingest.handle_response(station_id, payload):
                self._session.publish(
                    topics.COMMANDS.for_station(station_id), command.to_payload(), qos=1
                )
        elif suffix in (topics.CONFIG_APPLIED.suffix, topics.RECONCILIATION.suffix):
            self.ingest.handle_ops_message(station_id, suffix, payload)
        elif suffix == topics.UPDATE_STATUS.suffix:
            self.ingest.handle_update_status(station_id, payload)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._receive()
                if self._received:
                    self._handle_received()
            except Exception:
                # A bug in handling must not kill the worker: the messages stay
                # unacknowledged and are redelivered after reconnecting.
                log.exception("ingest worker %s failed handling a message", self.client_id)
                self._received.clear()
                self._session.drop("handling failed")
        self._session.close(timeout=0.5)


def retire_sessions(login: BrokerLogin, client_ids: list[str], timeout: float = 10.0) -> None:
    """End the broker sessions of workers that will not come back (a host taken out of
    service, fewer workers from now on): log in as each with a clean start and no session
    expiry, then leave. Stop the workers first: a running worker would only log in again.

    Until then the broker keeps each persistent session (7 days) and, through the shared
    subscription, goes on queueing its share of the messages there. Messages dropped with a
    retired session are not lost: the stations send those packets again when their receipts do
    not come (decision 0004), and the remaining workers store them."""
    for client_id in client_ids:
        _end_session(login, client_id, timeout)
        log.info("ingest session %s retired", client_id)


def _end_session(login: BrokerLogin, client_id: str, timeout: float) -> None:
    session = MqttSession(
        login.address,
        SessionOptions(
            client_id=client_id,
            credentials=Credentials(login.username, login.password),
            clean_start=True,
            session_expiry_s=0,
        ),
    )
    try:
        session.connect_wait(timeout)
    except SessionError as exc:
        raise FleetError(
            f"could not end the session of {client_id}: {exc}; check the fleet's broker service "
            "credentials"
        ) from exc
    session.close()
