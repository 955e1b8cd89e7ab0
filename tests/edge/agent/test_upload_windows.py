"""Upload windows in Asia/Bangkok local time, including windows across midnight."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from edge.agent.upload_windows import UploadWindows
from protocol.station_config import UploadSchedule


def bangkok(hour: int, minute: int = 0) -> datetime:
    """That Bangkok (UTC+7) wall-clock time, as UTC (the date does not matter: daily windows)."""
    return datetime(2026, 11, 26, (hour - 7) % 24, minute, tzinfo=UTC)


def windows(*pairs: tuple[str, str]) -> UploadWindows:
    return UploadWindows(
        UploadSchedule.model_validate({"windows": [{"start": a, "end": b} for a, b in pairs]})
    )


def test_no_windows_means_always() -> None:
    assert windows().is_open(bangkok(3)) and windows().next_opening(bangkok(3)) is None


@pytest.mark.parametrize(
    ("hour", "minute", "expected"),
    [(11, 59, False), (12, 0, True), (13, 59, True), (14, 0, False), (23, 30, True), (5, 59, True),
     (6, 0, False)],
)  # fmt: skip
def test_windows_by_bangkok_time(hour: int, minute: int, expected: bool) -> None:
    schedule = windows(("12:00", "14:00"), ("22:00", "06:00"))
    assert schedule.is_open(bangkok(hour, minute)) is expected


def test_next_opening() -> None:
    schedule = windows(("12:00", "14:00"), ("22:00", "06:00"))
    assert schedule.next_opening(bangkok(15)) == bangkok(22)
    assert schedule.next_opening(bangkok(7)) == bangkok(12)
    assert schedule.next_opening(bangkok(12, 30)) is None
