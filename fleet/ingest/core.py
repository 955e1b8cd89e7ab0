"""What every ingest handler shares: the store, counters, and how a refusal is recorded.

A refusal is logged on the security logger, counted in /metrics, and kept as a ``rejections``
row with an audit entry, at most once a minute per station, packet and reason, and at most
``REJECTIONS_PER_MINUTE`` rows a minute per station: a station that sends more (a flood with
only the broker password) is flagged once (fleet/ingest/flags.py) and the rest is only counted.
The memory of recent refusals is pruned as it goes, so a flood of new packet ids cannot grow it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from fleet import audit, rotation
from fleet.ingest import flags
from fleet.metrics import FleetMetrics
from fleet.packet_files import PacketFiles
from fleet.store.models import Rejection
from protocol.chunks import PacketChunk as WireChunk
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPublicKey
from protocol.messages import Receipt

if TYPE_CHECKING:
    from fleet.ops import FleetOps

log = logging.getLogger(__name__)
security = logging.getLogger("ewp.security")

REJECTION_REPEAT_S = 60.0  # the same refusal (station, packet, reason) recorded once a minute
REJECTIONS_PER_MINUTE = 30  # refusal rows a station may cause a minute; then only counted
REJECTIONS_REMEMBERED = 10_000  # recent refusals kept in memory to drop repeats
FLAG_REPEAT_S = 600.0  # a station's flag of one kind is raised again after this at the soonest


@dataclass
class IngestCounters:
    chunks: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    heartbeats: int = 0
    quarantined: int = 0


class IngestCore:
    """The state the handlers share. Thread-safe (a session per call)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        files: PacketFiles,
        *,
        central_keys: Sequence[CentralPublicKey],
        duplicate_receipt_interval_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: FleetMetrics | None = None,
        key_grace: timedelta = timedelta(days=14),
        set_station_password: rotation.SetPassword | None = None,
    ) -> None:
        if not central_keys:
            raise ValueError("ingest needs the central public key packets are sealed to")
        self._sessions = sessions
        # Packets must be sealed to these (the current central key first, then the previous
        # ones still accepted after a central key rotation).
        self._central_keys = list(central_keys)
        self._recipients = {(key.kem, key.key_id) for key in central_keys}
        self.metrics = metrics or FleetMetrics()
        self._key_grace = key_grace
        self.set_station_password = set_station_password
        self._files = files
        self._dup_interval = duplicate_receipt_interval_s
        self._clock = clock
        self._last_dup_receipt: OrderedDict[str, float] = OrderedDict()
        self._last_rejection: OrderedDict[tuple[str, str | None, str], float] = OrderedDict()
        self._rejection_rows: dict[str, tuple[float, int]] = {}  # station -> (minute, rows)
        self._flagged: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._verified: OrderedDict[tuple[str, bytes, bytes], None] = OrderedDict()
        self._lock = threading.Lock()
        self.counters = IngestCounters()
        # Health, liveness, alerts, configuration and reconciliation (fleet/ops.py): set by
        # the fleet context; None when ingest runs alone (tests of the packet path).
        self.ops: FleetOps | None = None
        # ``update-status`` reports (fleet/updates/status_ingest.py via the fleet context).
        self.on_update_status: Callable[[str, bytes], None] | None = None
        # A worker saw retained publishes on station topics (not status): the context asks
        # for a retained sweep at once (fleet/ingest/retained.py).
        self.on_retained: Callable[[list[str]], None] | None = None

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

    def _worth_recording(self, station_id: str, packet_id: str | None, reason: str) -> bool:
        """Whether this refusal gets a row (not a repeat, the station within its budget);
        also says whether the station has just run over it. Called under the lock."""
        now = self._clock()
        key = (station_id, packet_id, reason)
        last = self._last_rejection.get(key)
        if last is not None and now - last < REJECTION_REPEAT_S:
            return False
        self._last_rejection[key] = now
        self._last_rejection.move_to_end(key)
        while len(self._last_rejection) > REJECTIONS_REMEMBERED:
            self._last_rejection.popitem(last=False)
        minute, rows = self._rejection_rows.get(station_id, (now, 0))
        if now - minute >= 60:
            minute, rows = now, 0
        if len(self._rejection_rows) > REJECTIONS_REMEMBERED:
            self._rejection_rows = {
                s: v for s, v in self._rejection_rows.items() if now - v[0] < 60
            }
        self._rejection_rows[station_id] = (minute, rows + 1)
        return rows < REJECTIONS_PER_MINUTE

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
        """Record a refusal (see the module docstring for how often).

        Pass the caller's open session (on SQLite a second connection would wait for its write
        lock): what it did is rolled back first, unless ``keep``, and committed with the record.
        """
        if session is not None and not keep:
            session.rollback()
        self.metrics.rejections.labels(reason=reason).inc()
        with self._lock:
            self.counters.rejected += 1
            record = self._worth_recording(station_id, packet_id, reason)
            over_budget = not record and self._rejection_rows[station_id][1] == (
                REJECTIONS_PER_MINUTE + 1
            )
        if not record:
            if session is not None:
                session.commit()  # what the caller kept (keep=True) still happens
            if over_budget:
                self.flag(
                    station_id,
                    "rejection-flood",
                    f"more than {REJECTIONS_PER_MINUTE} refused messages a minute",
                )
            return
        security.warning(
            "refused from %s (packet %s): %s: %s", station_id, packet_id, reason, detail[:500]
        )
        row = Rejection(
            station_id=station_id, packet_id=packet_id, reason=reason[:64], detail=detail[:2000]
        )
        audit_detail: audit.Detail = {"reason": reason, "packet_id": packet_id}
        own = session if session is not None else self._sessions()
        try:
            own.add(row)
            audit.record(
                own,
                actor="fleet:ingest",
                action="security.rejected",
                target=station_id,
                detail=audit_detail,
            )
            own.commit()
        finally:
            if session is None:
                own.close()

    def flag(self, station_id: str, kind: str, summary: str) -> None:
        """Flag a misbehaving station (an alert, raised once; fleet/ingest/flags.py); the same
        flag of a station is not raised again for ``FLAG_REPEAT_S``."""
        now = self._clock()
        with self._lock:
            last = self._flagged.get((station_id, kind))
            if last is not None and now - last < FLAG_REPEAT_S:
                return
            self._flagged[(station_id, kind)] = now
            self._flagged.move_to_end((station_id, kind))
            while len(self._flagged) > REJECTIONS_REMEMBERED:
                self._flagged.popitem(last=False)
        settings = self.ops.settings.alerts if self.ops is not None else None
        flags.raise_flag(self._sessions, station_id, kind, summary, settings=settings)
