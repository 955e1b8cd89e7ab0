"""The fault-injecting proxy: forwards, cuts, blackholes, delays, resets periodically."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from simulators.network import LinkProfile, NetworkSimulator, handle_control
from tests.ewp.cli.sim_processes import simulator


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(4096):
            self.request.sendall(data)


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield ("127.0.0.1", server.server_address[1])
    server.shutdown()


def _roundtrip(port: int, payload: bytes = b"ping", timeout: float = 2.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        return sock.recv(4096)


def test_forwards_then_cuts_then_restores(echo_server: tuple[str, int]) -> None:
    with NetworkSimulator() as sim:
        link = sim.add_link(echo_server)
        assert _roundtrip(link.listen_port) == b"ping"
        sock = socket.create_connection(("127.0.0.1", link.listen_port), timeout=2)
        sock.sendall(b"a")
        assert sock.recv(10) == b"a"
        link.cut()
        with pytest.raises((ConnectionError, OSError)):
            sock.sendall(b"b")
            if not sock.recv(10):
                raise ConnectionResetError("closed")
        sock.close()
        with pytest.raises((ConnectionError, OSError)):
            if not _roundtrip(link.listen_port):
                raise ConnectionResetError("refused")
        assert link.stats.resets >= 1 and link.stats.refused >= 1
        link.restore()
        assert _roundtrip(link.listen_port) == b"ping"


def test_blackhole_passes_nothing_but_keeps_the_connection(echo_server: tuple[str, int]) -> None:
    with NetworkSimulator() as sim:
        link = sim.add_link(echo_server)
        sock = socket.create_connection(("127.0.0.1", link.listen_port), timeout=0.5)
        link.blackhole()
        sock.sendall(b"lost?")
        with pytest.raises(TimeoutError):
            sock.recv(10)
        link.restore()
        sock.settimeout(2)
        assert sock.recv(10) == b"lost?", "held data flows once the link comes back"
        sock.close()


def test_latency_is_added_each_way(echo_server: tuple[str, int]) -> None:
    with NetworkSimulator() as sim:
        link = sim.add_link(echo_server, profile=LinkProfile(latency_s=0.1))
        start = time.monotonic()
        assert _roundtrip(link.listen_port) == b"ping"
        assert time.monotonic() - start >= 0.2


def test_control_commands(echo_server: tuple[str, int]) -> None:
    with NetworkSimulator() as sim:
        sim.add_link(echo_server, name="van-1")
        assert (
            handle_control(sim, '{"cmd": "cut", "link": "van-1"}')["links"]["van-1"]["state"]
            == "cut"
        )
        assert handle_control(sim, '{"cmd": "set", "latency_s": 0.05}')["ok"]
        assert sim.links["van-1"].profile.latency_s == 0.05
        assert not handle_control(sim, '{"cmd": "explode"}')["ok"]
        assert not handle_control(sim, "not json")["ok"]


def _seconds_until_reset(sock: socket.socket) -> float:
    """Block on ``sock`` until the proxy resets it; the seconds waited."""
    start = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except (ConnectionError, OSError):
        pass
    return time.monotonic() - start


def test_periodic_resets_come_round_within_their_jitter(echo_server: tuple[str, int]) -> None:
    profile = LinkProfile(reset_every_s=0.4, reset_jitter=0.25)
    with NetworkSimulator() as sim:
        link = sim.add_link(echo_server, profile=profile, seed=7)
        gaps = []
        sock = socket.create_connection(("127.0.0.1", link.listen_port), timeout=5)
        _seconds_until_reset(sock)  # the first interval started with the link, not the socket
        sock.close()
        for _ in range(4):
            with socket.create_connection(("127.0.0.1", link.listen_port), timeout=5) as sock:
                sock.sendall(b"ping")
                assert sock.recv(4) == b"ping", "the link forwards between resets"
                gaps.append(_seconds_until_reset(sock))
        # Reconnecting at once, each socket lives for (almost) one whole interval, drawn in
        # 0.3..0.5 s; on a loaded machine the reset may come a little late, never early.
        assert all(0.1 <= gap <= 0.9 for gap in gaps), gaps
        assert link.stats.periodic_resets >= 5
        assert link.stats.resets >= link.stats.periodic_resets
        link.set_profile(reset_every_s=0)
        with socket.create_connection(("127.0.0.1", link.listen_port), timeout=2) as sock:
            time.sleep(1.0)
            sock.sendall(b"still")
            assert sock.recv(5) == b"still", "with reset_every_s 0 the connection stays"


def test_reset_intervals_are_seeded_and_stay_within_the_jitter() -> None:
    profile = LinkProfile(reset_every_s=50, reset_jitter=0.1)
    with NetworkSimulator() as sim:
        upstream = ("127.0.0.1", 9)  # never connected to: no client comes
        first = sim.add_link(upstream, profile=profile, name="a", seed=3)
        again = sim.add_link(upstream, profile=profile, name="b", seed=3)
        other = sim.add_link(upstream, profile=profile, name="c", seed=4)
        drawn = [first.next_reset_interval() for _ in range(20)]
        assert all(45 <= d <= 55 for d in drawn)
        assert len(set(drawn)) > 1, "jittered, not a fixed period"
        assert [again.next_reset_interval() for _ in range(20)] != drawn, "links differ"
        assert other.next_reset_interval() != drawn[0]
        other.set_profile(reset_jitter=5.0)  # clamped: never sooner than a tenth of 50 s
        assert all(5 <= other.next_reset_interval() <= 95 for _ in range(200))
    with NetworkSimulator() as sim:
        same = sim.add_link(upstream, profile=profile, name="a", seed=3)
        assert [same.next_reset_interval() for _ in range(20)] == drawn, "repeatable by seed"


def test_sim_network_command_resets_connections_periodically(
    echo_server: tuple[str, int],
) -> None:
    upstream = f"tcp://{echo_server[0]}:{echo_server[1]}"
    args = ("--upstream", upstream, "--reset-every-s", "0.5", "--seed", "1", "--latency-ms", "20")
    with simulator("network", *args) as printed:
        name, url = printed[0].split()
        assert name == "link-1"
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            assert _seconds_until_reset(sock) < 2.0, "reset within the interval and its jitter"
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(b"again")
            assert sock.recv(5) == b"again", "the link takes new connections after a reset"


def test_a_capped_link_holds_a_fast_sender_back() -> None:
    """The link's buffer is bounded: a sender faster than the cap blocks (TCP backpressure)
    instead of the proxy reading everything into memory."""
    sink = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Discard)
    sink.daemon_threads = True
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    try:
        with NetworkSimulator() as sim:
            link = sim.add_link(
                ("127.0.0.1", sink.server_address[1]),
                profile=LinkProfile(bandwidth_bps=32_000, latency_s=0.05),
            )
            sent = 0
            with socket.create_connection(("127.0.0.1", link.listen_port), timeout=2) as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
                block = bytes(65536)
                deadline = time.monotonic() + 20
                with pytest.raises(TimeoutError):
                    while time.monotonic() < deadline:
                        sent += sock.send(block)
                # Kernel buffers and the link's second of buffer; not what a loop could push.
                assert sent < 32 * 1024 * 1024
                time.sleep(1.0)
                assert 8_000 < link.stats.bytes_up < sent, "the link passes about its cap"
    finally:
        sink.shutdown()


class _Discard(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while self.request.recv(65536):
            pass
