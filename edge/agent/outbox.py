"""The station's outbox: sealed packets waiting to upload, durable across anything.

One SQLite file in WAL mode. Only sealed envelopes are stored, never plaintext: the packet
builder seals in memory and hands the outbox the envelope. ``enqueue`` commits with
``synchronous=FULL`` (the WAL is fsync'd) before it returns, so when the operator is told
"saved" the packet survives a power cut or a SIGKILL at any instant.

States::

    pending --(first chunk handed to MQTT)--> sending --(fleet receipt)--> acked
       ^                                          |                           |
       +----(receipt timeout, or "rejected, retry")                 (retention ends)
                                                                              v
                                                                           purged

A purged row keeps its id, sequence number and hash (a few bytes) so that the station can
always prove what it created (reconciliation); only the envelope is deleted.

Upload progress (how many chunks the broker acknowledged) is written with
``synchronous=NORMAL``: after a crash at worst a few chunks are sent again, which the fleet
de-duplicates.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from edge.agent.errors import OutboxError, OutboxFullError
from protocol.envelope import SealedPacket, parse_signed_header
from protocol.errors import EnvelopeError
from protocol.private_files import sync_directory

log = logging.getLogger(__name__)

State = Literal["pending", "sending", "acked", "purged"]
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS packets (
    packet_id     TEXT PRIMARY KEY,
    seq           INTEGER NOT NULL UNIQUE,
    created_at    REAL NOT NULL,
    state         TEXT NOT NULL
                  CHECK (state IN ('pending', 'sending', 'acked', 'purged')),
    size          INTEGER NOT NULL,
    sha256        TEXT NOT NULL,
    envelope      BLOB,
    chunks_sent   INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_sent_at  REAL,
    acked_at      REAL,
    receipt       TEXT,
    CHECK ((state = 'purged') = (envelope IS NULL))
);
CREATE INDEX IF NOT EXISTS packets_by_state ON packets (state, seq);
CREATE INDEX IF NOT EXISTS packets_size_by_state ON packets (state, size);
"""

# Enough for any packet header and its signature (headers are well under 2 KB).
_HEADER_PREFIX = 16 * 1024

_COLUMNS = (
    "packet_id, seq, created_at, state, size, sha256, chunks_sent, attempts, last_sent_at, acked_at"
)


@dataclass(frozen=True)
class OutboxEntry:
    packet_id: str
    seq: int
    created_at: float
    state: State
    size: int
    sha256: str
    chunks_sent: int
    attempts: int
    last_sent_at: float | None
    acked_at: float | None


@dataclass(frozen=True)
class OutboxStats:
    pending: int
    sending: int
    acked: int
    purged: int
    pending_bytes: int
    stored_bytes: int
    oldest_pending_created_at: float | None
    created_total: int
    last_seq: int

    @property
    def waiting(self) -> int:
        """Packets not yet safe at the fleet (pending + sending)."""
        return self.pending + self.sending

    def oldest_pending_age(self, now: float) -> float | None:
        if self.oldest_pending_created_at is None:
            return None
        return max(0.0, now - self.oldest_pending_created_at)


