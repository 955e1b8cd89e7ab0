"""What the simulator tests talk through: raw bytes to a device, lines to a control port."""

from __future__ import annotations

import json
import socket
from typing import Any

from simulators.serial_endpoints import parse_tcp_url


class RawTcpHost:
    """A host that speaks bytes to a device served on ``socket://HOST:PORT``, to see exactly
    what the device puts on the line; a test adds its protocol's framing."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("socket://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=2)

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_exact(self, n: int, timeout: float = 2.0) -> bytes:
        self.sock.settimeout(timeout)
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    def silent_for(self, seconds: float) -> bool:
        """Whether nothing arrives for ``seconds`` (or the device hangs up)."""
        self.sock.settimeout(seconds)
        try:
            return not self.sock.recv(1)
        except TimeoutError:
            return True


class ControlClient:
    """One connection to a control port (``tcp://HOST:PORT``): a line out, a line back."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(parse_tcp_url(url), timeout=timeout)
        self.stream = self.sock.makefile("rwb")

    def say(self, line: str | bytes) -> str:
        """Send one line as it is; the reply line without its newline."""
        raw = line.encode() if isinstance(line, str) else line
        self.stream.write(raw + b"\n")
        self.stream.flush()
        return self.stream.readline().decode().removesuffix("\n")

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON object; the JSON object that comes back."""
        reply: dict[str, Any] = json.loads(self.say(json.dumps(request)))
        return reply

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
