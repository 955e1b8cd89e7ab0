"""Request bodies are bounded before they are read: a 150 MiB body, declared or streamed, is
answered 413 while the fleet's memory stays flat (a real uvicorn on a socket)."""

from __future__ import annotations

import re
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fleet.roles import Role
from tests.fleet.api.conftest import RoleFleet

MiB = 1 << 20
JSON = {"content-type": "application/json"}
HUGE = 150 * MiB
ANONYMOUS_ROUTES = [
    "/status",
    "/ui/login",
    "/api/v1/auth/login",
    "/api/v1/provisioning/claim",
    "/api/v1/public/application-status",
    "/api/v1/stations",  # protected, but an anonymous body is still read before the 401
]


def _rss() -> int:
    text = Path("/proc/self/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) * 1024


class PeakMemory:
    """The largest resident size of this process (the fleet's uvicorn runs in it) while
    sampled every few milliseconds, above what it was at the start."""

    def __init__(self) -> None:
        self.start = _rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _send(url: str, head: bytes, chunks: Iterator[bytes]) -> tuple[int, int]:
    """Send the head, then the chunks until the server answers or stops reading; return the
    answer's status and how many body bytes the socket took."""
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head)
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    assert answer.startswith(b"HTTP/1.1 "), f"no answer: {answer[:80]!r}"
    return int(answer.split(b" ", 2)[1]), sent


def _chunks(total: int, *, chunked: bool) -> Iterator[bytes]:
    block = b"a=" + b"x" * (MiB - 2)
    framed = f"{len(block):x}\r\n".encode() + block + b"\r\n" if chunked else block
    for _ in range(total // MiB):
        yield framed
    if chunked:
        yield b"0\r\n\r\n"


def _head(path: str, *, length: int | None, extra: str = "") -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: fleet\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\n{framing}\r\n{extra}\r\n"
    ).encode()


@pytest.mark.parametrize("path", ANONYMOUS_ROUTES)
def test_a_declared_150_mib_body_is_refused_before_it_is_read(
    role_fleet: RoleFleet, path: str
) -> None:
    with PeakMemory() as memory:
        status, sent = _send(role_fleet.url, _head(path, length=HUGE), _chunks(HUGE, chunked=False))
    assert status == 413
    assert sent < 16 * MiB, f"the server took {sent} bytes of a body it had refused"
    assert memory.growth < 32 * MiB, f"memory grew by {memory.growth / MiB:.0f} MiB"


@pytest.mark.parametrize("path", ["/status", "/ui/login", "/api/v1/auth/login"])
def test_a_streamed_150_mib_body_is_cut_off_and_memory_stays_flat(
    role_fleet: RoleFleet, path: str
) -> None:
    with PeakMemory() as memory:
        status, sent = _send(role_fleet.url, _head(path, length=None), _chunks(HUGE, chunked=True))
    assert status == 413
    assert sent < HUGE, "the whole body went in"
    assert memory.growth < 32 * MiB, f"memory grew by {memory.growth / MiB:.0f} MiB"


def test_the_limits_follow_the_credentials(role_fleet: RoleFleet) -> None:
    body = b'{"username": "user-viewer", "password": "' + b"x" * (100 << 10) + b'"}'
    with role_fleet.anonymous() as client:
        # 100 KiB is over the anonymous limit (64 KiB) whoever it is meant for ...
        assert client.post("/api/v1/auth/login", content=body, headers=JSON).status_code == 413
        assert client.post("/status", content=b"a=" + b"x" * (100 << 10)).status_code == 413
        # ... an ordinary login still passes, with a length or streamed.
        login = b'{"username": "user-viewer", "password": "wrong password here"}'
        assert client.post("/api/v1/auth/login", content=login, headers=JSON).status_code == 401
        parts = iter([login[:10], login[10:]])
        streamed = client.post("/api/v1/auth/login", content=parts, headers=JSON)
        assert streamed.status_code == 401
    # With credentials the limit is the larger one (8 MiB): the route sees the body.
    with role_fleet.as_role(Role.ADMIN) as client:
        answer = client.post("/api/v1/stations", content=body, headers=JSON)
        assert answer.status_code == 422, answer.text
        huge = client.post("/api/v1/stations", content=b"x" * (9 * MiB))
        assert huge.status_code == 413


def test_a_content_length_that_is_no_number_is_a_400(role_fleet: RoleFleet) -> None:
    for bad in ("-1", "12abc", "99999999999999999999999"):
        status, _ = _send(
            role_fleet.url,
            f"POST /status HTTP/1.1\r\nHost: fleet\r\nContent-Length: {bad}\r\n\r\n".encode(),
            iter(()),
        )
        assert status == 400
