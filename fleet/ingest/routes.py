"""Dispatch: every message a worker received goes to its handler through one routes table.

``Ingest.dispatch`` takes what a worker received at once ((topic, payload) each) and returns
what to publish back (receipts, follow-up commands). On the way every message is:

1. matched to a route by its topic (a station topic the fleet does not consume is dropped);
2. bounded: a payload larger than its topic's ``protocol.bounds.max_payload`` is refused
   unparsed;
3. handled: the messages of a batched route (chunks, heartbeats) together, the others one by
   one in the order they came. A handling the database broke off (deadlock, serialisation
   failure, busy SQLite) is run again (``run_again_if_transient``). A batch that still
   fails is handled message by message; a message that still fails goes to the quarantine
   (fleet/ingest/quarantine.py) and its station is flagged.

So ``dispatch`` returns normally for any bytes a station can send: the worker acknowledges the
whole batch, and no message comes back to stall the others. It raises only when the quarantine
itself cannot be written (the database is gone): then nothing can progress anyway, and the
broker delivers the batch again after the worker reconnects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fleet.ingest.packets import PacketIngest
from fleet.ingest.quarantine import quarantine
from fleet.ingest.resume import ResumeQueries
from fleet.ingest.telemetry import TelemetryIngest
from fleet.store.locking import run_again_if_transient
from protocol import topics
from protocol.bounds import max_payload

log = logging.getLogger(__name__)

RETAINED_REASON = "retained-publish"  # fleet/ingest/retained.py

Item = tuple[str, bytes]  # (station id from the topic, payload)


@dataclass(frozen=True)
class Outgoing:
    """A message to publish to a station (QoS 1)."""

    topic: str
    payload: bytes


@dataclass(frozen=True)
class Route:
    """How the messages of one topic are handled: ``handle`` takes several (a batched
    route) or one at a time, and returns what to publish."""

    batched: bool
    handle: Callable[[Ingest, str, list[Item]], list[Outgoing]]


def _chunks(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    out = []
    for station_id, receipt in ingest.handle_chunks(items):
        ingest.metrics.receipts.labels(status=receipt.status).inc()
        out.append(Outgoing(topics.RECEIPTS.for_station(station_id), receipt.to_payload()))
    return out


def _heartbeats(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    ingest.handle_heartbeats(items)
    return []


def _status(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    for station_id, payload in items:
        ingest.handle_status(station_id, payload)
    return []


def _event(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    for station_id, payload in items:
        ingest.handle_event(station_id, payload)
    return []


def _response(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    return [
        Outgoing(topics.COMMANDS.for_station(station_id), command.to_payload())
        for station_id, payload in items
        for command in ingest.handle_response(station_id, payload)
    ]


def _resume(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    out = []
    for station_id, payload in items:
        receipts, answers = ingest.handle_resume(station_id, payload)
        out += [Outgoing(topics.RECEIPTS.for_station(station_id), r.to_payload()) for r in receipts]
        out += [
            Outgoing(topics.RESUME_ANSWER.for_station(station_id), a.to_payload()) for a in answers
        ]
    return out


def _ops(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    for station_id, payload in items:
        ingest.handle_ops_message(station_id, suffix, payload)
    return []


def _update_status(ingest: Ingest, suffix: str, items: list[Item]) -> list[Outgoing]:
    for station_id, payload in items:
        ingest.handle_update_status(station_id, payload)
    return []


PACKETS = "packets/"
ROUTES: dict[str, Route] = {
    PACKETS: Route(batched=True, handle=_chunks),  # packets/{packet id}
    topics.HEARTBEAT.suffix: Route(batched=True, handle=_heartbeats),
    topics.STATUS.suffix: Route(batched=False, handle=_status),
    topics.EVENTS.suffix: Route(batched=False, handle=_event),
    topics.RESPONSES.suffix: Route(batched=False, handle=_response),
    topics.CONFIG_APPLIED.suffix: Route(batched=False, handle=_ops),
    topics.RECONCILIATION.suffix: Route(batched=False, handle=_ops),
    topics.UPDATE_STATUS.suffix: Route(batched=False, handle=_update_status),
    topics.RESUME.suffix: Route(batched=False, handle=_resume),
}


def route_key(suffix: str) -> str:
    return PACKETS if suffix.startswith(PACKETS) else suffix


class Ingest(PacketIngest, TelemetryIngest, ResumeQueries):
    """What to do with each message from a station. Thread-safe (a session per call)."""

    def dispatch(self, messages: Sequence[tuple[str, bytes]]) -> list[Outgoing]:
        """Handle what a worker received at once ((topic, payload) each); returns what to
        publish. See the module docstring: it does not raise for anything a station sends."""
        batched: dict[str, tuple[str, list[Item]]] = {}  # route key -> (a suffix, items)
        single: list[tuple[str, Item]] = []  # (suffix, item), in the order they came
        topic_of: dict[int, str] = {}
        for topic, payload in messages:
            try:
                station_id, suffix = topics.parse_station_topic(topic)
            except ValueError:
                log.warning("message on unexpected topic %r dropped", topic[:300])
                continue
            if not payload:
                # No message type is empty: this is a retained entry being cleared (the
                # retained sweeper's empty retained publish, or a station clearing its own).
                log.info("empty message on %s from %s dropped", suffix, station_id)
                continue
            key = route_key(suffix)
            route = ROUTES.get(key)
            if route is None:
                log.info("message on %s from %s not consumed by ingest", suffix, station_id)
                continue
            limit = max_payload(suffix)
            if len(payload) > limit:
                self._reject(
                    station_id,
                    None,
                    "oversized",
                    f"{len(payload)} bytes on {suffix}; at most {limit}",
                )
                continue
            item = (station_id, payload)
            topic_of[id(item)] = topic
            if route.batched:
                batched.setdefault(key, (suffix, []))[1].append(item)
            else:
                single.append((suffix, item))
        out: list[Outgoing] = []
        for key, (suffix, items) in batched.items():
            out += self._handle_batch(key, suffix, items, topic_of)
        for suffix, item in single:
            out += self._handle_batch(route_key(suffix), suffix, [item], topic_of)
        return out

    def _handle_batch(
        self, key: str, suffix: str, items: list[Item], topic_of: dict[int, str]
    ) -> list[Outgoing]:
        route = ROUTES[key]
        what = f"{len(items)} message(s) on {suffix}"
        try:
            return run_again_if_transient(what, lambda: route.handle(self, suffix, items))
        except Exception as exc:
            if len(items) > 1:
                log.warning("ingest: %s failed together (%r); one by one now", what, exc)
                out: list[Outgoing] = []
                for item in items:
                    out += self._handle_batch(key, suffix, [item], topic_of)
                return out
            station_id, payload = items[0]
            topic = topic_of.get(id(items[0]), suffix)
            self._quarantine(station_id, topic, payload, exc)
            return []

    def _quarantine(self, station_id: str, topic: str, payload: bytes, exc: Exception) -> None:
        log.error("ingest: a message on %s from %s failed", topic, station_id, exc_info=exc)
        self.quarantine_message(station_id, topic, payload, type(exc).__name__, str(exc))

    def quarantine_message(
        self, station_id: str, topic: str, payload: bytes, reason: str, detail: str
    ) -> None:
        """Keep a message in the quarantine, count it and flag its station (also used by the
        retained sweeper, fleet/ingest/retained.py)."""
        quarantine(self._sessions, station_id, topic, payload, reason, detail)
        with self._lock:
            self.counters.quarantined += 1
        self.metrics.quarantined.labels(reason=reason[:64]).inc()
        if reason == RETAINED_REASON:
            self.flag(station_id, reason, f"left a retained message on {topic}")
        else:
            self.flag(
                station_id, "quarantined", f"a message on {topic} could not be handled ({reason})"
            )
