"""Fleet-wide views (every station's latest health, the registry) for the dashboard's overview.

Building a fleet-wide view reads every station's latest health and registry row: a few
milliseconds for a site of 48 stations, most of a second for 10,000. Below
``live_limit`` stations a view is built for each request, as fresh as the store. Above it,
each service process keeps the last view it built and serves that; a request that finds it
older than ``max_age_s`` starts a rebuild in the background and is answered with the view it
has, so no request waits for a rebuild but the first. Stations heartbeat every 30 s and go
offline after 45 s of silence, so a view up to ``max_age_s`` (10 s) old says what a fresh one
would. Decision record: docs/decisions/0010-fleet-views-cached-above-a-size.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fleet.store.models import Station

log = logging.getLogger(__name__)

T = TypeVar("T")

LIVE_LIMIT = 2000
MAX_AGE_S = 10.0


@dataclass
class _Built(Generic[T]):
    value: T
    built_at: float  # monotonic


class FleetView(Generic[T]):
    """``get(session, now)``: ``build(session, now)``, live or from the last build (above)."""

    def __init__(
        self,
        name: str,
        build: Callable[[Session, datetime], T],
        sessions: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        live_limit: int = LIVE_LIMIT,
        max_age_s: float = MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._build = build
        self._sessions = sessions
        self._clock = clock
        self.live_limit = live_limit
        self.max_age_s = max_age_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._built: _Built[T] | None = None
        self._rebuilding = False

    def get(self, session: Session, now: datetime) -> T:
        stations = session.scalar(select(func.count()).select_from(Station)) or 0
        if stations <= self.live_limit:
            return self._build(session, now)
        with self._lock:
            built = self._built
            stale = built is None or self._monotonic() - built.built_at > self.max_age_s
            start = stale and built is not None and not self._rebuilding
            if start:
                self._rebuilding = True
        if built is None:  # the first request of this process builds it
            value = self._build(session, now)
            with self._lock:
                self._built = _Built(value, self._monotonic())
            return value
        if start:
            threading.Thread(target=self._rebuild, name=f"view-{self.name}", daemon=True).start()
        return built.value

    def _rebuild(self) -> None:
        try:
            with self._sessions() as session:
                value = self._build(session, self._clock())
            with self._lock:
                self._built = _Built(value, self._monotonic())
        except Exception:
            log.exception("rebuilding the fleet view %s failed; the last one stays", self.name)
        finally:
            with self._lock:
                self._rebuilding = False
