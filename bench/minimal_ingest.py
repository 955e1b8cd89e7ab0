"""The limit for ingest's promise: a subscriber that does only the unavoidable work per packet.

``bench/fleet_ingest.py`` compares the fleet's ingest with it in the same run. For every packet
it does what storing a packet exactly once durably cannot do without, and nothing else: take
the chunks as they come (kept in memory: no chunk rows, no reassembly from a store, no
duplicate or budget checks, no metrics, no audit), verify the header's Ed25519 signature,
check the sealed body's SHA-256, write the envelope file and fsync it, insert and commit one
row (durably, in a table of its own in the same store), publish the ``stored`` receipt, and
acknowledge the chunks. One MQTT connection with the fleet's login, one thread.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric import ed25519
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Column, Engine, MetaData, String, Table

from protocol import topics
from protocol.chunks import PacketChunk, join_chunks
from protocol.envelope import utc_timestamp, verify_header_signature
from protocol.messages import Receipt

TABLE = Table(
    "bench_minimal_packets",
    MetaData(),
    Column("packet_id", String(32), primary_key=True),
    Column("station_id", String(63)),
    Column("sha256", String(64)),
    Column("path", String(500)),
)


class MinimalIngest:
    """See the module docstring. ``keys``: each station's signing key."""

    def __init__(
        self,
        host: str,
        port: int,
        login: tuple[str, str],
        engine: Engine,
        directory: Path,
        keys: dict[str, ed25519.Ed25519PublicKey],
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.keys = keys
        self.stored = 0
        self._held: dict[str, list[tuple[PacketChunk, mqtt.MQTTMessage]]] = {}
        directory.mkdir(parents=True, exist_ok=True)
        TABLE.drop(engine, checkfirst=True)
        TABLE.create(engine)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="bench-minimal",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(*login)
        self.client.max_inflight_messages_set(64)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(host, port)
        self.client.loop_start()
        self.client.subscribe(topics.PACKET_CHUNKS.filter_all_stations(), qos=1)
        if not subscribed.wait(10):
            raise RuntimeError("minimal subscriber: no SUBACK")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        chunk = PacketChunk.from_bytes(bytes(msg.payload))
        held = self._held.setdefault(chunk.packet_id, [])
        held.append((chunk, msg))
        if len(held) < chunk.count:
            return
        del self._held[chunk.packet_id]
        header = chunk.header
        verify_header_signature(
            header, chunk.header_bytes, chunk.signature, self.keys[header.station_id]
        )
        packet = join_chunks([c for c, _ in held])  # checks the SHA-256
        path = self.directory / f"{header.packet_id}.ewp"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, packet.to_bytes())
            os.fsync(fd)
        finally:
            os.close(fd)
        with self.engine.begin() as conn:
            conn.execute(
                TABLE.insert().values(
                    packet_id=header.packet_id,
                    station_id=header.station_id,
                    sha256=packet.sha256,
                    path=str(path),
                )
            )
        receipt = Receipt(
            packet_id=header.packet_id,
            sha256=packet.sha256,
            status="stored",
            received_at=utc_timestamp(),
        )
        client.publish(topics.RECEIPTS.for_station(header.station_id), receipt.to_payload(), qos=1)
        for _, message in held:
            client.ack(message.mid, message.qos)
        self.stored += 1

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        TABLE.drop(self.engine, checkfirst=True)
