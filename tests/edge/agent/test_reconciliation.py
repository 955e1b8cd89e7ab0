"""The station's reconciliation report: per Bangkok day, pending, and numbers with no row."""

from __future__ import annotations

from datetime import UTC, datetime

from edge.agent.outbox import OutboxEntry
from edge.agent.reconciliation import build_report


def entry(seq: int, at: datetime, state: str = "acked") -> OutboxEntry:
    return OutboxEntry(f"{seq:032x}", seq, at.timestamp(), state, 100, "0" * 64, 0, 0, None, None)  # type: ignore[arg-type]


def test_days_follow_bangkok_time_and_holes_are_reported() -> None:
    evening = datetime(2026, 11, 25, 16, 30, tzinfo=UTC)  # 23:30 in Bangkok, 25 Nov
    night = datetime(2026, 11, 25, 17, 30, tzinfo=UTC)  # 00:30 in Bangkok, 26 Nov
    entries = [
        entry(1, evening),
        entry(2, evening, "purged"),
        entry(4, night, "sending"),
        entry(5, night, "pending"),
        entry(6, night),
    ]
    report = build_report("mu-01", entries)
    assert (report.last_seq, report.created_total) == (6, 5)
    assert [(d.day, d.created, d.seqs, d.pending) for d in report.days] == [
        ("2026-11-25", 2, [(1, 2)], []),
        ("2026-11-26", 3, [(4, 6)], [(4, 5)]),
    ]
    assert report.missing == [(3, 3)]


def test_an_empty_outbox() -> None:
    report = build_report("mu-01", [])
    assert (report.last_seq, report.days, report.missing) == (0, [], [])
