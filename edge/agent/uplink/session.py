"""The station's MQTT session: who it logs in as, where, and what it says about itself.

Built on ``mqtt_session`` (driven with ``step()`` from the uplink thread, so every hook runs
there and needs no lock). The broker is reached over TLS (``mqtts://``), its certificate
checked against the fleet CA pinned at provisioning. Reconnects back off exponentially with
full jitter (the session library), so a fleet of stations does not stampede a restarted broker.

- With a new broker password waiting (credential rotation), the station logs in with it first
  and alternates with the current one on refusals; a login with it calls
  ``on_login_with_next_password``.
- On every connect a retained ``status`` message says online; the broker publishes the
  retained ``offline`` last will if the station vanishes, and ``close`` says ``offline`` on
  purpose.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from edge.agent.errors import AgentError
from edge.agent.identity import StationIdentity
from edge.agent.settings import UplinkSettings
from mqtt_session import (
    Backoff,
    BrokerAddress,
    Credentials,
    MqttSession,
    Publication,
    Refusal,
    SessionError,
    SessionHooks,
    SessionOptions,
    Subscription,
    TlsOptions,
    Will,
)
from mqtt_session import Message as MqttMessage
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.messages import StationStatus

log = logging.getLogger(__name__)


@dataclass
class LinkStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    chunks_sent: int = 0
    bytes_sent: int = 0
    receipts: int = 0
    receipt_timeouts: int = 0
    rejected: int = 0
    last_error: str | None = None

    def as_heartbeat_fields(self) -> dict[str, float | int]:
        return {
            "connects": self.connects,
            "disconnects": self.disconnects,
            "chunks_sent": self.chunks_sent,
            "bytes_sent": self.bytes_sent,
            "receipts": self.receipts,
            "receipt_timeouts": self.receipt_timeouts,
            "rejected": self.rejected,
        }


class StationSession:
    """One station's MQTT session: every down topic subscribed, status kept, stats counted."""

    def __init__(
        self,
        settings: UplinkSettings,
        identity: StationIdentity,
        *,
        software_version: str,
        on_message: Callable[[MqttMessage], None],
        on_connected: Callable[[], None],
        on_ready: Callable[[], None],
        on_published: Callable[[int, str | None], None],
        on_login_with_next_password: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity  # replaced by a rotation (key or password)
        self.station_id = identity.station_id
        self.stats = LinkStats()
        self.address = broker_address(settings, identity)
        self._software_version = software_version
        self._on_connected_hook = on_connected
        self._on_login_with_next_password = on_login_with_next_password
        self._using_next_password = False
        self._next_password_refused = False
        self._not_authorised_logged = False
        will = StationStatus(
            station_id=self.station_id, state="offline", reason="last will"
        ).to_payload()
        downs = [spec for spec in topics.ALL_TOPICS if spec.direction is topics.Direction.DOWN]
        self._session = MqttSession(
            self.address,
            SessionOptions(
                client_id=identity.mqtt.client_id,
                session_expiry_s=settings.session_expiry_s,
                clean_start=False,
                keepalive_s=settings.keepalive_s,
                backoff=Backoff(
                    settings.reconnect_min_s,
                    max(settings.reconnect_min_s, settings.reconnect_max_s),
                ),
                max_inflight=settings.max_inflight + 8,
                will=Will(topics.STATUS.for_station(self.station_id), will, qos=1, retain=True),
            ),
            # Sent again on every connect, so a broker that lost our session restores it.
            [
                Subscription(spec.for_station(self.station_id), spec.qos, on_message)
                for spec in downs
            ],
            SessionHooks(
                credentials=self._credentials,
                on_connected=self._on_connect,
                on_ready=on_ready,
                on_refused=self._on_refused,
                on_disconnected=self._on_disconnect,
                on_published=on_published,
            ),
            clock=clock,
        )

    @property
    def connected(self) -> bool:
        return self.stats.connected

    def step(self, timeout: float) -> None:
        self._session.step(timeout)

    def publish(
        self, spec: topics.TopicSpec, payload: bytes, *, qos: int | None = None, key: str = ""
    ) -> Publication:
        """Publish on this station's ``spec`` topic (``key``: the packet id of a packet topic)."""
        topic = (
            topics.packet_topic(self.station_id, key) if key else spec.for_station(self.station_id)
        )
        return self._session.publish(topic, payload, qos=spec.qos if qos is None else qos)

    def _status(self, state: str, reason: str | None = None) -> bytes:
        return StationStatus(
            station_id=self.station_id,
            state=state,
            at=utc_timestamp(),
            software_version=self._software_version,
            reason=reason,
        ).to_payload()

    def _credentials(self) -> Credentials:
        """Asked before every connect: with a new password waiting, log in with it first, and
        alternate with the current one on refusals."""
        mqtt_login = self.identity.mqtt
        self._using_next_password = (
            mqtt_login.next_password is not None and not self._next_password_refused
        )
        password = mqtt_login.password
        if self._using_next_password and mqtt_login.next_password is not None:
            password = mqtt_login.next_password
        return Credentials(mqtt_login.username, password)

    def _on_refused(self, refusal: Refusal) -> None:
        if self.identity.mqtt.next_password is not None:
            # Alternate between the new and the current password until one works.
            self._next_password_refused = self._using_next_password
        if refusal.not_authorised and not self._not_authorised_logged:
            log.error(
                "the broker refused this station's credentials (%s): the station may have "
                "been revoked; contact the fleet admin",
                refusal.text,
            )
            self._not_authorised_logged = True
        self.stats.last_error = f"broker refused the connection: {refusal.text}"

    def _on_connect(self, session_present: bool) -> None:
        self._not_authorised_logged = False
        self._next_password_refused = False
        if self._using_next_password and self._on_login_with_next_password is not None:
            self._on_login_with_next_password()
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.last_error = None
        self._session.publish(
            topics.STATUS.for_station(self.station_id), self._status("online"), qos=1, retain=True
        )
        self._on_connected_hook()

    def _on_disconnect(self, why: str) -> None:
        if self.stats.connected:
            self.stats.disconnects += 1
        self.stats.connected = False
        self.stats.last_error = why

    def close(self) -> None:
        """Publish ``offline`` (so the fleet knows this was on purpose) and disconnect."""
        if self.stats.connected:
            goodbye = self._session.publish(
                topics.STATUS.for_station(self.station_id),
                self._status("offline", "clean shutdown"),
                qos=1,
                retain=True,
            )
            self._session.flush(goodbye, 2.0)
        self._session.close()
        self.stats.connected = False


def broker_address(settings: UplinkSettings, identity: StationIdentity) -> BrokerAddress:
    """Where the uplink connects: the settings' override or what provisioning gave, over TLS
    checked against the settings' CA file or the fleet CA pinned at provisioning."""
    ca_file = settings.ca_file or identity.fleet_ca_file
    try:
        if settings.broker_url is not None:
            url = settings.broker_url
        else:
            scheme = "mqtts" if identity.mqtt.tls else "mqtt"
            url = f"{scheme}://{identity.mqtt.host}:{identity.mqtt.port}"
        tls = TlsOptions(ca_file=ca_file) if url.startswith("mqtts://") else None
        return BrokerAddress.from_url(url, tls)
    except SessionError as exc:
        raise AgentError(f"uplink: {exc}") from exc
