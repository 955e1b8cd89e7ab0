"""What a session needs to know before it connects: where, as whom, how securely, how patiently.

Everything here is plain data, checked when it is built, so a wrong URL or a missing certificate
file fails when the process starts instead of at the first reconnect.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mqtt_session.errors import SessionError

PLAIN_PORT = 1883
TLS_PORT = 8883


@dataclass(frozen=True)
class TlsOptions:
    """TLS towards the broker. ``ca_file`` None trusts the system's certificate authorities;
    a private fleet CA is given as a PEM file. A client certificate is optional."""

    ca_file: Path | None = None
    verify_hostname: bool = True
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise SessionError("a client certificate needs both cert_file and key_file")
        for path in (self.ca_file, self.cert_file, self.key_file):
            if path is not None and not path.is_file():
                raise SessionError(f"TLS file {path} does not exist or is not a file")

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2 or newer, the peer's certificate always verified."""
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
        )
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.check_hostname = self.verify_hostname
        ctx.verify_mode = ssl.CERT_REQUIRED
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: TlsOptions | None = None

    @classmethod
    def from_url(cls, url: str, tls: TlsOptions | None = None) -> BrokerAddress:
        """``mqtt://host:1883`` (plaintext) or ``mqtts://host:8883`` (TLS: ``tls`` or the
        system's trust store). TLS options given with an ``mqtt://`` URL are an error."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise SessionError(
                f"broker URL {url!r}: expected mqtt://host:port or mqtts://host:port"
            )
        secure = parts.scheme == "mqtts"
        if tls is not None and not secure:
            raise SessionError(f"broker URL {url!r} is plaintext but TLS options were given")
        try:
            port = parts.port
        except ValueError as exc:
            raise SessionError(f"broker URL {url!r}: {exc}") from exc
        return cls(
            parts.hostname,
            port or (TLS_PORT if secure else PLAIN_PORT),
            (tls or TlsOptions()) if secure else None,
        )

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True)
class Will:
    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = False


@dataclass(frozen=True)
class Backoff:
    """Reconnect delays: exponential with full jitter (uniform between ``min_s`` and the
    growing ceiling), so a fleet of clients does not stampede a broker that came back.

    A connection that had been logged in for ``healthy_s`` or longer and then dropped (a
    cellular link reset, a hand-over) is tried again at once: within ``quick_s``, spread so
    that clients dropped together do not arrive in one instant. If that try fails, the usual
    delays follow: a broker that went away is still given room."""

    min_s: float = 0.5
    max_s: float = 30.0
    quick_s: float = 0.25
    healthy_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.min_s <= self.max_s:
            raise SessionError(f"backoff needs 0 < min_s <= max_s, got {self.min_s}, {self.max_s}")
        if self.quick_s < 0 or self.healthy_s < 0:
            raise SessionError(
                f"backoff needs quick_s, healthy_s >= 0, got {self.quick_s}, {self.healthy_s}"
            )

    def delay(self, attempt: int, uniform: Callable[[float, float], float]) -> float:
        ceiling = min(self.max_s, self.min_s * 2 ** min(max(attempt, 0), 30))
        return uniform(self.min_s, ceiling)

    def after_healthy(self, uniform: Callable[[float, float], float]) -> float:
        """The wait before the first try after a healthy connection dropped."""
        return uniform(0.0, self.quick_s)


@dataclass(frozen=True)
class SessionOptions:
    """How the session behaves. ``session_expiry_s`` > 0 with ``clean_start`` False keeps the
    broker session (subscriptions, queued QoS 1 messages) across disconnects."""

    client_id: str
    credentials: Credentials | None = None
    session_expiry_s: int = 7 * 24 * 3600
    clean_start: bool = False
    keepalive_s: int = 30
    backoff: Backoff = field(default_factory=Backoff)
    max_inflight: int = 20
    max_queued: int = 0  # messages paho holds while offline; 0: no limit
    manual_ack: bool = False
    will: Will | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.session_expiry_s <= 0xFFFFFFFF:
            raise SessionError("session_expiry_s must fit MQTT's 32-bit interval")
        if not 1 <= self.max_inflight <= 65535:
            raise SessionError("max_inflight must be 1..65535")
