"""Sustained fleet ingest of 100 KB packets and of heartbeats, on SQLite and on PostgreSQL.

Setup per backend: Mosquitto (auth and per-station ACLs on), the fleet store (SQLite file, or
a PostgreSQL 15 cluster with its default durability: fsync on, synchronous_commit on), and
``STATIONS`` simulated stations, each a paho client logged in with its own credentials from a
real claim. The stations publish what the agent publishes: every packet as its chunks (a
sealed, signed 100 KB packet: two chunks of at most 64 KiB) at QoS 1 with 16 in flight and,
as the uplink does, at most 64 packets waiting for their receipt; heartbeats at QoS 0; as fast
as they can.

Baseline, same broker, same run, before any ingest worker exists: a raw paho subscriber
(the fleet's login, the fleet's topic filters, manual acknowledgement like the workers) counts
the very same messages from the very same publishers. Its receive rate is what the broker and
the publishers can deliver on this machine.

Ours: the same messages to ``ewp fleet ingest`` processes sharing ``$share/ingest/...``, once
every worker's subscriptions are acknowledged — on SQLite one process with 2 workers (the
single-site setup), on PostgreSQL 2 processes of one worker each (``EWP_BENCH_SQLITE_INGEST``,
``EWP_BENCH_PG_INGEST``: "PROCESSESxWORKERS"). A packet counts when its station got the
``stored`` receipt (published only after the packet file is fsync'd and its row committed
durably); a heartbeat counts when its health sample is in the database. QoS 0 heartbeats the
broker dropped because a subscriber fell behind are reported, not waited for.

The limit for the same promise, same run, after the raw subscriber: a minimal subscriber that
does only the unavoidable work per packet (bench/minimal_ingest.py: verify the signature, hash,
fsync the file, commit the row, publish the receipt), on the same store.

Ratios = our rate / the minimal subscriber's (target for packets: at least 0.7), and our rate /
the raw subscriber's (it stores nothing; target for packets: at least 0.5). Scale with
``EWP_BENCH_STATIONS`` (8), ``EWP_BENCH_PACKETS`` (600 in all), ``EWP_BENCH_HEARTBEATS``
(6000 in all); ``EWP_BENCH_BACKENDS`` (sqlite,postgresql); ``EWP_BENCH_KEEP`` keeps the run's
directory (logs of the ingest processes in ``logs/``).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from bench.fleet_store import backend_store
from bench.minimal_ingest import MinimalIngest
from bench.report import Figure, report
from edge.agent.identity import StationIdentity
from edge.agent.uplink.packets import MAX_AWAITING_RECEIPT
from ewp.local_fleet import FleetStack, start_fleet_stack
from fleet.store.db import make_engine, session_factory
from fleet.store.ops_models import HealthSample
from protocol import topics
from protocol.chunks import split_packet
from protocol.envelope import seal_packet, utc_timestamp
from protocol.messages import Heartbeat

STATIONS = int(os.environ.get("EWP_BENCH_STATIONS", "8"))
PACKETS = int(os.environ.get("EWP_BENCH_PACKETS", "600"))  # in all, spread over the stations
HEARTBEATS = int(os.environ.get("EWP_BENCH_HEARTBEATS", "6000"))
# `ewp fleet ingest` processes x workers per process, for each store.
LAYOUT = {
    "sqlite": os.environ.get("EWP_BENCH_SQLITE_INGEST", "1x2"),
    "postgresql": os.environ.get("EWP_BENCH_PG_INGEST", "2x1"),
}
BACKENDS = os.environ.get("EWP_BENCH_BACKENDS", "sqlite,postgresql").split(",")
PACKET_BYTES = 100 * 1024
INFLIGHT = 16
STALL_S = 30.0  # nothing more arrived for this long: the rest is not coming


@dataclass
class Station:
    identity: StationIdentity
    chunks: list[tuple[str, bytes]]  # (topic, payload) in sending order
    heartbeats: list[bytes]


def build_stations(identities: list[StationIdentity]) -> list[Station]:
    rng = random.Random(5)
    stations = []
    per_station = PACKETS // len(identities)
    for identity in identities:
        chunks = []
        for seq in range(1, per_station + 1):
            sealed = seal_packet(
                rng.randbytes(PACKET_BYTES),
                station_id=identity.station_id,
                packet_id=f"{rng.getrandbits(128):032x}",
                seq=seq,
                recipient=identity.central_key,
                signer=identity.signing_key,
            )
            topic = topics.packet_topic(identity.station_id, sealed.packet_id)
            chunks += [(topic, c.to_bytes()) for c in split_packet(sealed)]
        beats = [
            heartbeat(identity.station_id, seq).to_payload()
            for seq in range(1, HEARTBEATS // len(identities) + 1)
        ]
        stations.append(Station(identity, chunks, beats))
    return stations


def heartbeat(station_id: str, seq: int) -> Heartbeat:
    return Heartbeat.model_validate(
        {
            "station_id": station_id,
            "at": utc_timestamp(),
            "seq": seq,
            "uptime_s": 10.0 * seq,
            "software_version": "bench",
            "queue": {
                "pending": 1,
                "sending": 0,
                "acked": seq,
                "pending_bytes": 100_000,
                "oldest_pending_age_s": 12.0,
                "created_total": seq + 1,
                "last_seq": seq + 1,
            },
            "disk": {"free_bytes": 20_000_000_000, "total_bytes": 32_000_000_000},
            "sensors": [
                {"kind": "fingerprint", "state": "ok"},
                {"kind": "iris", "state": "ok"},
            ],
            "cpu_temperature_c": 55.5,
            "interval_s": 30.0,
        }
    )


# -- the stations' side ------------------------------------------------------------------------


class Publisher:
    """One station's MQTT connection: publishes at QoS 1 with a window, counts receipts."""

    def __init__(self, host: str, port: int, station: Station) -> None:
        self.station = station
        self.stored = 0
        identity = station.identity
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=identity.mqtt.username, protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(identity.mqtt.username, identity.mqtt.password)
        self.client.max_inflight_messages_set(INFLIGHT)
        self.client.max_queued_messages_set(0)
        self.client.on_message = self._on_receipt
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.connect(host, port, keepalive=60)
        self.client.loop_start()
        if not connected.wait(10):
            raise RuntimeError(f"station {identity.station_id} could not log in")
        self.client.subscribe(topics.RECEIPTS.for_station(identity.station_id), qos=1)

    def _on_receipt(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if b'"stored"' in msg.payload:
            self.stored += 1

    @property
    def expected(self) -> int:
        return len({topic for topic, _ in self.station.chunks})

    def send_packets(self) -> None:
        """Every chunk at once (the raw subscriber sends no receipts to wait for)."""
        self.stored = 0
        for topic, payload in self.station.chunks:
            self.client.publish(topic, payload, qos=1)

    def send_packets_as_a_station(self) -> None:
        """As the agent's uplink does: a packet's first chunk only while fewer than
        ``MAX_AWAITING_RECEIPT`` packets wait for their receipt (the fleet holds at most as many
        unfinished packets per station, fleet/ingest/budgets.py)."""
        self.stored = 0
        started: set[str] = set()
        for topic, payload in self.station.chunks:
            if topic not in started:
                while len(started) - self.stored >= MAX_AWAITING_RECEIPT:
                    time.sleep(0.001)
                started.add(topic)
            self.client.publish(topic, payload, qos=1)

    def send_heartbeats(self) -> None:
        topic = topics.HEARTBEAT.for_station(self.station.identity.station_id)
        for payload in self.station.heartbeats:
            self.client.publish(topic, payload, qos=0)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def in_parallel(jobs: list[Callable[[], None]]) -> None:
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# -- the baseline: a raw subscriber ------------------------------------------------------------


class RawSubscriber:
    """The fleet's login and topic filters, counting messages and acknowledging each."""

    def __init__(self, stack: FleetStack, topic_filter: str, qos: int) -> None:
        self.count = 0
        self.goal = 0
        self.done = threading.Event()
        b = stack.settings.broker
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id="bench-raw",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(b.service_username, b.service_password.read("service"))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(stack.broker.host, stack.broker.port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, qos=qos)
        if not subscribed.wait(10):
            raise RuntimeError("raw subscriber: no SUBACK")

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.count += 1
        client.ack(msg.mid, msg.qos)
        if self.count >= self.goal:
            self.done.set()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Arrival:
    """How many of ``goal`` messages arrived, and how long until the last of them did."""

    count: int
    goal: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.count / self.elapsed

    @property
    def lost(self) -> int:
        return self.goal - self.count


def wait_for(count: Callable[[], int], goal: int, start: float, what: str) -> Arrival:
    """Until ``count()`` reaches ``goal``, or nothing more arrived for STALL_S (QoS 0 messages
    a slow subscriber cannot take are dropped by the broker: they are reported, not waited
    for); the time is that of the last arrival."""
    last, last_at = count(), time.perf_counter()
    while last < goal:
        time.sleep(0.02)
        now, seen = time.perf_counter(), count()
        if seen != last:
            last, last_at = seen, now
        elif now - last_at > STALL_S:
            break
    if last == 0:
        raise RuntimeError(f"no {what} arrived at all")
    return Arrival(last, goal, last_at - start)


def raw_arrival(stack: FleetStack, publishers: list[Publisher], kind: str) -> Arrival:
    """What the raw subscriber receives of the stations' messages."""
    if kind == "packets":
        sub = RawSubscriber(stack, topics.PACKET_CHUNKS.filter_all_stations(), 1)
        goal = sum(len(p.station.chunks) for p in publishers)
        jobs = [p.send_packets for p in publishers]
    else:
        sub = RawSubscriber(stack, topics.HEARTBEAT.filter_all_stations(), 0)
        goal = sum(len(p.station.heartbeats) for p in publishers)
        jobs = [p.send_heartbeats for p in publishers]
    start = time.perf_counter()
    in_parallel(jobs)
    arrival = wait_for(lambda: sub.count, goal, start, f"{kind} at the raw subscriber")
    sub.close()
    return arrival


# -- ours: ingest processes ---------------------------------------------------------------------


@contextmanager
def ingest_processes(stack: FleetStack, processes: int, workers: int) -> Iterator[None]:
    """`ewp fleet ingest` processes, each until all its workers' subscriptions are in place
    (anything published before then would go to no ingest worker)."""
    running = [stack.ingest_process(f"bench-{n}", workers) for n in range(processes)]
    try:
        for process in running:
            process.start()
        for process in running:
            process.wait_subscribed()
        yield
    finally:
        for process in running:
            process.stop()


def packets_arrival(publishers: list[Publisher]) -> Arrival:
    """Packets until every station has every `stored` receipt."""
    goal = sum(p.expected for p in publishers)
    start = time.perf_counter()
    in_parallel([p.send_packets_as_a_station for p in publishers])
    arrival = wait_for(lambda: sum(p.stored for p in publishers), goal, start, "receipts")
    if arrival.lost:
        raise RuntimeError(f"only {arrival.count} of {goal} packets receipted: see the logs")
    return arrival


def heartbeats_arrival(stack: FleetStack, publishers: list[Publisher]) -> Arrival:
    """Heartbeats until every one is a health sample in the store."""
    engine = make_engine(stack.settings.database_url)
    sessions = session_factory(engine)

    def stored() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(HealthSample)) or 0

    before = stored()
    goal = sum(len(p.station.heartbeats) for p in publishers)
    start = time.perf_counter()
    in_parallel([p.send_heartbeats for p in publishers])
    arrival = wait_for(lambda: stored() - before, goal, start, "heartbeats in the store")
    engine.dispose()
    return arrival


