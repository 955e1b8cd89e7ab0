"""The MQTT side of ingest: workers of the shared subscription, and retiring their sessions.

A worker takes what the broker has sent it at once (up to ``MAX_BATCH`` messages), hands it to
``Ingest.dispatch`` (fleet/ingest/routes.py) and acknowledges the messages (manual PUBACK) only
after that, so a worker that dies mid-way gets them redelivered. The MQTT session itself is
the shared library's (mqtt_session).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import FleetError
from fleet.ingest.routes import Ingest
from mqtt_session import (
    BrokerAddress,
    Credentials,
    Message,
    MqttSession,
    SessionError,
    SessionHooks,
    SessionOptions,
    Subscription,
    TlsOptions,
)
from protocol import topics

log = logging.getLogger(__name__)

MAX_BATCH = 64  # messages a worker takes at once (Mosquitto sends up to 64 unacknowledged)
SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps a worker's share while it is away


@dataclass(frozen=True)
class BrokerLogin:
    """How the fleet's own processes log in to the broker: the loopback plaintext listener on
    the broker's host, or TLS (verified against ``ca_file``) from another host."""

    host: str
    port: int
    username: str
    password: str
    tls: bool = False
    ca_file: Path | None = None

    @property
    def address(self) -> BrokerAddress:
        tls = TlsOptions(ca_file=self.ca_file) if self.tls else None
        return BrokerAddress(self.host, self.port, tls)


class IngestWorker:
    """One MQTT consumer of the shared ingest subscription (an :class:`MqttSession` driven from
    this worker's thread, acknowledging each message only after it was handled)."""

    def __init__(self, ingest: Ingest, login: BrokerLogin, *, client_id: str) -> None:
        self.ingest = ingest
        self.login = login
        self.client_id = client_id
        self._received: list[Message] = []
        shared = [
            (topics.shared(topics.PACKET_CHUNKS.filter_all_stations()), 1),
            (topics.shared(topics.HEARTBEAT.filter_all_stations()), 0),
            (topics.shared(topics.EVENTS.filter_all_stations()), 1),
            (topics.shared(topics.RESPONSES.filter_all_stations()), 1),
            (topics.shared(topics.CONFIG_APPLIED.filter_all_stations()), 1),
            (topics.shared(topics.RECONCILIATION.filter_all_stations()), 1),
            (topics.shared(topics.UPDATE_STATUS.filter_all_stations()), 1),
            (topics.shared(topics.RESUME.filter_all_stations()), 1),
            # Retained status is not delivered through shared subscriptions: every worker
            # reads it (updates are idempotent).
            (topics.STATUS.filter_all_stations(), 1),
        ]
        self._session = MqttSession(
            login.address,
            SessionOptions(
                client_id=client_id,
                credentials=Credentials(login.username, login.password),
                session_expiry_s=SESSION_EXPIRY_S,
                max_inflight=64,
                manual_ack=True,
            ),
            [
                # Retain as published: a retained publish on a station topic shows as such
                # and asks for a retained sweep (fleet/ingest/retained.py).
                Subscription(topic_filter, qos, self._received.append, retain_as_published=True)
                for topic_filter, qos in shared
            ],
            SessionHooks(
                on_refused=lambda refusal: log.error(
                    "broker refused ingest login %s: %s", login.username, refusal.text
                ),
                on_disconnected=lambda why: self._received.clear(),  # the broker sends again
                on_ready=lambda: log.info("ingest worker %s subscribed", client_id),
            ),
        )
        self.connected = self._session.ready  # logged in and subscribed

    def _receive(self) -> None:
        """Read what the broker sends: wait up to 0.1 s for a message, then take whatever
        else is already there, up to MAX_BATCH (the broker sends at most its in-flight limit
        before it sees acknowledgements)."""
        self._session.step(0.1)
        while self._session.socket_open and 0 < len(self._received) < MAX_BATCH:
            before = len(self._received)
            self._session.step(0)
            if len(self._received) == before:
                break

    def _handle_received(self) -> None:
        """Hand the messages received to ``Ingest.dispatch``, publish what it returns, then
        acknowledge them all, in the order they came: a crash before that gets them
        redelivered. ``dispatch`` quarantines what it cannot handle, so nothing comes back."""
        batch = list(self._received)
        self._received.clear()
        retained = [msg.topic for msg in batch if msg.retain and not _retained_by_design(msg)]
        if retained and self.ingest.on_retained is not None:
            log.warning("retained message(s) on %s: a retained sweep is asked for", retained[:5])
            self.ingest.on_retained(retained)
        outgoing = self.ingest.dispatch([(msg.topic, bytes(msg.payload)) for msg in batch])
        for message in outgoing:
            self._session.publish(message.topic, message.payload, qos=1)
        for msg in batch:
            self._session.ack(msg)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._receive()
                if self._received:
                    self._handle_received()
            except Exception:
                # A bug in handling must not kill the worker: the messages stay
                # unacknowledged and are redelivered after reconnecting.
                log.exception("ingest worker %s failed handling a message", self.client_id)
                self._received.clear()
                self._session.drop("handling failed")
        self._session.close(timeout=0.5)


def _retained_by_design(message: Message) -> bool:
    try:
        _, suffix = topics.parse_station_topic(message.topic)
    except ValueError:
        return False
    return suffix in RETAINED_UP


RETAINED_UP = frozenset(
    spec.suffix
    for spec in topics.ALL_TOPICS
    if spec.direction is topics.Direction.UP and spec.retain
)


def retire_sessions(login: BrokerLogin, client_ids: list[str], timeout: float = 10.0) -> None:
    """End the broker sessions of workers that will not come back (a host taken out of
    service, fewer workers from now on): log in as each with a clean start and no session
    expiry, then leave. Stop the workers first: a running worker would only log in again.

    Until then the broker keeps each persistent session (7 days) and, through the shared
    subscription, goes on queueing its share of the messages there. Messages dropped with a
    retired session are not lost: the stations send those packets again when their receipts do
    not come (decision 0004), and the remaining workers store them."""
    for client_id in client_ids:
        _end_session(login, client_id, timeout)
        log.info("ingest session %s retired", client_id)


def _end_session(login: BrokerLogin, client_id: str, timeout: float) -> None:
    session = MqttSession(
        login.address,
        SessionOptions(
            client_id=client_id,
            credentials=Credentials(login.username, login.password),
            clean_start=True,
            session_expiry_s=0,
        ),
    )
    try:
        session.connect_wait(timeout)
    except SessionError as exc:
        raise FleetError(
            f"could not end the session of {client_id}: {exc}; check the fleet's broker service "
            "credentials"
        ) from exc
    session.close()
