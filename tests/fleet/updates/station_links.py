"""Simulated stations on a real broker: each a paho client logged in with its own broker
credentials (so the broker's ACL decides what it may read and publish), driving the
transport-free update simulator (simulators/station_updates.py).

Every message the station receives on its ``update`` topic is kept (``received``), the
retained clearing (empty payload) included: a test can say which stations got an offer.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from protocol import topics
from simulators.station_updates import SimulatedStationUpdater


@dataclass
class StationLink:
    sim: SimulatedStationUpdater
    host: str
    port: int
    password: str
    username: str | None = None  # the station id unless provisioning said otherwise
    received: list[bytes] = field(default_factory=list)
    _client: mqtt.Client | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    @property
    def station_id(self) -> str:
        return self.sim.station_id

    def connect(self) -> StationLink:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.username or self.station_id,
            protocol=mqtt.MQTTv5,
        )
        client.username_pw_set(self.username or self.station_id, self.password)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *args: self._ready.set()
        client.on_message = self._on_message
        client.connect(self.host, self.port, keepalive=30)
        client.loop_start()
        self._client = client
        if not self._ready.wait(10):
            raise AssertionError(f"station {self.station_id} did not log in and subscribe")
        return self

    def _on_connect(self, client: mqtt.Client, *args: object) -> None:
        client.subscribe(topics.UPDATE.for_station(self.station_id), qos=1)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        payload = bytes(msg.payload)
        self.received.append(payload)
        for status in self.sim.on_offer(payload):
            client.publish(topics.UPDATE_STATUS.for_station(self.station_id), status, qos=1)

    @property
    def offers(self) -> list[bytes]:
        """Offers received (not the empty clearing messages)."""
        return [p for p in self.received if p]

    def heartbeat(self, at: str | None = None) -> None:
        assert self._client is not None
        info = self._client.publish(
            topics.HEARTBEAT.for_station(self.station_id), self.sim.heartbeat(at), qos=1
        )
        info.wait_for_publish(5)

    def close(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None


def wait_for(condition: object, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)
