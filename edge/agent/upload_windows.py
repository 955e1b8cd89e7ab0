"""When packets may upload: daily windows in Asia/Bangkok local time (the fleet configures
them, `protocol.station_config.UploadSchedule`). No windows: whenever the link is up.

A window may cross midnight (22:00-06:00). Only packet uploads wait for a window; heartbeats,
events and reports always flow.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol.station_config import UploadSchedule


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


class UploadWindows:
    def __init__(
        self, schedule: UploadSchedule, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.schedule = schedule
        self._clock = clock
        self._tz = ZoneInfo(schedule.timezone)

    @property
    def always(self) -> bool:
        return not self.schedule.windows

    def is_open(self, moment: datetime | None = None) -> bool:
        if self.always:
            return True
        local = (moment or self._clock()).astimezone(self._tz).time()
        for window in self.schedule.windows:
            start, end = _hhmm(window.start), _hhmm(window.end)
            if start == end:
                return True  # a whole day
            if start < end:
                if start <= local < end:
                    return True
            elif local >= start or local < end:  # crosses midnight
                return True
        return False

    def next_opening(self, moment: datetime | None = None) -> datetime | None:
        """When the next window opens (None: open now, or always)."""
        now = moment or self._clock()
        if self.is_open(now):
            return None
        local = now.astimezone(self._tz)
        candidates = []
        for window in self.schedule.windows:
            start = datetime.combine(local.date(), _hhmm(window.start), self._tz)
            if start <= local:
                start += timedelta(days=1)
            candidates.append(start)
        return min(candidates).astimezone(UTC)
