"""Prometheus metrics of the fleet service (``GET /metrics``).

One ``FleetMetrics`` per process (tests run several fleets in one process, so nothing is
registered in prometheus-client's global registry). Counters count what this process did
(ingest workers of ``ewp fleet ingest`` processes are not included); the station gauges are
read from the database at scrape time, so they are fleet-wide.

For other parts of the service:

- ``metrics.alerts_raised.labels(rule=..., severity=...).inc()`` when an alert is raised;
- ``metrics.set_alert_source(fn)``: ``fn()`` returns ``{(rule, severity): active_count}``,
  read at every scrape into ``ewp_alerts_active``;
- ``metrics.register(collector)`` for anything else (a prometheus-client ``Collector``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.store.models import Station, utcnow

log = logging.getLogger(__name__)

AlertSource = Callable[[], Mapping[tuple[str, str], int]]


# attribute: (metric, help, labels): the counters of what this process did, in exposition order
COUNTERS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "chunks": ("ewp_ingest_chunks", "packet chunks received", ()),
    "packets_stored": ("ewp_ingest_packets_stored", "packets reassembled and stored", ()),
    "duplicates": (
        "ewp_ingest_duplicates",
        "packets received again and acknowledged again",
        (),
    ),
    "rejections": ("ewp_ingest_rejections", "messages refused, by reason", ("reason",)),
    "quarantined": (
        "ewp_ingest_quarantined",
        "messages that could not be handled, kept in the quarantine, by reason",
        ("reason",),
    ),
    "receipts": ("ewp_receipts_sent", "receipts published to stations, by status", ("status",)),
    "heartbeats": ("ewp_heartbeats", "heartbeats received", ()),
    "events": ("ewp_station_events", "station events received, by severity", ("severity",)),
    "command_responses": (
        "ewp_command_responses",
        "signed command answers stored, by status",
        ("status",),
    ),
    "logins": ("ewp_logins", "web logins, by outcome (ok, failed, locked)", ("outcome",)),
    "alerts_raised": (
        "ewp_alerts_raised",
        "alerts raised, by rule and severity",
        ("rule", "severity"),
    ),
}


class FleetMetrics:
    chunks: Counter
    packets_stored: Counter
    duplicates: Counter
    rejections: Counter
    quarantined: Counter
    receipts: Counter
    heartbeats: Counter
    events: Counter
    command_responses: Counter
    logins: Counter
    alerts_raised: Counter

    def __init__(self, sessions: sessionmaker[Session] | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        for attribute, (name, documentation, labels) in COUNTERS.items():
            setattr(self, attribute, Counter(name, documentation, labels, registry=r))
        self._alert_source: AlertSource | None = None
        r.register(_AlertCollector(self))
        if sessions is not None:
            r.register(StationCollector(sessions))

    def set_alert_source(self, source: AlertSource) -> None:
        self._alert_source = source

    def active_alerts(self) -> Mapping[tuple[str, str], int]:
        if self._alert_source is None:
            return {}
        return self._alert_source()

    def register(self, collector: Collector) -> None:
        self.registry.register(collector)

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _AlertCollector(Collector):
    def __init__(self, metrics: FleetMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "ewp_alerts_active", "alerts raised and not yet cleared", labels=["rule", "severity"]
        )
        try:
            counts = self._metrics.active_alerts()
        except Exception:
            log.exception("the alert source failed; ewp_alerts_active is left out")
            counts = {}
        for (rule, severity), count in sorted(counts.items()):
            family.add_metric([rule, severity], count)
        yield family


def _age(then: datetime | None, now: datetime) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


class StationCollector(Collector):
    """Registry and health gauges, read from the database at each scrape."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        now = utcnow()
        by_state = GaugeMetricFamily("ewp_stations", "stations by registry state", labels=["state"])
        connected = GaugeMetricFamily(
            "ewp_stations_connected",
            "active stations online or offline (status topic and heartbeats)",
            labels=["status"],
        )
        online = GaugeMetricFamily(
            "ewp_station_online", "1 if the station is online", labels=["station"]
        )
        last_seen = GaugeMetricFamily(
            "ewp_station_last_seen_seconds",
            "seconds since the station's last heartbeat",
            labels=["station"],
        )
        pending = GaugeMetricFamily(
            "ewp_station_queue_pending",
            "packets waiting in the station's outbox (latest heartbeat)",
            labels=["station"],
        )
        lag = GaugeMetricFamily(
            "ewp_station_oldest_pending_age_seconds",
            "age of the oldest packet not yet acknowledged: the heartbeat's figure plus the time "
            "since that heartbeat",
            labels=["station"],
        )
        states: dict[str, int] = {"awaiting_claim": 0, "active": 0, "revoked": 0}
        up = down = 0
        with self._sessions() as session:
            rows = session.execute(
                select(
                    Station.station_id,
                    Station.state,
                    Station.online,
                    Station.last_seen_at,
                    Station.last_heartbeat,
                )
            ).all()
        for station_id, state, is_online, seen_at, heartbeat_json in rows:
            states[state] = states.get(state, 0) + 1
            if state != "active":
                continue
            up, down = (up + 1, down) if is_online else (up, down + 1)
            online.add_metric([station_id], 1.0 if is_online else 0.0)
            seen = _age(seen_at, now)
            if seen is not None:
                last_seen.add_metric([station_id], seen)
            if heartbeat_json:
                queue = json.loads(heartbeat_json).get("queue", {})
                pending.add_metric([station_id], float(queue.get("pending", 0)))
                oldest = queue.get("oldest_pending_age_s")
                lag.add_metric([station_id], float(oldest) + (seen or 0.0) if oldest else 0.0)
        for state, count in sorted(states.items()):
            by_state.add_metric([state], count)
        connected.add_metric(["online"], up)
        connected.add_metric(["offline"], down)
        yield from (by_state, connected, online, last_seen, pending, lag)
