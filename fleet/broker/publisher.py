"""The fleet's publishing connection (commands, configuration): thread-safe, waits for PUBACK."""

from __future__ import annotations

import logging
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from fleet.errors import BrokerAdminError

log = logging.getLogger(__name__)


class FleetPublisher:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        password: str,
        *,
        tls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._connected = threading.Event()
        self._refused: str | None = None
        self._lock = threading.Lock()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"ewp-fleet-pub-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.username_pw_set(username, password)
        if tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = lambda *args: self._connected.clear()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if reason_code.is_failure:
            self._refused = f"the broker refused the fleet service login: {reason_code}"
        else:
            self._connected.set()

    def connect(self) -> FleetPublisher:
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise BrokerAdminError(
                f"cannot reach the broker at {self.host}:{self.port}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(self.timeout):
            self.close()
            raise BrokerAdminError(self._refused or "the broker did not accept the connection")
        return self

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish and wait until the broker has it (PUBACK)."""
        with self._lock:
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
        info.wait_for_publish(self.timeout)
        if not info.is_published():
            raise BrokerAdminError(f"the broker did not acknowledge a message on {topic}")

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