class Outbox:
    """A connection to the outbox file. Use one per thread."""

    def __init__(
        self,
        path: Path,
        *,
        quota_bytes: int = 2 * 1024**3,
        min_free_bytes: int = 200 * 1024**2,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.quota_bytes = quota_bytes
        self.min_free_bytes = min_free_bytes
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise OutboxError(f"cannot open the outbox {path}: {exc}") from exc
        try:
            self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                raise OutboxError(f"outbox {path}: the file system does not support WAL mode")
            self._db.execute("PRAGMA synchronous = FULL")
            self._durable = True
            self._db.execute("PRAGMA secure_delete = ON")
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise OutboxError(
                f"outbox {path} is damaged or not an outbox ({exc}); keep the file for "
                "investigation and contact fleet support before deleting anything"
            ) from exc
        sync_directory(path.parent)  # the database and WAL files themselves

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------

    def enqueue(self, make_packet: Callable[[int], SealedPacket]) -> OutboxEntry:
        """Seal-and-store atomically: ``make_packet(seq)`` builds the envelope for the next seq.

        The sequence number is taken and the envelope stored in one write transaction, so a
        crash can never leave a gap or a duplicate in the station's numbering. Returns once
        the packet is durable on disk.
        """
        with self._write(durable=True):
            seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM packets").fetchone()[0]
            packet = make_packet(seq)
            if packet.header.seq != seq:
                raise OutboxError(f"packet built for seq {packet.header.seq}, expected {seq}")
            data = packet.to_bytes()
            self._make_room(len(data))
            now = self._clock()
            self._db.execute(
                "INSERT INTO packets (packet_id, seq, created_at, state, size, sha256, envelope)"
                " VALUES (?, ?, ?, 'pending', ?, ?, ?)",
                (packet.packet_id, seq, now, len(data), packet.sha256, data),
            )
        log.info("saved packet %s (seq %d, %d bytes)", packet.packet_id, seq, len(data))
        return OutboxEntry(
            packet.packet_id, seq, now, "pending", len(data), packet.sha256, 0, 0, None, None
        )

    def _make_room(self, size: int) -> None:
        # Covered by the (state, size) index: no table scan over the envelopes.
        stored = self._db.execute(
            "SELECT COALESCE(SUM(size), 0) FROM packets"
            " WHERE state IN ('pending', 'sending', 'acked')"
        ).fetchone()[0]
        if stored + size > self.quota_bytes:
            # Packets already safe at the fleet go first, oldest first, before refusing.
            freed = 0
            rows = self._db.execute(
                "SELECT packet_id, size FROM packets WHERE state = 'acked' ORDER BY seq"
            ).fetchall()
            for packet_id, packet_size in rows:
                if stored - freed + size <= self.quota_bytes:
                    break
                self._purge_row(packet_id)
                freed += packet_size
            stored -= freed
        if stored + size > self.quota_bytes:
            waiting = self._db.execute(
                "SELECT COUNT(*) FROM packets WHERE state IN ('pending', 'sending')"
            ).fetchone()[0]
            raise OutboxFullError(
                f"outbox full: {_mb(stored)} of the {_mb(self.quota_bytes)} quota is taken by "
                f"{waiting} packets waiting to upload; connect the station to the network so "
                "they upload, then capture again (nothing was lost: this enrolment is still "
                "on screen)"
            )
        free = _disk_free(self.path.parent)
        if free - size < self.min_free_bytes:
            raise OutboxFullError(
                f"disk nearly full: {_mb(free)} free, {_mb(self.min_free_bytes)} must stay "
                "free; upload waiting packets or free space on the station, then save again "
                "(this enrolment is still on screen)"
            )

    def mark_sending(self, packet_id: str) -> None:
        with self._write(durable=False):
            self._db.execute(
                "UPDATE packets SET state = 'sending', attempts = attempts + 1, last_sent_at = ?"
                " WHERE packet_id = ? AND state IN ('pending', 'sending')",
                (self._clock(), packet_id),
            )

    def record_progress(self, packet_id: str, chunks_sent: int) -> None:
        """The broker acknowledged chunks ``0 .. chunks_sent-1`` of this packet."""
        with self._write(durable=False):
            self._db.execute(
                "UPDATE packets SET chunks_sent = MAX(chunks_sent, ?)"
                " WHERE packet_id = ? AND state = 'sending'",
                (chunks_sent, packet_id),
            )

    def mark_acked(self, packet_id: str, receipt: str) -> bool:
        """The fleet stored the packet. Returns False when it was not waiting (already acked)."""
        with self._write(durable=True):
            cursor = self._db.execute(
                "UPDATE packets SET state = 'acked', acked_at = ?, receipt = ?"
                " WHERE packet_id = ? AND state IN ('pending', 'sending')",
                (self._clock(), receipt, packet_id),
            )
        return cursor.rowcount == 1

    def reset_to_pending(self, packet_id: str) -> None:
        """Send this packet again from its first chunk (receipt timeout, fleet asked to)."""
        with self._write(durable=False):
            self._db.execute(
                "UPDATE packets SET state = 'pending', chunks_sent = 0"
                " WHERE packet_id = ? AND state IN ('pending', 'sending')",
                (packet_id,),
            )

    def purge_acked(self, older_than_s: float) -> int:
        """Delete envelopes acknowledged more than ``older_than_s`` ago; keep their rows."""
        cutoff = self._clock() - older_than_s
        with self._write(durable=False):
            ids = [
                row[0]
                for row in self._db.execute(
                    "SELECT packet_id FROM packets WHERE state = 'acked' AND acked_at <= ?",
                    (cutoff,),
                )
            ]
            for packet_id in ids:
                self._purge_row(packet_id)
        if ids:
            self._db.execute("PRAGMA incremental_vacuum")
            log.info("purged %d acknowledged packets past their retention", len(ids))
        return len(ids)

    def _purge_row(self, packet_id: str) -> None:
        self._db.execute(
            "UPDATE packets SET state = 'purged', envelope = NULL WHERE packet_id = ?",
            (packet_id,),
        )

    @contextlib.contextmanager
    def _write(self, *, durable: bool) -> Iterator[None]:
        if durable != self._durable:
            self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OutboxError(f"outbox {self.path} is busy or unwritable: {exc}") from exc
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
                raise OutboxFullError(
                    "disk full: the packet was not saved (this enrolment is still on screen); "
                    "free space on the station or upload waiting packets, then save again"
                ) from exc
            if isinstance(exc, sqlite3.Error):
                raise OutboxError(f"outbox {self.path}: {exc}") from exc
            raise

    # -- reading -------------------------------------------------------------------------------

    def entry(self, packet_id: str) -> OutboxEntry:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM packets WHERE packet_id = ?",  # noqa: S608 (constant)
            (packet_id,),
        ).fetchone()
        if row is None:
            raise OutboxError(f"no packet {packet_id} in the outbox")
        return OutboxEntry(*row)

    def load(self, packet_id: str) -> SealedPacket:
        row = self._db.execute(
            "SELECT envelope FROM packets WHERE packet_id = ?", (packet_id,)
        ).fetchone()
        if row is None or row[0] is None:
            raise OutboxError(f"packet {packet_id} is not in the outbox (or already purged)")
        return SealedPacket.from_bytes(row[0])

    def sealed_size(self, packet_id: str) -> int:
        """The size of a packet's sealed body (what is cut into chunks), read from its header
        alone: listing a week's queue must not read every envelope whole."""
        row = self._db.execute(
            f"SELECT substr(envelope, 1, {_HEADER_PREFIX}) FROM packets"  # noqa: S608 (constant)
            " WHERE packet_id = ?",
            (packet_id,),
        ).fetchone()
        if row is None or row[0] is None:
            raise OutboxError(f"packet {packet_id} is not in the outbox (or already purged)")
        try:
            header, *_ = parse_signed_header(bytes(row[0]))
        except EnvelopeError:  # a header longer than the prefix: read the envelope whole
            return self.load(packet_id).header.sealed_size
        return header.sealed_size

    def waiting(self, limit: int = 100) -> list[OutboxEntry]:
        """Packets not yet acknowledged, oldest first: the upload order."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM packets WHERE state IN ('pending', 'sending')"  # noqa: S608
            " ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def entries(self) -> list[OutboxEntry]:
        query = f"SELECT {_COLUMNS} FROM packets ORDER BY seq"  # noqa: S608 (constant)
        rows = self._db.execute(query).fetchall()
        return [OutboxEntry(*row) for row in rows]

    def stats(self) -> OutboxStats:
        counts = dict(
            self._db.execute("SELECT state, COUNT(*) FROM packets GROUP BY state").fetchall()
        )
        pending_bytes, oldest = self._db.execute(
            "SELECT COALESCE(SUM(size), 0), MIN(created_at) FROM packets"
            " WHERE state IN ('pending', 'sending')"
        ).fetchone()
        stored_bytes, total, last_seq = self._db.execute(
            "SELECT COALESCE(SUM(size) FILTER (WHERE state != 'purged'), 0), COUNT(*),"
            " COALESCE(MAX(seq), 0) FROM packets"
        ).fetchone()
        return OutboxStats(
            pending=counts.get("pending", 0),
            sending=counts.get("sending", 0),
            acked=counts.get("acked", 0),
            purged=counts.get("purged", 0),
            pending_bytes=pending_bytes,
            stored_bytes=stored_bytes,
            oldest_pending_created_at=oldest,
            created_total=total,
            last_seq=last_seq,
        )

    def integrity_check(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])


def _disk_free(directory: Path) -> int:
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def _mb(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"
