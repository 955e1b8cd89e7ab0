"""The fleet's publishing connection (commands, configuration): thread-safe, waits for PUBACK.

It reconnects by itself if the broker restarts (fleet/broker/connection.py); a publish while it
is away waits up to ``timeout`` for it to return.
"""

from __future__ import annotations

import logging

from fleet.broker.connection import BrokerConnection
from fleet.errors import BrokerAdminError
from mqtt_session import SessionError

log = logging.getLogger(__name__)


class FleetPublisher(BrokerConnection):
    client_prefix = "ewp-fleet-pub"

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
