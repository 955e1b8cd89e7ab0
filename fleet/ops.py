"""Fleet operations in one place: what ingest hands over (heartbeats, status, events, the
``config-applied`` and ``reconciliation`` messages), publishing configuration and application
statuses, and the periodic jobs (missed-heartbeat check, alert evaluation, webhook delivery,
health rollups and retention, re-publishing what the broker did not take, clearing retained
messages stations left on their up topics).

Time comes from ``clock`` (aware UTC datetimes), so tests drive it by hand; the job loop only
uses the monotonic clock to pace itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from fleet import application_status, reconciliation
from fleet.alerts import raising, rules
from fleet.alerts.raising import Changes
from fleet.broker.publisher import FleetPublisher
from fleet.configuration import publishing, reports
from fleet.configuration.changes import refresh_new_stations
from fleet.errors import BrokerAdminError
from fleet.health import rollups, writes
from fleet.rate_limit import RateLimiter
from fleet.settings import FleetSettings
from fleet.store.models import Clock, Station, StationEventRow, utcnow
from fleet.store.ops_models import Alert, StationLiveness
from fleet.webhook import DeliveryRound, WebhookSender
from protocol import topics
from protocol.errors import MessageError
from protocol.messages import Heartbeat, StationEvent, StationStatus, parse_message
from protocol.ops_messages import ConfigApplied, ReconciliationReport

log = logging.getLogger(__name__)

ASKED_SWEEP_GAP_S = 30.0

Report = TypeVar("Report", ConfigApplied, ReconciliationReport)


def _from_station(model: type[Report], station_id: str, payload: bytes, what: str) -> Report:
    """The message, refused if it names another station than the topic it came on."""
    report = parse_message(model, payload)
    if report.station_id != station_id:
        raise MessageError(f"{what} names station {report.station_id}")
    return report


@dataclass
class Job:
    name: str
    interval_s: float
    run: Callable[[], object]
    next_at: float = 0.0


class FleetOps:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: FleetSettings,
        *,
        clock: Clock = utcnow,
        publisher: Callable[[], FleetPublisher] | None = None,
        webhook_client: httpx.Client | None = None,
        on_raised: Callable[[Alert], None] | None = None,
    ) -> None:
        self.sessions = sessions
        self.on_raised = on_raised  # e.g. the metrics' raised-alert counter
        self.settings = settings
        self.clock = clock
        self._publisher = publisher
        self._webhook_client = webhook_client
        self._webhook: WebhookSender | None = None
        page = settings.status_page
        # The public status page: lookups per client address.
        self.status_limiter = RateLimiter(page.rate_limit_per_minute, page.rate_limit_burst)
        # The retained sweeper (fleet/ingest/retained.py), given by the context: it needs
        # the broker login and the ingest's quarantine.
        self.sweep_retained: Callable[[], object] | None = None
        self._sweep_asked = threading.Event()
        # A flood of retained publishes asks again and again: sweeps asked for run at most
        # this often (each subscribes to every station's up topics for a moment).
        self.asked_sweep_gap_s = ASKED_SWEEP_GAP_S
        self._handlers: dict[str, Callable[[str, bytes], None]] = {
            topics.CONFIG_APPLIED.suffix: self._on_config_applied,
            topics.RECONCILIATION.suffix: self._on_reconciliation,
        }

    # -- from ingest (the caller's session and transaction) ------------------------------------

    def on_heartbeat(self, session: Session, station_id: str, heartbeat: Heartbeat) -> None:
        now = self.clock()
        configured = (
            reports.configured_heartbeat_interval(session, station_id)
            if heartbeat.interval_s is None
            else None
        )
        writes.record_heartbeat(
            session,
            station_id,
            heartbeat,
            now=now,
            settings=self.settings.health,
            configured_interval_s=configured,
        )
        if heartbeat.config is not None:
            reports.record_running(session, station_id, heartbeat.config, now=now)

    def on_status(self, session: Session, station_id: str, status: StationStatus) -> None:
        writes.record_status(
            session, station_id, status, now=self.clock(), settings=self.settings.health
        )
        station = session.get(Station, station_id)
        liveness = session.get(StationLiveness, station_id)
        if station is not None and liveness is not None:
            station.online = liveness.state == "online"  # one answer everywhere

    def on_event(
        self, session: Session, station_id: str, event: StationEvent, row: StationEventRow
    ) -> None:
        row.at = self.clock()  # the fleet's clock orders events against heartbeats
        if event.kind in rules.EVENT_KINDS:
            session.flush()
            self.evaluate_alerts_in(session, station_id=station_id)

    def handle_message(self, station_id: str, suffix: str, payload: bytes) -> None:
        """A message on one of the operations' up topics (raises ProtocolError if malformed)."""
        handler = self._handlers.get(suffix)
        if handler is None:
            log.info("message on %s from %s not handled", suffix, station_id)
            return
        with self.sessions() as session:
            station = session.get(Station, station_id)
            active = station is not None and station.state == "active"
            session.rollback()
        if not active:
            log.warning("%s from %s ignored: not an active station", suffix, station_id)
            return
        handler(station_id, payload)

    def _on_config_applied(self, station_id: str, payload: bytes) -> None:
        report = _from_station(ConfigApplied, station_id, payload, "config-applied")
        with self.sessions() as session:
            reports.record_applied(session, station_id, report, now=self.clock())
            session.commit()

    def _on_reconciliation(self, station_id: str, payload: bytes) -> None:
        report = _from_station(ReconciliationReport, station_id, payload, "reconciliation report")
        with self.sessions() as session:
            reconciliation.record_report(session, station_id, report, now=self.clock())
            session.flush()
            self.evaluate_alerts_in(session, station_id=station_id)  # a gap alerts at once
            session.commit()

    # -- configuration publishing ----------------------------------------------------------------

    def publish_configs(self, station_ids: list[str] | None = None) -> list[str]:
        """Publish every desired configuration not yet published (of these stations, or all).

        If the broker cannot be reached they stay unpublished: the ``config`` job tries again.
        """
        if self._publisher is None:
            return []
        with self.sessions() as session:
            waiting = publishing.unpublished(session, station_ids)
            session.rollback()
        done = []
        for station_id in waiting:
            with self.sessions() as session:
                try:
                    if publishing.publish(session, self._publisher(), station_id, now=self.clock()):
                        done.append(station_id)
                except BrokerAdminError as exc:
                    log.warning(
                        "configuration for %s not published yet (%s); retrying shortly",
                        station_id,
                        exc,
                    )
                    return done
                session.commit()
        return done

    def publish_application_statuses(self, numbers: list[str] | None = None) -> list[str]:
        """Send statuses not yet sent to their stations (these, or all). A broker that cannot
        be reached leaves them for the ``app-status`` job."""
        if self._publisher is None:
            return []
        if numbers is None:
            with self.sessions() as session:
                numbers = application_status.unpublished(session)
                session.rollback()
        done = []
        for number in numbers:
            with self.sessions() as session:
                try:
                    if application_status.publish(
                        session, self._publisher(), number, now=self.clock()
                    ):
                        done.append(number)
                except BrokerAdminError as exc:
                    log.warning("status of %s not sent yet (%s); retrying shortly", number, exc)
                    return done
                session.commit()
        return done

    def sync_configs(self) -> list[str]:
        with self.sessions() as session:
            refresh_new_stations(session, now=self.clock())
            session.commit()
        return self.publish_configs()

    # -- jobs ----------------------------------------------------------------------------------

    def check_liveness(self) -> list[str]:
        with self.sessions() as session:
            stations = writes.check_timeouts(session, now=self.clock())
            session.commit()
        return stations

    def evaluate_alerts_in(self, session: Session, *, station_id: str | None = None) -> Changes:
        changes = raising.evaluate(
            session,
            now=self.clock(),
            settings=self.settings.alerts,
            station_id=station_id,
        )
        if self.on_raised is not None:
            for alert in changes.raised:
                self.on_raised(alert)
        return changes

    def evaluate_alerts(self) -> Changes:
        with self.sessions() as session:
            changes = self.evaluate_alerts_in(session)
            session.commit()
        return changes

    def webhook(self) -> WebhookSender:
        if self._webhook is None:
            self._webhook = WebhookSender(
                self.sessions,
                self.settings.alerts.webhook,
                clock=self.clock,
                client=self._webhook_client,
            )
        return self._webhook

    def deliver_notifications(self) -> DeliveryRound:
        if self.settings.alerts.webhook.url is None:
            return DeliveryRound()
        return self.webhook().deliver_due()

    def roll_up(self) -> int:
        written = 0
        for _ in range(30):  # catch up a day per round after a long stop
            with self.sessions() as session:
                done = rollups.roll_up(session, now=self.clock())
                session.commit()
            written += done
            if not done:
                break
        return written

    def apply_retention(self) -> int:
        with self.sessions() as session:
            deleted = rollups.apply_retention(
                session, now=self.clock(), settings=self.settings.health
            )
            session.commit()
        return deleted

    def jobs(self) -> list[Job]:
        h, a = self.settings.health, self.settings.alerts
        sweep_s = self.settings.ingest.retained_sweep_interval_s
        sweeps = (
            [Job("retained", sweep_s, self.sweep_retained)]
            if self.sweep_retained is not None and sweep_s > 0
            else []
        )
        return [
            *sweeps,
            Job("liveness", h.check_interval_s, self.check_liveness),
            Job("alerts", a.evaluate_interval_s, self.evaluate_alerts),
            Job("webhook", a.webhook.poll_interval_s, self.deliver_notifications),
            Job("rollups", h.rollup_interval_s, self.roll_up),
            Job("retention", h.retention_interval_s, self.apply_retention),
            Job("config", 30.0, self.sync_configs),
            Job("app-status", 30.0, self.publish_application_statuses),
        ]

    def request_retained_sweep(self) -> None:
        """Run the retained sweep at the job loop's next tick (the ingest saw a retained
        publish on a station topic), not only at its interval; at most every
        ``asked_sweep_gap_s``."""
        self._sweep_asked.set()

    def run_jobs(self, stop: threading.Event, *, tick_s: float = 1.0) -> None:
        """Run each job at its interval until ``stop`` (one thread; a failing job is logged
        and tried again at its next turn)."""
        jobs = self.jobs()
        while not stop.is_set():
            now = time.monotonic()
            if self._sweep_asked.is_set():
                self._sweep_asked.clear()
                for job in jobs:
                    if job.name == "retained":  # at most every ASKED_SWEEP_GAP_S
                        last = job.next_at - job.interval_s
                        job.next_at = min(job.next_at, max(now, last + self.asked_sweep_gap_s))
            for job in jobs:
                if now < job.next_at:
                    continue
                job.next_at = now + job.interval_s
                try:
                    job.run()
                except Exception:
                    log.exception(
                        "fleet job %s failed; it runs again in %.0f s", job.name, job.interval_s
                    )
            stop.wait(tick_s)

    def close(self) -> None:
        if self._webhook is not None:
            self._webhook.close()
            self._webhook = None
