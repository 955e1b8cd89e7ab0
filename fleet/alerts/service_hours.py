"""Service hours: whether a moment falls within them, and how much of a span does."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from fleet.ops_settings import WEEKDAYS, ServiceHours


def _window(day: datetime, hours: ServiceHours, tz: ZoneInfo) -> tuple[datetime, datetime]:
    sh, sm = map(int, hours.start.split(":"))
    eh, em = map(int, hours.end.split(":"))
    start = datetime.combine(day.date(), time(sh, sm), tz)
    end = (
        datetime.combine(day.date() + timedelta(days=1), time(0, 0), tz)
        if (eh, em) == (24, 0)
        else datetime.combine(day.date(), time(eh, em), tz)
    )
    return start, end


def service_seconds(start: datetime, end: datetime, hours: ServiceHours) -> float:
    """How much of [start, end) falls within service hours (at most the last 400 days)."""
    if end <= start:
        return 0.0
    tz = ZoneInfo(hours.timezone)
    start = max(start, end - timedelta(days=400))
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day = datetime.combine(local_start.date(), time(0, 0), tz)
    while day <= local_end:
        if WEEKDAYS[day.weekday()] in hours.days:
            window_start, window_end = _window(day, hours, tz)
            overlap = min(window_end, local_end) - max(window_start, local_start)
            total += max(0.0, overlap.total_seconds())
        day += timedelta(days=1)
    return total


def in_service_hours(moment: datetime, hours: ServiceHours) -> bool:
    tz = ZoneInfo(hours.timezone)
    local = moment.astimezone(tz)
    if WEEKDAYS[local.weekday()] not in hours.days:
        return False
    start, end = _window(local, hours, tz)
    return start <= local < end
