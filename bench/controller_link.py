"""Station controller link: throughput of sensor and event messages, and ping round trip.

Both run the host driver against the simulated board running the real firmware in
MicroPython, its line paced at 115200 baud. Baselines from the same run and the same paced
pty, without the protocol: raw bytes streamed one way (the line rate actually achieved), and
a raw echo of a ping's and a pong's frame sizes (the round trip the line alone costs).

    .venv/bin/python -m bench controller_link
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path

import serial

from bench.report import Figure, report
from edge.drivers.controller import BAUDRATE, Controller
from edge.drivers.controller_messages import ControllerEvent, LinkTestMessage, Readings
from simulators.controller import ControllerBoard
from simulators.serial_endpoints import ByteStream, serve_pty

PAIRS = 1500  # READINGS (15 bytes) + EVENT (12 bytes) each
READINGS_BYTES = 15
EVENT_BYTES = 12
PINGS = 100
PING_FRAME = 5 + 7  # PING message: id len tag token(4)
PONG_FRAME = 5 + 13  # PONG message: id len tag token(4) uptime(6)
ACK_FRAME = 6  # the board acknowledges the PING's frame just before it sends the PONG
RAW_BYTES = 40_000
LINE_RATE = BAUDRATE / 10  # bytes per second, 8N1


def _raw_line_rate() -> float:
    """Bytes per second the paced pty carries with no protocol at all."""

    def session(stream: ByteStream) -> None:
        stream.baudrate = BAUDRATE
        stream.read(1, timeout=5)  # the host is ready
        stream.write(bytes(RAW_BYTES))
        stream.read(1, timeout=30)

    endpoint = serve_pty(session)
    port = serial.serial_for_url(endpoint.url, baudrate=BAUDRATE, timeout=0.5)
    try:
        port.write(b"g")
        got = port.read(1)
        start = time.perf_counter()
        total = len(got)
        while total < RAW_BYTES:
            total += len(port.read(RAW_BYTES - total))
        elapsed = time.perf_counter() - start
        port.write(b"x")
    finally:
        port.close()
        endpoint.stop()
    return (RAW_BYTES - 1) / elapsed


def _raw_echo_rtt() -> float:
    """Median round trip of a ping-sized frame out and a pong-sized frame back, no protocol.

    Paced like the simulator paces its line: each direction's bytes arrive when their last bit
    would have crossed the wire; what remains on top of the wire time is the pty's and the
    threads' cost, which the measured ping pays too.
    """

    def session(stream: ByteStream) -> None:
        while True:
            got = stream.read_exact(PING_FRAME, timeout=30)
            if len(got) < PING_FRAME:
                return
            time.sleep((PING_FRAME + PONG_FRAME) * 10 / BAUDRATE)
            stream.write(bytes(PONG_FRAME))

    endpoint = serve_pty(session)
    port = serial.serial_for_url(endpoint.url, baudrate=BAUDRATE, timeout=2)
    samples = []
    try:
        for _ in range(PINGS):
            start = time.perf_counter()
            port.write(bytes(PING_FRAME))
            got = b""
            while len(got) < PONG_FRAME:
                got += port.read(PONG_FRAME - len(got))
            samples.append(time.perf_counter() - start)
    finally:
        port.close()
        endpoint.stop()
    return statistics.median(samples)


def _through_the_link() -> tuple[float, list[float], dict[str, float | int | str]]:
    arrivals: list[float] = []
    done = threading.Event()
    counts = {"readings": 0, "events": 0}

    def on_event(event: ControllerEvent) -> None:
        if isinstance(event, LinkTestMessage):
            counts["events"] += 1
        elif isinstance(event, Readings):
            counts["readings"] += 1
        else:
            return
        arrivals.append(time.perf_counter())
        if counts["events"] >= PAIRS:
            done.set()

    with tempfile.TemporaryDirectory(prefix="ewp-bench-") as tmp:
        board = ControllerBoard(Path(tmp) / "flash", baudrate=BAUDRATE, seed=1)
        board.start()
        endpoint = board.serve(pty=True)
        port = serial.serial_for_url(endpoint.url, baudrate=BAUDRATE)
        try:
            with Controller(port, on_event=on_event) as controller:
                controller.wait_ready(timeout=15)
                controller.configure(reading_interval_s=3600)
                controller.identify()
                rtts = [controller.ping() for _ in range(PINGS)]
                arrivals.clear()
                counts.update(readings=0, events=0)
                controller.start_link_test(PAIRS)
                if not done.wait(timeout=60):
                    raise RuntimeError(f"link test incomplete: {counts}")
                stats = controller.link_stats
        finally:
            port.close()
            board.stop()
            endpoint.stop()
    messages = counts["readings"] + counts["events"]
    nbytes = counts["readings"] * READINGS_BYTES + counts["events"] * EVENT_BYTES
    # From the first message to the last: the first one's bytes are not timed.
    elapsed = arrivals[-1] - arrivals[0]
    rate = (nbytes - READINGS_BYTES) / elapsed
    extra: dict[str, float | int | str] = {
        "messages": messages,
        "message bytes/s": round(rate),
        "ratio to nominal 11520 B/s": round(rate / LINE_RATE, 3),
        "frames sent by host (acks not counted)": stats.frames_sent,
        "frames received": stats.frames_received,
        "crc errors": stats.crc_errors,
        "naks sent": stats.naks_sent,
    }
    return rate, rtts, extra


def main() -> None:
    raw = _raw_line_rate()
    rate, rtts, extra = _through_the_link()
    report(
        Figure(
            name="controller link throughput, sensor + event messages at 115200 baud",
            ratio=rate / raw,
            target=">= 0.8",
            ours=f"{rate:.0f} message bytes/s ({PAIRS} readings + {PAIRS} events)",
            baseline=f"{raw:.0f} raw bytes/s through the same paced pty (nominal {LINE_RATE:.0f})",
            extra=extra,
        )
    )
    echo = _raw_echo_rtt()
    median = statistics.median(rtts)
    p95 = sorted(rtts)[int(0.95 * len(rtts)) - 1]
    report(
        Figure(
            name="controller ping round trip (driver -> firmware -> driver)",
            ratio=median / echo,
            target="",
            ours=f"median {median * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms over {PINGS} pings",
            baseline=f"median {echo * 1000:.2f} ms raw echo of the same frame sizes",
            extra={
                "wire time of ping + ack + pong frames": (
                    f"{(PING_FRAME + ACK_FRAME + PONG_FRAME) * 10e3 / BAUDRATE:.2f} ms"
                ),
            },
        )
    )
