"""Reconciliation: what each station says it created against the packets the fleet stored.

Sequence numbers have no gaps by construction (decision 0005), so every number from 1 to the
highest the station ever reported must end up either stored at the fleet or still waiting at
the station. Anything else is **lost**:

- a number the station created, no longer waits for, and the fleet never stored (the fleet
  lost it, e.g. a restored backup);
- a number the station skipped (no outbox row: deleted or lost before upload) that the fleet
  never stored;
- numbers above a later, lower ``last_seq`` (the newest rows deleted at the station).

Each report replaces the station's per-day view (Asia/Bangkok days, as the station counts
them; a skipped number is counted on the day of the next number it did keep) and syncs the
``reconciliation-gap`` alert for that station.
"""

from __future__ import annotations

import bisect
import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from fleet.store.locking import locked
from fleet.store.models import Packet, Station
from fleet.store.ops_models import ReconciliationDayRow, ReconciliationState
from protocol.bounds import MAX_REPORT_SEQS, MAX_SEQ_AHEAD
from protocol.errors import MessageError
from protocol.ops_messages import (
    ReconciliationReport,
    expand_ranges,
    format_ranges,
    seq_ranges,
)

log = logging.getLogger(__name__)


@dataclass
class DayView:
    day: str
    seqs: set[int]
    pending: set[int]


def ranges_text(stored: str) -> str:
    """Sequence numbers stored as JSON ranges (``[[2, 2], [5, 7]]``), as people read them
    (``2,5-7``)."""
    return format_ranges(tuple(r) for r in json.loads(stored))


def _days(report: ReconciliationReport) -> list[DayView]:
    return [DayView(d.day, expand_ranges(d.seqs), expand_ranges(d.pending)) for d in report.days]


def record_report(
    session: Session, station_id: str, report: ReconciliationReport, *, now: datetime
) -> ReconciliationState:
    """Compare, store per day, return the station's state (caller commits).

    Two reports of one station (two ingest workers) run one after the other: the station's
    row is locked first."""
    locked(session, Station, station_id)
    received = set(session.scalars(select(Packet.seq).where(Packet.station_id == station_id)))
    duplicates = set(
        session.scalars(
            select(Packet.seq)
            .where(Packet.station_id == station_id)
            .group_by(Packet.seq)
            .having(func.count() > 1)
        )
    )
    state = session.get(ReconciliationState, station_id)
    _check_within_reach(report, max(received, default=0), state)
    high_water = max(report.last_seq, state.high_water_seq if state else 0)
    days = sorted(_days(report), key=lambda d: d.day)
    present_sorted = sorted(seq for d in days for seq in d.seqs)
    day_of = {seq: d.day for d in days for seq in d.seqs}
    # Numbers with no row at the station: skipped (missing) or cut off (above last_seq).
    holes = expand_ranges(report.missing) | set(range(report.last_seq + 1, high_water + 1))
    holes -= set(day_of)
    hole_days: dict[str, set[int]] = {}
    fallback_day = days[-1].day if days else now.date().isoformat()
    for seq in holes:
        at = bisect.bisect_right(present_sorted, seq)
        if at < len(present_sorted):
            day = day_of[present_sorted[at]]
        elif present_sorted:
            day = day_of[present_sorted[-1]]
        else:
            day = fallback_day
        hole_days.setdefault(day, set()).add(seq)

    existing = {
        row.day: row
        for row in session.scalars(
            select(ReconciliationDayRow).where(ReconciliationDayRow.station_id == station_id)
        )
    }
    lost_all: set[int] = set()
    pending_all: set[int] = set()
    names = {d.day for d in days} | set(hole_days)
    by_day = {d.day: d for d in days}
    for day in sorted(names):
        view = by_day.get(day, DayView(day, set(), set()))
        day_holes = hole_days.get(day, set())
        lost = (view.seqs - received - view.pending) | (day_holes - received)
        lost_all |= lost
        waiting = view.pending - received  # stored already: only its receipt is on the way
        pending_all |= waiting
        row = existing.pop(day, None)
        if row is None:
            row = ReconciliationDayRow(station_id=station_id, day=day)
            session.add(row)
        row.created = len(view.seqs)
        row.received = len((view.seqs | day_holes) & received)
        row.pending = len(waiting)
        row.lost = len(lost)
        row.lost_seqs = json.dumps(seq_ranges(lost))
        row.first_seq = min(view.seqs) if view.seqs else None
        row.last_seq = max(view.seqs) if view.seqs else None
    for stale in existing.values():
        session.delete(stale)

    if state is None:
        state = ReconciliationState(station_id=station_id)
        session.add(state)
    state.reported_at, state.station_at = now, report.at
    state.last_seq, state.high_water_seq = report.last_seq, high_water
    state.created_total = report.created_total
    state.received_total = len({s for s in received if s <= high_water})
    state.pending_total = len(pending_all)
    state.lost_total = len(lost_all)
    state.lost_seqs = json.dumps(seq_ranges(lost_all))
    state.missing_at_station = json.dumps(seq_ranges(holes))
    state.duplicate_seqs = json.dumps(seq_ranges(duplicates))
    if lost_all:
        log.error(
            "station %s: packets %s were created but are neither at the fleet nor waiting at "
            "the station",
            station_id,
            format_ranges(seq_ranges(lost_all)),
        )
    return state


def _check_within_reach(
    report: ReconciliationReport, stored_last: int, state: ReconciliationState | None
) -> None:
    """Refuse numbers the station could not have created (protocol/bounds.py): a ``last_seq``
    far above what the fleet stored, or far below what it reported before; either would make
    the comparison expand millions of numbers."""
    if report.last_seq > stored_last + MAX_SEQ_AHEAD:
        raise MessageError(
            f"reconciliation report: last_seq {report.last_seq} is more than {MAX_SEQ_AHEAD} "
            f"above the highest packet stored ({stored_last})"
        )
    previous = state.high_water_seq if state else 0
    if previous - report.last_seq > MAX_REPORT_SEQS:
        raise MessageError(
            f"reconciliation report: last_seq {report.last_seq} is more than {MAX_REPORT_SEQS} "
            f"below the highest reported before ({previous})"
        )


def lost_days(session: Session, station_id: str) -> list[str]:
    return list(
        session.scalars(
            select(ReconciliationDayRow.day)
            .where(ReconciliationDayRow.station_id == station_id, ReconciliationDayRow.lost > 0)
            .order_by(ReconciliationDayRow.day)
        )
    )
