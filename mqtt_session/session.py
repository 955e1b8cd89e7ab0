"""One MQTT v5 session to the broker: the only module of the project that imports paho.

A session is built with everything it will ever need: where and how to connect
(:class:`~mqtt_session.options.BrokerAddress`, TLS included), its options (client id, login,
session expiry, backoff, in-flight limit, last will) and its subscriptions, each with the typed
handler that gets that filter's messages. Then it runs one of two ways:

- **driven**: the owner's thread calls :meth:`MqttSession.step` in its own loop (the station's
  uplink, the ingest workers). Handlers and hooks run in that thread, inside ``step``, so the
  owner's state needs no locks.
- **threaded**: :meth:`MqttSession.start` runs ``step`` in a thread of its own and
  :meth:`MqttSession.connect_wait` waits for the first login (the fleet's publisher and its
  dynamic-security admin); :meth:`publish_and_wait` may then be called from any thread.

Either way a lost connection is retried with exponential backoff and full jitter (at once
after a connection that had been healthy, see :class:`~mqtt_session.options.Backoff`), the login
goes with ``clean_start`` and the session expiry of the options, and every subscription is sent
again on each connect, so a broker that lost the session (restart without persistence, expiry)
gets it back. With ``manual_ack`` a QoS 1 message is acknowledged only when the owner calls
:meth:`ack`, so a message whose handling did not finish is delivered again.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqtt_session.errors import SessionError
from mqtt_session.options import BrokerAddress, Credentials, SessionOptions

log = logging.getLogger(__name__)

NOT_AUTHORISED_CODES = frozenset({0x86, 0x87, 0x8C})  # bad login, not authorised, bad auth


@dataclass(frozen=True)
class Message:
    """One message from the broker, as handlers see it."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int


Handler = Callable[[Message], None]


@dataclass(frozen=True)
class Subscription:
    """A topic filter (``$share/group/...`` allowed), its QoS, and who handles its messages.
    ``retain_as_published``: the broker keeps the retain flag a message was published with
    (MQTT v5; otherwise only retained messages sent on subscribe carry it)."""

    topic_filter: str
    qos: int
    handler: Handler
    retain_as_published: bool = False

    @property
    def match_filter(self) -> str:
        """The filter messages are matched against (without a shared-subscription prefix)."""
        if self.topic_filter.startswith("$share/"):
            return self.topic_filter.split("/", 2)[2]
        return self.topic_filter


@dataclass(frozen=True)
class Refusal:
    """The broker's answer to a refused login."""

    code: int
    text: str

    @property
    def not_authorised(self) -> bool:
        return self.code in NOT_AUTHORISED_CODES


@dataclass
class SessionHooks:
    """Optional callbacks, run in the session's loop thread.

    ``credentials`` is asked before every connect (a station rotating its broker password
    alternates between the new and the current one); ``on_published`` gets each acknowledged
    QoS 1 message id and, when the broker refused it, the reason."""

    credentials: Callable[[], Credentials] | None = None
    on_connected: Callable[[bool], None] | None = None  # session_present
    on_ready: Callable[[], None] | None = None  # connected and every subscription acknowledged
    on_refused: Callable[[Refusal], None] | None = None
    on_disconnected: Callable[[str], None] | None = None
    on_published: Callable[[int, str | None], None] | None = None
    on_subscribe_refused: Callable[[list[str]], None] | None = None


@dataclass
class Publication:
    """A message handed to the session: its id, whether it was queued, and its fate."""

    mid: int
    queued: bool
    _info: mqtt.MQTTMessageInfo = field(repr=False)

    def is_published(self) -> bool:
        return self.queued and self._info.is_published()


