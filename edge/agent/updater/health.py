"""The health check a new version must pass after its restart, before success is reported.

The agent runs it (it owns the serial ports and the MQTT session): the outbox opens and holds
every packet it held before the switch, the broker is reached, every configured sensor and the
station controller answer. A failing check is retried until the deadline (a broker takes a few
seconds to accept a reconnect); the first check still failing then is the reason sent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge.agent.outbox import Outbox

log = logging.getLogger(__name__)

Check = Callable[[], None]  # raises with a reason when unhealthy


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    failed: dict[str, str]  # check name -> why

    @property
    def reason(self) -> str:
        return "; ".join(f"{name}: {why}" for name, why in self.failed.items())


def outbox_fingerprint(path: Path) -> dict[str, int]:
    """What must not go down across a restart: how many packets were ever stored, the last
    seq."""
    with Outbox(path) as outbox:
        stats = outbox.stats()
    return {"created_total": stats.created_total, "last_seq": stats.last_seq}


def outbox_check(path: Path, before: dict[str, Any] | None) -> Check:
    def check() -> None:
        with Outbox(path) as outbox:
            integrity = outbox.integrity_check()
            if integrity != "ok":
                raise RuntimeError(f"outbox integrity check: {integrity}")
            stats = outbox.stats()
        if before is not None:
            # More is fine: the old version may save the enrolment it was finishing between the
            # switch and its exit. Fewer is a lost packet (or another outbox).
            now = {"created_total": stats.created_total, "last_seq": stats.last_seq}
            if any(now[k] < int(before.get(k) or 0) for k in now):
                raise RuntimeError(f"outbox lost packets across the restart: {before} -> {now}")

    return check


def run_checks(
    checks: dict[str, Check],
    *,
    deadline_s: float,
    retry_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> HealthResult:
    end = clock() + deadline_s
    failed: dict[str, str] = {}
    pending = dict(checks)
    while True:
        failed = {}
        for name, check in list(pending.items()):
            try:
                check()
            except Exception as exc:  # any failure of a check is a reason, never a crash
                failed[name] = f"{type(exc).__name__}: {exc}"[:200]
            else:
                del pending[name]
        if not failed or clock() >= end:
            break
        sleep(min(retry_s, max(0.0, end - clock())))
    if failed:
        log.warning("health check failed: %s", failed)
    return HealthResult(not failed, failed)
