"""The fleet's publishing connection (commands, configuration): thread-safe, waits for PUBACK.

A threaded :class:`mqtt_session.MqttSession`: it reconnects by itself (backoff with jitter)
if the broker restarts; a publish while it is away waits up to ``timeout`` for it to return.
"""

from __future__ import annotations

import logging
import uuid

from fleet.errors import BrokerAdminError
from mqtt_session import BrokerAddress, Credentials, MqttSession, SessionError, SessionOptions

log = logging.getLogger(__name__)


class FleetPublisher:
    def __init__(
        self,
        address: BrokerAddress,
        username: str,
        password: str,
        *,
        timeout: float = 10.0,
    ) -> None:
        self.address, self.timeout = address, timeout
        self._session = MqttSession(
            address,
            SessionOptions(
                client_id=f"ewp-fleet-pub-{uuid.uuid4().hex[:8]}",
                credentials=Credentials(username, password),
                clean_start=True,
                session_expiry_s=0,
            ),
        )

    def connect(self) -> FleetPublisher:
        try:
            self._session.connect_wait(self.timeout)
        except SessionError as exc:
            raise BrokerAdminError(str(exc)) from exc
        return self

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it (PUBACK)."""
        try:
            self._session.publish_and_wait(
                topic, payload, qos=qos, retain=retain, timeout=self.timeout
            )
        except SessionError as exc:
            raise BrokerAdminError(str(exc)) from exc

    def close(self) -> None:
        self._session.close()
