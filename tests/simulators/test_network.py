"""The fault-injecting proxy: forwards, cuts, blackholes, delays."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from simulators.network import LinkProfile, NetworkSimulator, handle_control


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
