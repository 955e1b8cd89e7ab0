"""A station's backlog drained over a van's lossy link, against the link's capacity.

Ours: a station's real outbox holds a backlog of sealed packets of about 100 KB (two-finger
enrolments); the station's real uplink, with its shipped settings, drains it over ``mqtts://``
(the fleet CA pinned, as stations run) through ``ewp sim network``'s proxy: 256 kbit/s each
way, 300 ms one way, every open connection reset about every 50 s (seeded jitter), to the
broker and a separate ``ewp fleet serve`` process; the clock stops when the fleet has
acknowledged every packet. Goodput = the sealed packets' bytes / that time.

Baseline, same run, at the same time: the link's capacity. A raw TCP stream through a second
link of the same proxy, same rate and latency but no resets, into a sink that discards it;
capacity = the bytes the proxy delivered on it while the backlog drained / that time.
Ratio = goodput / capacity (target >= 0.9).

    .venv/bin/python -m bench uplink_lossy

EWP_BENCH_LOSSY_PACKETS sets the backlog (default 60, about 3.5 minutes); to try other uplink
settings, EWP_BENCH_LOSSY_CHUNK_SIZE and EWP_BENCH_LOSSY_INFLIGHT (default: the shipped ones).
"""

from __future__ import annotations

import os
import socket
import socketserver
import tempfile
import threading
import time
from pathlib import Path

from bench.report import report_link
from bench.station_backlog import builder, drain, fill_outbox, fleet_serving
from edge.agent.outbox import Outbox
from edge.agent.settings import UplinkSettings
from protocol.chunks import chunk_count
from simulators.network import LinkProfile, NetworkSimulator

PACKETS = int(os.environ.get("EWP_BENCH_LOSSY_PACKETS", "60"))
LINK_BPS = 256_000 / 8  # 256 kbit/s in bytes per second
LATENCY_S = 0.3
RESET_EVERY_S = 50.0
SEED = 1
SHIPPED = UplinkSettings()
CHUNK_SIZE = int(os.environ.get("EWP_BENCH_LOSSY_CHUNK_SIZE", SHIPPED.chunk_size))
INFLIGHT = int(os.environ.get("EWP_BENCH_LOSSY_INFLIGHT", SHIPPED.max_inflight))


class _Discard(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(65536):
            pass


class _RawStream:
    """A sender that keeps a link full: writes until stopped (TCP holds it back)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, daemon=True)
        self.thread.start()

    def _send(self) -> None:
        block = os.urandom(16384)
        try:
            while not self.stop.is_set():
                self.sock.sendall(block)
        except OSError:
            if not self.stop.is_set():
                raise

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(10)


def main() -> None:
    sink = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Discard)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp, fleet_serving(Path(tmp)) as stack:
        root = Path(tmp)
        identity = stack.provision_station("ct-01", root / "station")
        outbox_path = root / "station" / "outbox.sqlite"
        with Outbox(outbox_path, quota_bytes=10**10, min_free_bytes=0) as outbox:
            total_bytes = fill_outbox(outbox, builder(identity), PACKETS)
        profile = LinkProfile(latency_s=LATENCY_S, bandwidth_bps=LINK_BPS)
        with NetworkSimulator() as sim:
            raw_link = sim.add_link(("127.0.0.1", sink.server_address[1]), profile=profile)
            raw = _RawStream(raw_link.listen_port)
            time.sleep(2.0)  # the raw stream reaches its steady rate
            link = sim.add_link(
                ("127.0.0.1", stack.settings.broker.tls_port),
                profile=LinkProfile(
                    latency_s=LATENCY_S, bandwidth_bps=LINK_BPS, reset_every_s=RESET_EVERY_S
                ),
                seed=SEED,
            )
            settings = UplinkSettings(
                broker_url=f"mqtts://{link.address}", chunk_size=CHUNK_SIZE, max_inflight=INFLIGHT
            )
            raw_from, raw_at = raw_link.stats.bytes_up, time.monotonic()
            drained = drain(identity, outbox_path, settings, PACKETS)
            raw_bytes, raw_s = raw_link.stats.bytes_up - raw_from, time.monotonic() - raw_at
            raw.close()
            resets, wire_up = link.stats.periodic_resets, link.stats.bytes_up
    sink.shutdown()
    chunks = PACKETS * chunk_count(total_bytes // PACKETS, settings.chunk_size)
    report_link(
        "backlog drain over 256 kbit/s, 300 ms, a reset every ~50 s, against capacity",
        target=">= 0.9",
        ours=(
            f"{PACKETS} packets acknowledged through {resets} resets",
            total_bytes,
            drained.seconds,
        ),
        capacity=(
            "a raw TCP stream through the same link without resets, same time",
            raw_bytes,
            raw_s,
        ),
        nominal_bps=LINK_BPS,
        extra={
            "station connects": drained.stats.connects,
            "chunks sent (a packet's chunks once each)": f"{drained.stats.chunks_sent} ({chunks})",
            "bytes up the link / packet bytes": f"{wire_up / total_bytes:.3f}",
            "receipt timeouts": drained.stats.receipt_timeouts,
            "chunk size, max in flight": f"{settings.chunk_size}, {settings.max_inflight}",
        },
    )


if __name__ == "__main__":
    main()
