"""What the simulator tests talk through: a tester's connection to a control port."""

from __future__ import annotations

import json
import socket
from typing import Any

from simulators.serial_endpoints import parse_tcp_url


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