class MqttSession:
    def __init__(
        self,
        address: BrokerAddress,
        options: SessionOptions,
        subscriptions: Sequence[Subscription] = (),
        hooks: SessionHooks | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.address = address
        self.options = options
        self.subscriptions = tuple(subscriptions)
        self.hooks = hooks or SessionHooks()
        self._clock = clock
        self._uniform = uniform
        self.connected = threading.Event()  # logged in
        self.ready = threading.Event()  # logged in and every subscription acknowledged
        self.last_error: str | None = None
        self.refusal: Refusal | None = None
        self.connects = 0
        self._socket_open = False
        self._closing = False
        self._attempt = 0
        self._connected_at: float | None = None  # when the current login succeeded
        self._next_connect_at = 0.0
        self._subscribe_mid: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        options = self.options
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=options.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=options.manual_ack,
        )
        if self.address.tls is not None:
            client.tls_set_context(self.address.tls.context())
        client.max_inflight_messages_set(options.max_inflight)
        client.max_queued_messages_set(options.max_queued)
        if options.will is not None:
            will = options.will
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        return client

    # -- connecting ----------------------------------------------------------------------------

    @property
    def socket_open(self) -> bool:
        return self._socket_open

    def _connect(self) -> None:
        credentials = (
            self.hooks.credentials() if self.hooks.credentials else self.options.credentials
        )
        if credentials is not None:
            self._client.username_pw_set(credentials.username, credentials.password)
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.options.session_expiry_s
        self.refusal = None
        try:
            self._client.connect(
                self.address.host,
                self.address.port,
                keepalive=self.options.keepalive_s,
                clean_start=self.options.clean_start,
                properties=props,
            )
        except OSError as exc:
            self._retry_later(_describe_connect_error(self.address, exc))
            return
        self._socket_open = True

    def _lost(self, why: str) -> None:
        if self._socket_open:
            self._socket_open = False
            self._retry_later(why)

    def _retry_later(self, why: str) -> None:
        self.connected.clear()
        self.ready.clear()
        self.last_error = why
        connected_at, self._connected_at = self._connected_at, None
        if self._closing:
            return
        backoff = self.options.backoff
        if connected_at is not None and self._clock() - connected_at >= backoff.healthy_s:
            self._attempt = 0  # a healthy connection dropped: try again at once
            delay = backoff.after_healthy(self._uniform)
        else:
            self._attempt += 1
            delay = backoff.delay(self._attempt, self._uniform)
        self._next_connect_at = self._clock() + delay
        log.info(
            "mqtt %s to %s offline (%s); next try in %.1f s",
            self.options.client_id,
            self.address.url,
            why,
            delay,
        )
        if self.hooks.on_disconnected is not None:
            self.hooks.on_disconnected(why)

    def step(self, timeout: float = 0.05) -> bool:
        """Connect when due, then let the network work for up to ``timeout`` seconds (handlers
        and hooks run here). Returns whether the session is logged in afterwards."""
        if not self._socket_open and self._clock() >= self._next_connect_at:
            self._connect()
        if self._socket_open:
            rc = self._client.loop(timeout=timeout)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                self._lost(f"connection lost ({mqtt.error_string(rc)})")
        else:
            wait = min(timeout, max(0.0, self._next_connect_at - self._clock()))
            if wait > 0:
                time.sleep(wait)
        return self.connected.is_set()

    def drop(self, why: str) -> None:
        """Close the connection now (messages not acknowledged are delivered again after
        the reconnect, which follows the backoff)."""
        if self._socket_open:
            self._client.disconnect()
            self._lost(why)

    # -- threaded use --------------------------------------------------------------------------

    def start(self) -> MqttSession:
        """Run the session in a thread of its own (daemon), reconnecting until :meth:`close`."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name=f"mqtt-{self.options.client_id}", daemon=True
            )
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step(0.1)
            except Exception:
                log.exception("mqtt session %s: loop failed", self.options.client_id)
                self.drop("loop failed")

    def connect_wait(self, timeout: float = 10.0) -> MqttSession:
        """Start (threaded) and wait until logged in and subscribed. The first refusal or
        unreachable broker raises :class:`SessionError` at once: at start-up a wrong password
        or address should fail loudly, not retry quietly."""
        self.start()
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.02):
            if self.refusal is not None or (self.last_error and not self._socket_open):
                self.close()
                raise SessionError(self._failure_text())
            if time.monotonic() >= deadline:
                self.close()
                raise SessionError(
                    f"the broker at {self.address.url} did not answer within {timeout:.0f} s"
                    + (f" ({self.last_error})" if self.last_error else "")
                )
        return self

    def _failure_text(self) -> str:
        if self.refusal is not None:
            return (
                f"the broker at {self.address.url} refused the login of "
                f"{self.options.client_id}: {self.refusal.text}"
            )
        return self.last_error or f"cannot reach the broker at {self.address.url}"

    # -- publishing and acknowledging ----------------------------------------------------------

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> Publication:
        """Hand a message over. ``queued`` False: paho did not take it (not connected, or its
        in-flight window is full); QoS 0 messages are then lost, the caller may try later."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return Publication(info.mid, info.rc == mqtt.MQTT_ERR_SUCCESS, info)

    def publish_and_wait(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 1,
        retain: bool = False,
        timeout: float = 10.0,
    ) -> int:
        """Publish (threaded use) and wait for the broker's acknowledgement; returns the
        message id (``SessionHooks.on_published`` has seen it, with any refusal, by then)."""
        deadline = time.monotonic() + timeout
        if not self.connected.wait(timeout):
            raise SessionError(
                f"not connected to the broker at {self.address.url}: a message on {topic} "
                "was not sent" + (f" ({self.last_error})" if self.last_error else "")
            )
        publication = self.publish(topic, payload, qos=qos, retain=retain)
        if publication.queued:
            publication._info.wait_for_publish(max(0.0, deadline - time.monotonic()))
        if not publication.is_published():
            raise SessionError(f"the broker did not acknowledge a message on {topic}")
        return publication.mid

    def flush(self, publication: Publication, timeout: float) -> bool:
        """Driven use: step until ``publication`` is acknowledged or ``timeout`` passed."""
        deadline = self._clock() + timeout
        while not publication.is_published() and self._socket_open and self._clock() < deadline:
            self.step(0.05)
        return publication.is_published()

    def ack(self, message: Message) -> None:
        """Acknowledge a message (``manual_ack`` sessions)."""
        self._client.ack(message.mid, message.qos)

    # -- closing -------------------------------------------------------------------------------

    def close(self, timeout: float = 1.0) -> None:
        """Disconnect cleanly (no last will) and stop the thread, if any."""
        self._closing = True
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if self._socket_open:
            self._client.disconnect()
            deadline = time.monotonic() + timeout
            while self._socket_open and time.monotonic() < deadline:
                if self._client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                    break
        self._socket_open = False
        self.connected.clear()
        self.ready.clear()

    def __enter__(self) -> MqttSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- paho callbacks ------------------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.refusal = Refusal(int(reason_code.value), str(reason_code))
            self.last_error = f"login refused: {reason_code}"
            if self.hooks.on_refused is not None:
                self.hooks.on_refused(self.refusal)
            return
        self._attempt = 0
        self._connected_at = self._clock()
        self.connects += 1
        self.last_error = None
        self.connected.set()
        log.info(
            "mqtt %s connected to %s (session %s)",
            self.options.client_id,
            self.address.url,
            "resumed" if flags.session_present else "new",
        )
        if self.subscriptions:
            _, mid = client.subscribe(
                [
                    (
                        s.topic_filter,
                        SubscribeOptions(qos=s.qos, retainAsPublished=s.retain_as_published),
                    )
                    for s in self.subscriptions
                ]
            )
            self._subscribe_mid = mid
        if self.hooks.on_connected is not None:
            self.hooks.on_connected(bool(flags.session_present))
        if not self.subscriptions:
            self._set_ready()

    def _set_ready(self) -> None:
        self.ready.set()
        if self.hooks.on_ready is not None:
            self.hooks.on_ready()

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if mid != self._subscribe_mid:
            return
        refused = [
            sub.topic_filter
            for sub, code in zip(self.subscriptions, reason_codes, strict=False)
            if code.is_failure
        ]
        if refused:
            log.error("mqtt %s: subscriptions refused: %s", self.options.client_id, refused)
            if self.hooks.on_subscribe_refused is not None:
                self.hooks.on_subscribe_refused(refused)
        self._set_ready()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._lost(f"disconnected: {reason_code}")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        message = Message(msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid)
        for subscription in self.subscriptions:
            if mqtt.topic_matches_sub(subscription.match_filter, message.topic):
                try:
                    subscription.handler(message)
                except Exception:
                    log.exception("handling a message on %s failed", message.topic)
                return
        log.warning("message on %s matches no subscription: ignored", message.topic)
        if self.options.manual_ack:
            self.ack(message)

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self.hooks.on_published is not None:
            self.hooks.on_published(mid, str(reason_code) if reason_code.is_failure else None)


def _describe_connect_error(address: BrokerAddress, exc: OSError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"the broker at {address.url} presented a certificate this station does not trust "
            f"({exc.verify_message}): check the fleet's CA file and the broker's host name"
        )
    if isinstance(exc, ssl.SSLError):
        return f"TLS with the broker at {address.url} failed: {exc.reason or exc}"
    return f"cannot reach the broker at {address.url}: {exc}"
