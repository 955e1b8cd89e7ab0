"""Service hours arithmetic (Asia/Bangkok)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fleet.alerts.service_hours import in_service_hours, service_seconds
from fleet.ops_settings import ServiceHours


def test_service_hours_arithmetic() -> None:
    hours = ServiceHours(start="08:00", end="18:00", days=["mon", "tue", "wed", "thu", "fri"])
    friday_17 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 17:00 Bangkok
    monday_9 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09:00 Bangkok
    assert service_seconds(friday_17, monday_9, hours) == 2 * 3600
    assert in_service_hours(friday_17, hours)
    assert not in_service_hours(friday_17 + timedelta(hours=1), hours)
    assert not in_service_hours(datetime(2026, 11, 29, 3, tzinfo=UTC), hours)  # Sunday
