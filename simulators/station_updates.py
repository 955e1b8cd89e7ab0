"""The update side of a simulated station: answers the fleet's offers as a real updater would.

Transport-free (the station's MQTT link hands it each retained ``update`` payload and publishes
what it returns on ``update-status``), so a test or a benchmark wires it to real Mosquitto with
the station's own credentials. Written from docs/protocol.md "Software updates", not from the
station's updater: it checks the fleet against the contract, not against shared code.

Behaviours (``UpdateBehaviour``), one per station:

- ``healthy``: offered -> downloading -> downloaded -> installing -> restarting -> healthy,
  and from then on the new version runs (``version``; the agent starts once more);
- ``fail-health``: the same up to restarting, then ``rolled-back`` with a reason and a log
  tail; the old version keeps running (and the agent started twice more);
- ``refuse``: ``refused`` at once (e.g. not enough free space);
- ``silent``: says nothing, ever (a station in a dead zone).

``cancel`` offers are answered ``cancelled`` unless the station already finished. An empty
payload (the fleet cleared its retained offer) is ignored.

It also makes the station's heartbeats: capture counters that grow as the station works. A
``regression`` (``failure_rate``, ``restarts``, ``backlog``, ``sensor_errors``) takes effect only
once the station runs the offered version, so a rollout's soak check sees the update cause it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

FINAL = frozenset({"healthy", "failed", "rolled-back", "refused", "cancelled"})


class UpdateBehaviour(StrEnum):
    HEALTHY = "healthy"
    FAIL_HEALTH = "fail-health"
    REFUSE = "refuse"
    SILENT = "silent"


class Regression(StrEnum):
    NONE = "none"
    FAILURE_RATE = "failure_rate"
    RESTARTS = "restarts"
    BACKLOG = "backlog"
    SENSOR_ERRORS = "sensor_errors"


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class SimulatedStationUpdater:
    station_id: str
    version: str = "1.0.0"
    behaviour: UpdateBehaviour = UpdateBehaviour.HEALTHY
    regression: Regression = Regression.NONE
    bundle_bytes: int = 4_000_000
    offers: list[dict[str, Any]] = field(default_factory=list)  # every offer received
    reports: list[dict[str, Any]] = field(default_factory=list)  # every status sent
    # heartbeat state
    agent_starts: int = 1
    enrolments: int = 0
    attempts_ok: int = 0
    attempts_failed: int = 0
    sensor_errors: int = 0
    seq: int = 0
    _regressed_version: str | None = None
    _finished: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- offers ---------------------------------------------------------------------------------

    def on_offer(self, payload: bytes) -> list[bytes]:
        """The status messages (payloads for ``update-status``) answering one offer."""
        if not payload:
            return []
        offer = json.loads(payload)
        with self._lock:
            self.offers.append(offer)
            rollout_id = offer["rollout_id"]
            if self.behaviour is UpdateBehaviour.SILENT:
                return []
            if offer.get("action") == "cancel":
                if rollout_id in self._finished:
                    return []
                self._finished.add(rollout_id)
                return [self._status(offer, "cancelled", reason="cancelled by the fleet")]
            if rollout_id in self._finished:
                return []  # the retained offer again after a reconnect
            return self._install(offer)

    def _install(self, offer: dict[str, Any]) -> list[bytes]:
        rollout_id = offer["rollout_id"]
        if self.behaviour is UpdateBehaviour.REFUSE:
            self._finished.add(rollout_id)
            return [self._status(offer, "refused", reason="not enough free space")]
        total = self.bundle_bytes
        out = [
            self._status(offer, "offered"),
            self._status(offer, "downloading", bytes_done=total // 2, bytes_total=total),
            self._status(offer, "downloaded", bytes_done=total, bytes_total=total),
            self._status(offer, "installing", bytes_done=total, bytes_total=total),
            self._status(offer, "restarting", bytes_done=total, bytes_total=total),
        ]
        self._finished.add(rollout_id)
        if self.behaviour is UpdateBehaviour.FAIL_HEALTH:
            self.agent_starts += 2  # the new version, then the old one again
            out.append(
                self._status(
                    offer,
                    "rolled-back",
                    reason="health check failed: fingerprint sensor not answering",
                    log_tail="agent: health check: fingerprint: no answer on /dev/ttyUSB0",
                )
            )
            return out
        self.agent_starts += 1
        out.append(self._status(offer, "healthy", bytes_done=total, bytes_total=total))
        self.version = offer["version"]  # after the report: it says what ran before
        self._regressed_version = offer["version"]
        return out

    def _status(self, offer: dict[str, Any], state: str, **extra: Any) -> bytes:
        message = {
            "v": 1,
            "station_id": self.station_id,
            "rollout_id": offer["rollout_id"],
            "component": offer["component"],
            "version": offer["version"],
            "from_version": self.version,
            "state": state,
            "at": _now(),
            "delta": False,
            **extra,
        }
        self.reports.append(message)
        return json.dumps(message).encode()

    # -- heartbeats -----------------------------------------------------------------------------

    @property
    def regressing(self) -> bool:
        return self.regression is not Regression.NONE and self._regressed_version is not None

    def work(self, enrolments: int = 2) -> None:
        """The station enrols ``enrolments`` applicants (two fingers, two eyes each)."""
        with self._lock:
            for _ in range(enrolments):
                self.enrolments += 1
                self.attempts_ok += 4
                if self.regressing and self.regression is Regression.FAILURE_RATE:
                    self.attempts_failed += 4
                if self.regressing and self.regression is Regression.SENSOR_ERRORS:
                    self.sensor_errors += 3
            if self.regressing and self.regression is Regression.RESTARTS:
                self.agent_starts += 1

    def heartbeat(self, at: str | None = None) -> bytes:
        with self._lock:
            self.seq += 1
            backlog = 40 if self.regressing and self.regression is Regression.BACKLOG else 1
            return json.dumps(
                {
                    "v": 1,
                    "station_id": self.station_id,
                    "at": at or _now(),
                    "seq": self.seq,
                    "uptime_s": 60.0 * self.seq,
                    "software_version": self.version,
                    "queue": {
                        "pending": backlog,
                        "sending": 0,
                        "acked": self.enrolments,
                        "pending_bytes": backlog * 100_000,
                        "oldest_pending_age_s": 30.0,
                        "created_total": self.enrolments + backlog,
                        "last_seq": self.enrolments + backlog,
                    },
                    "disk": {"free_bytes": 60_000_000_000, "total_bytes": 100_000_000_000},
                    "sensors": [{"kind": "fingerprint", "state": "ok"}],
                    "interval_s": 30.0,
                    "captures": {
                        "enrolments_completed": self.enrolments,
                        "attempts_ok": self.attempts_ok,
                        "attempts_failed": self.attempts_failed,
                        "sensor_errors": self.sensor_errors,
                    },
                    "agent_starts": self.agent_starts,
                }
            ).encode()
