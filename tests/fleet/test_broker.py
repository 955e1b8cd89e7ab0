"""The broker as ewp configures it: no anonymous access, per-station ACLs, instant revocation."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from fleet.broker.dynsec import DynsecAdmin
from fleet.errors import BrokerAdminError
from protocol import topics
from protocol.chunks import MAX_CHUNK_MESSAGE_SIZE
from tests.conftest import Broker


class Peer:
    """A bare MQTT v5 client that records what happens to it."""

    def __init__(
        self, broker: Broker, username: str | None, password: str | None, client_id: str
    ) -> None:
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc: object = None
        self.acks: dict[int, object] = {}
        self.messages: list[tuple[str, bytes]] = []
        self.subacks: dict[int, list[object]] = {}
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *a: self.disconnected.set()
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subacks.__setitem__(mid, rcs)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()

    def _on_connect(
        self, client: object, userdata: object, flags: object, rc: object, props: object
    ) -> None:
        self.connect_rc = rc
        self.connected.set()

    def publish_and_wait(self, topic: str, payload: bytes) -> object:
        info = self.client.publish(topic, payload, qos=1)
        _wait(lambda: info.mid in self.acks)
        return self.acks[info.mid]

    def subscribe_and_wait(self, topic: str) -> object:
        _, mid = self.client.subscribe(topic, qos=1)
        _wait(lambda: mid in self.subacks)
        return self.subacks[mid][0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def _admin(broker: Broker) -> DynsecAdmin:
    a = broker.accounts
    return DynsecAdmin(broker.address, a.admin_username, a.admin_password).connect()


def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    anon = Peer(broker, None, None, "anon")
    assert anon.connected.wait(5)
    assert anon.connect_rc.is_failure  # type: ignore[attr-defined]
    anon.close()
    wrong = Peer(broker, "ewp-fleet", "not-the-password", "fleet-x")
    assert wrong.connected.wait(5)
    assert wrong.connect_rc.is_failure  # type: ignore[attr-defined]
    wrong.close()


def test_station_publishes_only_under_its_own_prefix(broker: Broker) -> None:
    with _admin(broker) as admin:
        admin.create_station("mu-01", "pw-mu-01-long-enough")
        admin.create_station("mu-02", "pw-mu-02-long-enough")
    fleet = Peer(broker, "ewp-fleet", broker.accounts.service_password, "fleet")
    assert fleet.connected.wait(5)
    granted = fleet.subscribe_and_wait(topics.shared(topics.PACKET_CHUNKS.filter_all_stations()))
    assert not granted.is_failure  # type: ignore[attr-defined]
    station = Peer(broker, "mu-01", "pw-mu-01-long-enough", "mu-01")
    assert station.connected.wait(5)
    own = station.publish_and_wait(topics.packet_topic("mu-01", "ab" * 16), b"mine")
    other = station.publish_and_wait(topics.packet_topic("mu-02", "ab" * 16), b"forged")
    receipt = station.publish_and_wait(topics.RECEIPTS.for_station("mu-01"), b"forged receipt")
    assert not own.is_failure  # type: ignore[attr-defined]
    assert other.is_failure, "publishing under another station's prefix must be refused"  # type: ignore[attr-defined]
    assert receipt.is_failure, "a station cannot write its own receipts"  # type: ignore[attr-defined]
    assert station.subscribe_and_wait(topics.COMMANDS.for_station("mu-02")).is_failure  # type: ignore[attr-defined]
    assert not station.subscribe_and_wait(topics.COMMANDS.for_station("mu-01")).is_failure  # type: ignore[attr-defined]
    _wait(lambda: len(fleet.messages) >= 1)
    time.sleep(0.2)
    assert [payload for _, payload in fleet.messages] == [b"mine"]
    station.close()
    fleet.close()


def test_wrong_client_id_is_refused(broker: Broker) -> None:
    with _admin(broker) as admin:
        admin.create_station("ct-01", "pw-ct-01-long-enough")
    impostor = Peer(broker, "ct-01", "pw-ct-01-long-enough", "something-else")
    assert impostor.connected.wait(5)
    assert impostor.connect_rc.is_failure  # type: ignore[attr-defined]
    impostor.close()


def test_revocation_disconnects_at_once(broker: Broker) -> None:
    with _admin(broker) as admin:
        admin.create_station("mu-03", "pw-mu-03-long-enough")
        station = Peer(broker, "mu-03", "pw-mu-03-long-enough", "mu-03")
        assert station.connected.wait(5)
        assert not station.connect_rc.is_failure  # type: ignore[attr-defined]
        admin.disable_station("mu-03")
        assert station.disconnected.wait(5), "a revoked station must be kicked off at once"
        station.close()
        again = Peer(broker, "mu-03", "pw-mu-03-long-enough", "mu-03")
        assert again.connected.wait(5)
        assert again.connect_rc.is_failure  # type: ignore[attr-defined]
        again.close()


def test_admin_errors_are_clear(broker: Broker) -> None:
    with _admin(broker) as admin, pytest.raises(BrokerAdminError, match="disableClient"):
        admin.disable_station("never-created")
    with pytest.raises(BrokerAdminError, match="refused the dynamic-security admin login"):
        DynsecAdmin(broker.address, "ewp-broker-admin", "wrong", timeout=2).connect()


def test_a_message_larger_than_the_largest_chunk_never_reaches_the_fleet(broker: Broker) -> None:
    """message_size_limit is the largest legitimate message (a chunk of the largest size with
    the longest header): one byte more is dropped by the broker, however the station insists."""
    with _admin(broker) as admin:
        admin.create_station("mu-09", "pw-mu-09-long-enough")
    fleet = Peer(broker, "ewp-fleet", broker.accounts.service_password, "fleet")
    assert fleet.connected.wait(5)
    fleet.subscribe_and_wait(topics.shared(topics.PACKET_CHUNKS.filter_all_stations()))
    station = Peer(broker, "mu-09", "pw-mu-09-long-enough", "mu-09")
    assert station.connected.wait(5)
    largest = b"\x01" * MAX_CHUNK_MESSAGE_SIZE
    topic = topics.packet_topic("mu-09", "cd" * 16)
    assert not station.publish_and_wait(topic, largest).is_failure  # type: ignore[attr-defined]
    _wait(lambda: len(fleet.messages) == 1)
    station.client.publish(topic, largest + b"\x01", qos=1)
    station.client.publish(topic, b"\x02" * (20 * 1024 * 1024), qos=1)  # the 20 MiB of issue 9
    station.client.publish(topic, b"after", qos=1)
    _wait(lambda: len(fleet.messages) >= 2 or station.disconnected.is_set())
    time.sleep(0.5)
    assert [len(payload) for _, payload in fleet.messages] in (
        [MAX_CHUNK_MESSAGE_SIZE],  # the broker dropped the station on the oversized packet
        [MAX_CHUNK_MESSAGE_SIZE, len(b"after")],  # or refused just the oversized messages
    )
    station.close()
    fleet.close()


def test_broker_config_bounds_every_client(broker: Broker) -> None:
    conf = (broker.directory / "mosquitto.conf").read_text().splitlines()
    settings = dict(line.split(" ", 1) for line in conf if line and not line.startswith("#"))
    assert int(settings["message_size_limit"]) == MAX_CHUNK_MESSAGE_SIZE
    assert int(settings["max_inflight_messages"]) > 0
    assert int(settings["max_queued_messages"]) > 0
    assert int(settings["max_queued_bytes"]) > 0
