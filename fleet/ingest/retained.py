"""The retained sweeper: retained messages a station left on its up topics are kept in
quarantine, the station flagged, and the retained entry cleared (decision 0032).

Mosquitto 2.0 cannot refuse retain per topic, and stations need it for ``status`` (and its last
will). So the fleet looks instead: a short-lived session with the fleet service's broker login
subscribes (not shared: the broker sends retained messages only to plain subscriptions) to every
station ``up`` topic that is not retained by design (``protocol.topics``, ``retain=False``).
What the broker sends on subscribe with the retain flag set is a retained entry a station left;
each is recorded (quarantine, reason ``retained-publish``, the station's ``station-misbehaving``
alert) and then cleared with an empty retained publish on its topic. Live messages seen while
subscribed (retain flag cleared by the broker) are ignored: the ingest handles them. The
ingest workers subscribe with "retain as published" and ask for a sweep at once when they see a
retained publish (``Ingest.on_retained``, ``FleetOps.request_retained_sweep``).

A sweep is bounded (``max_messages`` entries, ``time_limit_s``): a flood of retained entries is
cleared over several sweeps, and a sweep never stalls the job thread for longer. A recording
that fails leaves the entry in place for the next sweep. The empty publish reaches the ingest
as an empty message, which it drops (fleet/ingest/routes.py).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from fleet.ingest.routes import RETAINED_REASON as REASON
from fleet.ingest.worker import BrokerLogin
from mqtt_session import (
    Credentials,
    Message,
    MqttSession,
    SessionError,
    SessionHooks,
    SessionOptions,
    Subscription,
)
from protocol import topics

log = logging.getLogger(__name__)

QUIET_S = 0.5  # no new retained entry for this long: the broker has sent them all

SWEPT_TOPICS: tuple[topics.TopicSpec, ...] = tuple(
    spec for spec in topics.ALL_TOPICS if spec.direction is topics.Direction.UP and not spec.retain
)


class Recorder(Protocol):
    def quarantine_message(
        self, station_id: str, topic: str, payload: bytes, reason: str, detail: str
    ) -> None: ...


@dataclass
class SweepResult:
    """What one sweep did: the topics cleared, and whether it stopped at a bound."""

    cleared: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bounded: bool = False


class RetainedSweeper:
    def __init__(
        self,
        login: BrokerLogin,
        recorder: Recorder,
        *,
        max_messages: int = 1000,
        time_limit_s: float = 30.0,
        quiet_s: float = QUIET_S,
    ) -> None:
        self.login = login
        self.recorder = recorder
        self.max_messages = max_messages
        self.time_limit_s = time_limit_s
        self.quiet_s = quiet_s
        self._lock = threading.Lock()  # one sweep at a time (the job and the ingest's request)

    def sweep(self) -> SweepResult:
        """Find, record and clear the retained entries on station topics (one bounded pass)."""
        with self._lock:
            return self._sweep()

    def _sweep(self) -> SweepResult:
        started = time.monotonic()
        deadline = started + self.time_limit_s
        found: dict[str, bytes] = {}  # topic -> payload (the broker keeps one per topic)
        guard = threading.Lock()
        last_seen = [started]
        result = SweepResult()

        def collect(message: Message) -> None:
            if not message.retain or not message.payload:
                return  # a live message (the ingest's), or an entry being cleared
            with guard:
                if message.topic in found:
                    return
                if len(found) >= self.max_messages:
                    result.bounded = True
                    return
                found[message.topic] = message.payload
                last_seen[0] = time.monotonic()

        refused: dict[int, str] = {}  # message id -> the broker's reason (PUBACK)

        def published(mid: int, reason: str | None) -> None:
            if reason is not None:
                refused[mid] = reason

        session = MqttSession(
            self.login.address,
            SessionOptions(
                client_id=f"ewp-fleet-sweep-{uuid.uuid4().hex[:8]}",
                credentials=Credentials(self.login.username, self.login.password),
                clean_start=True,
                session_expiry_s=0,
            ),
            # QoS 0: the live chunks seen meanwhile cost the broker nothing to keep.
            [Subscription(spec.filter_all_stations(), 0, collect) for spec in SWEPT_TOPICS],
            SessionHooks(on_published=published),
        )
        try:
            session.connect_wait(max(1.0, min(10.0, self.time_limit_s)))
            last_seen[0] = time.monotonic()
            while time.monotonic() < deadline:
                with guard:
                    full = len(found) >= self.max_messages
                    quiet = time.monotonic() - last_seen[0] >= self.quiet_s
                if full or quiet:
                    break
                time.sleep(0.05)
            else:
                result.bounded = True
            with guard:
                entries = list(found.items())
            for topic, payload in entries:
                if time.monotonic() >= deadline:
                    result.bounded = True
                    break
                self._settle(session, topic, payload, result, refused)
        except SessionError as exc:
            log.warning("retained sweep not done: %s", exc)
            result.failed.append(f"broker: {exc}")
        finally:
            session.close()
        if result.cleared or result.bounded:
            log.warning(
                "retained sweep: %d retained message(s) on station topics cleared%s",
                len(result.cleared),
                " (stopped at a bound: the rest next sweep)" if result.bounded else "",
            )
        return result

    def _settle(
        self,
        session: MqttSession,
        topic: str,
        payload: bytes,
        result: SweepResult,
        refused: dict[int, str],
    ) -> None:
        try:
            station_id, suffix = topics.parse_station_topic(topic)
        except ValueError:
            station_id, suffix = "unknown", topic
        detail = (
            f"a retained message on {suffix} ({len(payload)} bytes, sha256 "
            f"{hashlib.sha256(payload).hexdigest()}); only status is retained by a station"
        )
        try:
            self.recorder.quarantine_message(station_id, topic, payload, REASON, detail)
        except Exception:
            log.exception("retained message on %s not recorded; left for the next sweep", topic)
            result.failed.append(topic)
            return
        try:
            mid = session.publish_and_wait(topic, b"", qos=1, retain=True, timeout=5.0)
        except SessionError as exc:
            log.warning("retained message on %s not cleared: %s", topic, exc)
            result.failed.append(topic)
            return
        if mid in refused:
            # A broker whose fleet role predates the sweeper: add publishClientSend on the
            # station up topics to the ewp-fleet-service role (docs/protocol.md).
            log.error(
                "the broker refused to clear the retained message on %s (%s): the fleet "
                "service's broker role needs publishClientSend on station up topics",
                topic,
                refused[mid],
            )
            result.failed.append(topic)
            return
        result.cleared.append(topic)
