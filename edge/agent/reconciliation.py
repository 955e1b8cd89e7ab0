"""What this station created, for the fleet to check against what it received.

The outbox keeps a row for every packet ever sealed, purged ones included (decision 0005), so
the report covers everything: per day (Asia/Bangkok, by creation time) how many packets, which
sequence numbers, and which of those still wait for the fleet's receipt. Numbers between 1 and
the highest with no row at all (``missing``) can only mean a row was lost or deleted here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

from edge.agent.outbox import OutboxEntry
from protocol.envelope import utc_timestamp
from protocol.ops_messages import ReconciliationDay, ReconciliationReport, seq_ranges

BANGKOK = ZoneInfo("Asia/Bangkok")


def bangkok_day(created_at: float) -> str:
    return datetime.fromtimestamp(created_at, BANGKOK).date().isoformat()


def build_report(station_id: str, entries: Iterable[OutboxEntry]) -> ReconciliationReport:
    seqs: dict[str, list[int]] = defaultdict(list)
    pending: dict[str, list[int]] = defaultdict(list)
    present: set[int] = set()
    for entry in entries:
        day = bangkok_day(entry.created_at)
        seqs[day].append(entry.seq)
        present.add(entry.seq)
        if entry.state in ("pending", "sending"):
            pending[day].append(entry.seq)
    last_seq = max(present, default=0)
    return ReconciliationReport(
        station_id=station_id,
        at=utc_timestamp(),
        last_seq=last_seq,
        created_total=len(present),
        days=[
            ReconciliationDay(
                day=day,
                created=len(seqs[day]),
                seqs=seq_ranges(seqs[day]),
                pending=seq_ranges(pending[day]),
            )
            for day in sorted(seqs)
        ],
        missing=seq_ranges(set(range(1, last_seq + 1)) - present),
    )