def minimal_arrival(
    stack: FleetStack, publishers: list[Publisher], identities: list[StationIdentity], root: Path
) -> Arrival:
    """Packets through the minimal subscriber (bench/minimal_ingest.py), until every station
    has every `stored` receipt."""
    engine = make_engine(stack.settings.database_url)
    b = stack.settings.broker
    sub = MinimalIngest(
        stack.broker.host,
        stack.broker.port,
        (b.service_username, b.service_password.read("service")),
        engine,
        root / "minimal",
        {i.station_id: i.signing_key.public_key() for i in identities},
    )
    try:
        return packets_arrival(publishers)
    finally:
        sub.close()
        engine.dispose()


# -- the run ------------------------------------------------------------------------------------


def run(backend: str) -> None:
    with backend_store(backend) as (root, database_url):
        stack = start_fleet_stack(root, workers=1, database_url=database_url)
        publishers: list[Publisher] = []
        try:
            identities = [
                stack.provision_station(f"ct-{n:02d}", root / f"station-{n}")
                for n in range(STATIONS)
            ]
            stack.stop_service(retire_ingest=True)  # only the broker (and the store) stay up
            stations = build_stations(identities)
            publishers = [Publisher(stack.broker.host, stack.broker.port, s) for s in stations]
            packets = sum(p.expected for p in publishers)
            chunks_per_packet = sum(len(s.chunks) for s in stations) / packets
            raw_chunks = raw_arrival(stack, publishers, "packets")
            raw_beats = raw_arrival(stack, publishers, "heartbeats")
            minimal = minimal_arrival(stack, publishers, identities, root)
            processes, workers = (int(n) for n in LAYOUT[backend].split("x"))
            with ingest_processes(stack, processes, workers):
                ours_packets = packets_arrival(publishers)
                ours_beats = heartbeats_arrival(stack, publishers)
        finally:
            for p in publishers:
                p.close()
            stack.stop()
    if raw_chunks.lost:
        raise RuntimeError(f"the raw subscriber lost {raw_chunks.lost} QoS 1 chunks")
    raw_packets = raw_chunks.rate / chunks_per_packet
    store = "SQLite" if backend == "sqlite" else "PostgreSQL (fsync on)"
    setup = f"{store}, {processes} `ewp fleet ingest` process(es) x {workers} worker(s)"
    common: dict[str, float | int | str] = {
        "stations": STATIONS,
        "setup": setup,
        "cpus": os.cpu_count() or 0,
    }
    report(
        Figure(
            name=f"fleet ingest of 100 KB packets against the minimal subscriber ({backend})",
            ratio=ours_packets.rate / minimal.rate,
            target=">= 0.7",
            ours=f"{ours_packets.rate:.1f} packets/s stored and receipted",
            baseline=f"minimal subscriber (verify, hash, fsync'd file, committed row, receipt; "
            f"one thread): {minimal.rate:.1f} packets/s",
            extra=common | {"packets": packets},
        )
    )
    report(
        Figure(
            name=f"fleet ingest of 100 KB packets against a subscriber storing nothing ({backend})",
            ratio=ours_packets.rate / raw_packets,
            target=">= 0.5",
            ours=f"{ours_packets.rate:.1f} packets/s stored and receipted "
            f"({ours_packets.rate * PACKET_BYTES / 1e6:.1f} MB/s)",
            baseline=f"raw paho subscriber: {raw_packets:.1f} packets/s received",
            extra=common | {"packets": packets, "chunks per packet": round(chunks_per_packet, 2)},
        )
    )
    report(
        Figure(
            name=f"fleet ingest of heartbeats ({backend})",
            ratio=ours_beats.rate / raw_beats.rate,
            target="",
            ours=f"{ours_beats.rate:.0f} heartbeats/s stored "
            "(sample, liveness, latest health, station row)",
            baseline=f"raw paho subscriber: {raw_beats.rate:.0f} heartbeats/s received",
            extra=common
            | {
                "heartbeats sent (QoS 0)": ours_beats.goal,
                "dropped before ingest (broker queue full)": ours_beats.lost,
                "dropped before the raw subscriber": raw_beats.lost,
                "stations at one heartbeat per 30 s": int(ours_beats.rate * 30),
            },
        )
    )


def main() -> None:
    for backend in BACKENDS:
        run(backend)


if __name__ == "__main__":
    main()
