"""A token bucket per client address (the public status page): ``per_minute`` lookups a
minute on average, ``burst`` at once. In memory, per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, client: str) -> float:
        """0 when allowed (a token is taken); else the seconds until the next token."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                allowed = 0.0
            else:
                self._buckets[client] = (tokens, now)
                allowed = (1.0 - tokens) / self.rate
            if len(self._buckets) > self._max_clients:
                self._forget_full(now)
        return allowed

    def _forget_full(self, now: float) -> None:
        """Drop clients whose bucket has refilled: they are indistinguishable from new ones."""
        for client, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.rate >= self.burst:
                del self._buckets[client]
