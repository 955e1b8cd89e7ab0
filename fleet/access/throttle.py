"""Failed logins, counted per username and per client address in the database (so several
service processes share the count). Past the limit within the window, the key is locked for the
lockout period; every attempt on a locked key is refused without checking the password."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fleet.store.admin_models import LoginThrottle
from fleet.store.locking import locked_or_created


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int
    window: timedelta
    lockout: timedelta


def locked_for(session: Session, key: str, now: datetime) -> int:
    """Seconds the key stays locked (0: not locked)."""
    row = session.get(LoginThrottle, key)
    if row is None or row.locked_until is None or row.locked_until <= now:
        return 0
    return max(1, math.ceil((row.locked_until - now).total_seconds()))


def record_failure(session: Session, key: str, policy: ThrottlePolicy, now: datetime) -> bool:
    """Count a failure (in the caller's transaction); True if it locks the key now."""
    # Locked: guesses in parallel (threads, processes) must each count, not overwrite.
    row, _ = locked_or_created(
        session, LoginThrottle, key, {"key": key, "failures": 0, "window_start": now}
    )
    if now - row.window_start > policy.window:
        row.failures, row.window_start = 0, now
    row.failures += 1
    if row.failures >= policy.max_failures:
        row.locked_until = now + policy.lockout
        row.failures, row.window_start = 0, now
        return True
    return False


def clear(session: Session, key: str) -> None:
    row = session.get(LoginThrottle, key)
    if row is not None:
        session.delete(row)
