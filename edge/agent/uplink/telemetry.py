"""What the station says about itself while connected: heartbeats, events and periodic reports.

``Outbound`` is the thread-safe queue any thread (the capture side, the updater, a command
handler) hands events and messages to; it exists before the uplink, so handlers given to the
uplink at construction can send through it. ``Telemetry`` runs in the uplink thread: a
heartbeat every ``interval_s`` (and right after each connect), the periodic messages (the
reconciliation report) soon after each connect and then on their interval, and what waits in
the queue.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from edge.agent.uplink.session import LinkStats, StationSession
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.messages import Heartbeat, Message, Scalar, StationEvent

log = logging.getLogger(__name__)

KEPT_WHILE_OFFLINE = 100  # newest events, and newest other messages, kept while offline


@dataclass
class PeriodicMessage:
    """A message sent every ``interval_s`` while connected, and soon after each connect."""

    spec: topics.TopicSpec
    interval_s: float
    build: Callable[[], Message]
    next_at: float = 0.0


class Outbound:
    """Events and messages for the fleet, from any thread; sent when the uplink is connected."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self._lock = threading.Lock()
        self._events: list[StationEvent] = []
        self._messages: list[tuple[topics.TopicSpec, Message]] = []

    def report_event(self, kind: str, severity: str = "info", **detail: Scalar) -> None:
        """Queue an event for the fleet (the newest 100 are kept while offline)."""
        event = StationEvent.model_validate(
            {
                "station_id": self.station_id,
                "at": utc_timestamp(),
                "kind": kind,
                "severity": severity,
                "detail": detail,
            }
        )
        with self._lock:
            self._events.append(event)
            del self._events[:-KEPT_WHILE_OFFLINE]

    def send(self, spec: topics.TopicSpec, message: Message) -> None:
        """Queue a message for one of this station's up topics (the newest 100 are kept while
        offline)."""
        with self._lock:
            self._messages.append((spec, message))
            del self._messages[:-KEPT_WHILE_OFFLINE]

    def take(self) -> list[tuple[topics.TopicSpec, Message]]:
        """Everything queued, events first, and the queue emptied."""
        with self._lock:
            events, self._events = self._events, []
            messages, self._messages = self._messages, []
        return [(topics.EVENTS, event) for event in events] + messages


@dataclass
class Telemetry:
    session: StationSession
    outbound: Outbound
    heartbeat: Callable[[LinkStats], Heartbeat]  # builds the next heartbeat
    interval_s: float  # between heartbeats
    periodic: list[PeriodicMessage] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    _next_heartbeat_at: float = 0.0

    def set_interval(self, interval_s: float) -> None:
        """A new heartbeat interval (from the fleet's configuration), effective from the next."""
        self.interval_s = interval_s
        self._next_heartbeat_at = min(self._next_heartbeat_at, self.clock() + interval_s)

    def on_connected(self) -> None:
        now = self.clock()
        self._next_heartbeat_at = now
        for periodic in self.periodic:
            periodic.next_at = min(periodic.next_at, now + 2.0)

    def tick(self, now: float) -> None:
        """Connected: send what is due and what waits in the queue."""
        for periodic in self.periodic:
            if now >= periodic.next_at:
                periodic.next_at = now + periodic.interval_s
                try:
                    self.outbound.send(periodic.spec, periodic.build())
                except Exception:
                    log.exception("building the periodic %s message failed", periodic.spec.suffix)
        for spec, message in self.outbound.take():
            self.session.publish(spec, message.to_payload())
        if now >= self._next_heartbeat_at:
            heartbeat = self.heartbeat(self.session.stats)
            self.session.publish(topics.HEARTBEAT, heartbeat.to_payload())
            self._next_heartbeat_at = now + self.interval_s
