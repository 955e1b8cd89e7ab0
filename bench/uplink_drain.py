"""Drain of a 1,000-packet backlog through the local broker to the fleet, receipts included.

Ours: a station's outbox holds 1,000 sealed packets (about 100 KB, a two-finger enrolment);
the uplink sends them in chunks (QoS 1), the fleet service (a separate `ewp fleet serve`
process, 2 ingest workers, SQLite) verifies, reassembles, stores each packet and publishes its
receipt; the clock stops when the outbox has every packet acknowledged.
Baseline, same broker, same run: a raw paho publisher sends the very same chunk payloads at
QoS 1 with the same in-flight window to a raw paho subscriber that only counts them.
Ratio = our packets/s / raw packets/s (both over the broker's loopback plaintext listener).

The cost of TLS, same run: a second station drains its own backlog of the same size the way
stations run, over ``mqtts://`` to the broker's TLS listener, its certificate checked against
the fleet CA pinned at provisioning. Ratio = TLS packets/s / plaintext packets/s (the TLS drain
runs second, on a store that already holds the first backlog: any bias is against TLS).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from bench.report import Figure, report
from bench.station_backlog import builder, drain, fill_outbox, fleet_serving
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.settings import UplinkSettings
from protocol import topics
from protocol.chunks import split_packet

PACKETS = int(os.environ.get("EWP_BENCH_PACKETS", "1000"))
INFLIGHT = 16


def _raw_baseline(
    host: str,
    port: int,
    station_login: tuple[str, str],
    reader_login: tuple[str, str],
    payloads: list[bytes],
) -> float:
    """Seconds for a raw paho publisher to deliver ``payloads`` to a raw subscriber.

    On the station's ``responses`` topic: the station may publish there and the fleet service
    does not listen to it, so the baseline's chunks are not ingested.
    """
    received = threading.Event()
    count = [0]
    topic = topics.RESPONSES.for_station(station_login[0])

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        count[0] += 1
        if count[0] == len(payloads):
            received.set()

    subscribed = threading.Event()
    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw-sub", protocol=mqtt.MQTTv5)
    sub.username_pw_set(*reader_login)
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(host, port)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    subscribed.wait(10)
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=station_login[0], protocol=mqtt.MQTTv5)
    pub.username_pw_set(*station_login)
    pub.max_inflight_messages_set(INFLIGHT)
    pub.connect(host, port)
    pub.loop_start()
    start = time.perf_counter()
    for payload in payloads:
        pub.publish(topic, payload, qos=1)
    if not received.wait(600):
        raise RuntimeError(f"raw baseline received only {count[0]} of {len(payloads)}")
    elapsed = time.perf_counter() - start
    for client in (pub, sub):
        client.disconnect()
        client.loop_stop()
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with fleet_serving(root) as stack:
            identity = stack.provision_station("ct-01", root / "station")
            tls_identity = stack.provision_station("ct-02", root / "station-tls")
            outbox_path = root / "station" / "outbox.sqlite"
            tls_outbox_path = root / "station-tls" / "outbox.sqlite"
            with Outbox(outbox_path, quota_bytes=10**10, min_free_bytes=0) as outbox:
                total_bytes = fill_outbox(outbox, builder(identity), PACKETS)
                payloads = [
                    c.to_bytes()
                    for e in outbox.waiting(limit=PACKETS)
                    for c in split_packet(outbox.load(e.packet_id))
                ]
            with Outbox(tls_outbox_path, quota_bytes=10**10, min_free_bytes=0) as outbox:
                fill_outbox(outbox, builder(tls_identity), PACKETS)
            raw_s = _raw_baseline(
                stack.broker.host,
                stack.broker.port,
                (identity.mqtt.username, identity.mqtt.password),
                (
                    stack.settings.broker.service_username,
                    stack.settings.broker.service_password.read("service password"),
                ),
                payloads,
            )
            ours_s = _drain(identity, outbox_path, f"mqtt://127.0.0.1:{stack.broker.port}")
            tls_s = _drain(tls_identity, tls_outbox_path, None)
    mb = total_bytes / 1e6
    report(
        Figure(
            name=f"uplink drain of a {PACKETS}-packet backlog to the fleet (receipts included)",
            ratio=(PACKETS / ours_s) / (PACKETS / raw_s),
            target="",
            ours=f"{PACKETS / ours_s:.0f} packets/s, {mb / ours_s:.1f} MB/s ({ours_s:.1f} s)",
            baseline=f"raw paho QoS 1 publish -> subscribe of the same chunks: "
            f"{PACKETS / raw_s:.0f} packets/s, {mb / raw_s:.1f} MB/s ({raw_s:.1f} s)",
            extra={"packets": PACKETS, "megabytes": round(mb, 1), "chunks": len(payloads)},
        )
    )
    report(
        Figure(
            name=f"cost of TLS on the uplink drain of a {PACKETS}-packet backlog",
            ratio=(PACKETS / tls_s) / (PACKETS / ours_s),
            target="",
            ours=f"over mqtts:// (certificate checked against the pinned fleet CA): "
            f"{PACKETS / tls_s:.0f} packets/s, {mb / tls_s:.1f} MB/s ({tls_s:.1f} s)",
            baseline=f"the same drain over the loopback plaintext listener: "
            f"{PACKETS / ours_s:.0f} packets/s, {mb / ours_s:.1f} MB/s ({ours_s:.1f} s)",
            extra={"packets": PACKETS, "megabytes": round(mb, 1)},
        )
    )


def _drain(identity: StationIdentity, outbox_path: Path, broker_url: str | None) -> float:
    """Seconds to drain the outbox; ``broker_url`` None: the address and TLS of provisioning."""
    settings = UplinkSettings(
        heartbeat_interval_s=30,
        receipt_timeout_s=300,
        max_inflight=INFLIGHT,
        broker_url=broker_url,
    )
    return drain(identity, outbox_path, settings, PACKETS).seconds


if __name__ == "__main__":
    main()
