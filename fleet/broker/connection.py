"""The fleet's own connections to the broker (the publisher, the dynamic-security admin): a
threaded :class:`mqtt_session.MqttSession` with a unique client id, a clean start and no
session kept, that reconnects by itself (backoff with jitter) if the broker restarts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from mqtt_session import BrokerAddress, Credentials, MqttSession, SessionOptions, Subscription


class BrokerConnection:
    """``client_prefix`` names the connection in the broker's log (``<prefix>-<8 hex>``)."""

    client_prefix = "ewp-fleet"

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
                client_id=f"{self.client_prefix}-{uuid.uuid4().hex[:8]}",
                credentials=Credentials(username, password),
                clean_start=True,
                session_expiry_s=0,
            ),
            self._prepare(),
        )

    def _prepare(self) -> Sequence[Subscription]:
        """What a kind of connection sets up before its session starts: its subscriptions."""
        return ()

    def close(self) -> None:
        self._session.close()
