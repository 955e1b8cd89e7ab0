"""The MQTT side of ingest: workers of the shared subscription, and retiring their sessions.

A worker takes what the broker has sent it at once (up to ``MAX_BATCH`` messages), hands it to
``Ingest.dispatch`` (fleet/ingest/routes.py) and acknowledges the messages (manual PUBACK) only
after that, so a worker that dies mid-way gets them redelivered.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from fleet.errors import FleetError
from fleet.ingest.routes import Ingest
from protocol import topics

log = logging.getLogger(__name__)

MAX_BATCH = 64  # messages a worker takes at once (Mosquitto sends up to 64 unacknowledged)


@dataclass(frozen=True)
class BrokerLogin:
    host: str
    port: int
    username: str
    password: str
    tls: bool = False


class IngestWorker:
    """One MQTT consumer of the shared ingest subscription."""

    def __init__(self, ingest: Ingest, login: BrokerLogin, *, client_id: str) -> None:
        self.ingest = ingest
        self.login = login
        self.client_id = client_id
        self.connected = threading.Event()  # logged in and subscribed
        self._socket_open = False
        self._attempt = 0
        self._next_connect_at = 0.0
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self._client.username_pw_set(login.username, login.password)
        if login.tls:
            self._client.tls_set()
        self._client.max_inflight_messages_set(64)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._received: list[mqtt.MQTTMessage] = []
        self._client.on_subscribe = self._on_subscribe

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            log.error("broker refused ingest login %s: %s", self.login.username, reason_code)
            self._backoff()
            return
        self._attempt = 0
        subscriptions = [
            (topics.shared(topics.PACKET_CHUNKS.filter_all_stations()), 1),
            (topics.shared(topics.HEARTBEAT.filter_all_stations()), 0),
            (topics.shared(topics.EVENTS.filter_all_stations()), 1),
            (topics.shared(topics.RESPONSES.filter_all_stations()), 1),
            (topics.shared(topics.CONFIG_APPLIED.filter_all_stations()), 1),
            (topics.shared(topics.RECONCILIATION.filter_all_stations()), 1),
            # Retained status is not delivered through shared subscriptions: every worker
            # reads it (updates are idempotent).
            (topics.STATUS.filter_all_stations(), 1),
        ]
        client.subscribe(subscriptions)
        log.info(
            "ingest worker %s connected (session %s)",
            self.client_id,
            "resumed" if flags.session_present else "new",
        )

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            # The broker's ACL for the fleet's login lacks a topic: nothing would arrive there.
            log.error("ingest worker %s: subscriptions refused: %s", self.client_id, refused)
        self.connected.set()
        log.info("ingest worker %s subscribed", self.client_id)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self.connected.clear()
        self._socket_open = False
        self._received = []  # unacknowledged: the broker sends them again
        self._backoff()

    def _backoff(self) -> None:
        self._attempt += 1
        delay = random.uniform(0.5, min(30.0, 0.5 * 2 ** min(self._attempt, 10)))
        self._next_connect_at = time.monotonic() + delay

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self._received.append(msg)  # handled (and acknowledged) by _handle_received

    def _receive(self) -> int:
        """Read what the broker sends: wait up to 0.1 s for a message, then take whatever
        else is already there, up to MAX_BATCH (the broker sends at most its in-flight limit
        before it sees acknowledgements)."""
        rc = self._client.loop(timeout=0.1)
        while rc == mqtt.MQTT_ERR_SUCCESS and 0 < len(self._received) < MAX_BATCH:
            before = len(self._received)
            rc = self._client.loop(timeout=0)
            if len(self._received) == before:
                break
        return int(rc)

    def _handle_received(self, client: mqtt.Client) -> None:
        """Hand the messages received to ``Ingest.dispatch``, publish what it returns, then
        acknowledge them all, in the order they came: a crash before that gets them
        redelivered. ``dispatch`` quarantines what it cannot handle, so nothing comes back."""
        batch, self._received = self._received, []
        outgoing = self.ingest.dispatch([(msg.topic, bytes(msg.payload)) for msg in batch])
        for message in outgoing:
            client.publish(message.topic, message.payload, qos=1)
        for msg in batch:
            client.ack(msg.mid, msg.qos)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self._socket_open and time.monotonic() >= self._next_connect_at:
                props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
                props.SessionExpiryInterval = 7 * 24 * 3600
                try:
                    self._client.connect(
                        self.login.host,
                        self.login.port,
                        keepalive=30,
                        clean_start=False,
                        properties=props,
                    )
                    self._socket_open = True
                except OSError as exc:
                    log.warning(
                        "ingest cannot reach broker %s:%d: %s",
                        self.login.host,
                        self.login.port,
                        exc,
                    )
                    self._backoff()
            if self._socket_open:
                try:
                    rc = self._receive()
                    if self._received:
                        self._handle_received(self._client)
                except Exception:
                    # A bug in handling must not kill the worker: the messages stay
                    # unacknowledged and are redelivered after reconnecting.
                    log.exception("ingest worker %s failed handling a message", self.client_id)
                    self._received = []
                    self._client.disconnect()
                    rc = mqtt.MQTT_ERR_CONN_LOST
                if rc != mqtt.MQTT_ERR_SUCCESS and self._socket_open:
                    self._socket_open = False
                    self.connected.clear()
                    self._backoff()
            else:
                time.sleep(0.1)
        if self._socket_open:
            self._client.disconnect()
            self._client.loop(timeout=0.5)


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
    answered = threading.Event()
    refused: list[str] = []

    def on_connect(
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            refused.append(str(reason_code))
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(login.username, login.password)
    if login.tls:
        client.tls_set()
    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    try:
        client.connect(login.host, login.port, clean_start=True, properties=props)
    except OSError as exc:
        raise FleetError(f"cannot reach the broker at {login.host}:{login.port}: {exc}") from exc
    client.loop_start()
    try:
        if not answered.wait(timeout):
            raise FleetError(
                f"broker {login.host}:{login.port} did not answer the login of {client_id}"
            )
        if refused:
            raise FleetError(
                f"broker {login.host}:{login.port} refused {client_id} ({refused[0]}): "
                "check the fleet's broker service credentials"
            )
    finally:
        client.disconnect()
        client.loop_stop()
