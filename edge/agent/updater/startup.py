"""The agent's start under systemd (``Type=notify``): READY=1 only after the health check.

``ExecStartPre=python3 -m edge.agent.updater boot`` counts the start of a version on trial and
rolls back past its chances (layout.py). Then the agent starts its parts and calls
``after_start``: with no trial, it tells systemd it is ready; on trial, it runs the health check
(health.py) and either confirms the version (the ``healthy`` report waits for the link) and
tells systemd it is ready, or rolls back and exits non-zero, so systemd starts the previous
version. A version that never gets this far is caught by the boot counter, the start timeout
and the ``OnFailure=`` rollback unit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.agent.updater.health import Check, HealthResult, run_checks
from edge.agent.updater.layout import Layout

log = logging.getLogger(__name__)

EXIT_ROLLED_BACK = 75  # EX_TEMPFAIL: systemd restarts the unit, now on the previous version


def notify(message: str) -> None:
    """sd_notify; a no-op outside systemd (no NOTIFY_SOCKET)."""
    import sdnotify

    sdnotify.SystemdNotifier().notify(message)


@dataclass(frozen=True)
class StartResult:
    ready: bool
    trial_version: str | None
    health: HealthResult | None


def after_start(
    layout: Layout,
    checks: dict[str, Check],
    *,
    max_check_s: float = 120.0,
    notifier: Callable[[str], None] = notify,
) -> StartResult:
    trial = layout.trial()
    if trial is None:
        notifier("READY=1")
        return StartResult(True, None, None)
    remaining = float(trial.get("deadline_at", 0)) - time.time()
    notifier(f"STATUS=health check of {trial['version']}")
    result = run_checks(checks, deadline_s=max(1.0, min(max_check_s, remaining)))
    if result.ok:
        layout.confirm()
        log.info("version %s passed its health check", trial["version"])
        notifier("READY=1")
        notifier(f"STATUS=running {trial['version']}")
        return StartResult(True, str(trial["version"]), result)
    log.error("version %s failed its health check: %s", trial["version"], result.reason)
    layout.rollback(f"health check failed: {result.reason}")
    return StartResult(False, str(trial["version"]), result)
