"""Serve a simulated serial device on a pseudo-terminal or a TCP port.

A simulated device is written as a *session*: a function that receives a :class:`ByteStream`
and talks the device's wire protocol over it until the stream closes. The same session runs
behind a pty (``/dev/pts/N``, what pyserial opens like a USB adapter) or behind a TCP listener
(``socket://127.0.0.1:PORT`` for ``serial.serial_for_url``). Host drivers never know which.

``ByteStream.unplug()`` simulates pulling the USB cable: a pty's master side is closed, so the
host's next read fails; a TCP connection is closed. A TCP endpoint keeps listening, so the
device can be "plugged in" again by reconnecting; a pty endpoint creates a new pty (a new path,
as a re-enumerated USB device would get).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

log = logging.getLogger(__name__)


class StreamClosedError(Exception):
    """The host side went away (cable pulled, socket closed) or the device unplugged itself."""


class ByteStream:
    """The device's view of the line: blocking reads with timeouts and writes.

    ``baudrate`` > 0 paces writes at the wire speed of an 8N1 UART (10 bits per byte), which is
    what a real module on a 57600 baud line looks like to the host.
    """

    def __init__(self, read_fd: int, write_fd: int, *, on_close: Callable[[], None]) -> None:
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._on_close = on_close
        self._closed = threading.Event()
        self._write_lock = threading.Lock()
        self.baudrate = 0
        self.bytes_written = 0
        self.bytes_read = 0

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def read(self, n: int = 1, timeout: float | None = None) -> bytes:
        """Read up to ``n`` bytes; ``b""`` when ``timeout`` passes with nothing to read."""
        if self.closed:
            raise StreamClosedError("stream closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            # Wake up at least every 0.2 s to notice an unplug from another thread.
            wait = 0.2 if wait is None else min(wait, 0.2)
            try:
                ready, _, _ = select.select([self._read_fd], [], [], wait)
            except (OSError, ValueError) as exc:
                self._mark_closed()
                raise StreamClosedError(str(exc)) from exc
            if self.closed:
                raise StreamClosedError("stream closed")
            if ready:
                try:
                    data = os.read(self._read_fd, n)
                except OSError as exc:
                    # EIO on a pty master: the host closed its side.
                    self._mark_closed()
                    raise StreamClosedError(str(exc)) from exc
                if not data:
                    self._mark_closed()
                    raise StreamClosedError("host closed the connection")
                self.bytes_read += len(data)
                return data
            if deadline is not None and time.monotonic() >= deadline:
                return b""

    def read_exact(self, n: int, timeout: float) -> bytes:
        """Read exactly ``n`` bytes or return what arrived before ``timeout`` (may be short)."""
        deadline = time.monotonic() + timeout
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            buf += self.read(n - len(buf), timeout=remaining)
        return bytes(buf)

    def write(self, data: bytes) -> None:
        """Write all of ``data``, paced at ``baudrate`` when it is set."""
        if self.closed:
            raise StreamClosedError("stream closed")
        view = memoryview(data)
        # Pace in slices so that a paced write of a long frame stays close to wire timing.
        slice_len = len(view) if self.baudrate <= 0 else max(1, self.baudrate // 10 // 100)
        start = time.monotonic()
        sent = 0
        with self._write_lock:
            while sent < len(view):
                part = view[sent : sent + slice_len]
                self._write_all(part)
                sent += len(part)
                if self.baudrate > 0:
                    due = start + sent * 10 / self.baudrate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
        self.bytes_written += len(data)

    def _write_all(self, data: memoryview) -> None:
        while data:
            try:
                _, ready, _ = select.select([], [self._write_fd], [], 1.0)
                if not ready:
                    continue
                written = os.write(self._write_fd, data)
            except OSError as exc:
                if exc.errno == errno.EAGAIN:
                    continue
                self._mark_closed()
                raise StreamClosedError(str(exc)) from exc
            data = data[written:]

    def unplug(self) -> None:
        """Simulate the device being unplugged: the host sees the line die."""
        self._mark_closed()

    def _mark_closed(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._on_close()


Session = Callable[[ByteStream], None]


@dataclass
class Endpoint:
    """A running endpoint: ``url`` is what a host passes to ``serial.serial_for_url``."""

    url: str
    _stop: Callable[[], None] = field(repr=False)
    _urls_changed: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def stop(self) -> None:
        self._stop()

    def wait_for_url_change(self, old_url: str, timeout: float) -> str:
        """For a pty endpoint: wait until the device re-appears under a new path after an unplug."""
        with self._urls_changed:
            self._urls_changed.wait_for(lambda: self.url != old_url, timeout=timeout)
        return self.url


def _run_session(session: Session, stream: ByteStream, name: str) -> None:
    try:
        session(stream)
    except StreamClosedError:
        log.debug("%s: host disconnected", name)
    except Exception:
        log.exception("%s: simulated device crashed", name)
    finally:
        stream.unplug()


def serve_tcp(session: Session, host: str = "127.0.0.1", port: int = 0) -> Endpoint:
    """Listen on ``host:port`` (0 picks a free port); each connection gets a fresh session.

    One host at a time, like a serial line: a second connection waits until the first ends.
    """
    listener = socket.create_server((host, port), reuse_port=False)
    actual_port = listener.getsockname()[1]
    stopping = threading.Event()
    line_free = threading.Lock()
    current: list[socket.socket] = []

    def accept_loop() -> None:
        while not stopping.is_set():
            try:
                conn, addr = listener.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with line_free:
                if stopping.is_set():
                    conn.close()
                    return
                current.append(conn)
                fd = conn.fileno()

                def close_conn(c: socket.socket = conn) -> None:
                    with contextlib.suppress(OSError):
                        c.shutdown(socket.SHUT_RDWR)

                stream = ByteStream(fd, fd, on_close=close_conn)
                log.debug("tcp %s:%d: host connected from %s", host, actual_port, addr)
                _run_session(session, stream, f"tcp:{actual_port}")
                conn.close()
                current.remove(conn)

    thread = threading.Thread(target=accept_loop, name=f"sim-tcp-{actual_port}", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for conn in list(current):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    return Endpoint(url=f"socket://{host}:{actual_port}", _stop=stop)


def serve_pty(session: Session) -> Endpoint:
    """Create a pseudo-terminal; the host opens its slave path as a serial port.

    After an unplug (the session closes the stream), a new pty is created and ``url`` changes,
    the way a USB serial adapter comes back under a new name.
    """
    stopping = threading.Event()
    endpoint: Endpoint

    def open_pty() -> tuple[int, int, str]:
        master, slave = os.openpty()
        tty.setraw(slave)
        # Keep the slave open ourselves so that the master never sees EIO before the host opens
        # it; the host's close does not then tear the line down.
        return master, slave, os.ttyname(slave)

    master, slave, path = open_pty()
    # Each pty's descriptors are closed exactly once: by its stream (unplug) once it has one,
    # by stop() before that. Closing a number twice could close a newer pty that reuses it.
    guard = threading.Lock()
    current: list[ByteStream] = []

    def loop() -> None:
        nonlocal master, slave
        while not stopping.is_set():
            fds = {"master": master, "slave": slave}

            def close_pty(fds: dict[str, int] = fds) -> None:
                for fd in fds.values():
                    with contextlib.suppress(OSError):
                        os.close(fd)

            stream = ByteStream(master, master, on_close=close_pty)
            with guard:
                current[:] = [stream]
            _run_session(session, stream, f"pty:{endpoint.url}")
            if stopping.is_set():
                return
            new_master, new_slave, new_path = open_pty()
            with guard:
                if stopping.is_set():
                    for fd in (new_master, new_slave):
                        os.close(fd)
                    return
                master, slave = new_master, new_slave
                current.clear()
            with endpoint._urls_changed:
                endpoint.url = new_path
                endpoint._urls_changed.notify_all()
            log.info("simulated device re-plugged at %s", new_path)

    def stop() -> None:
        with guard:
            stopping.set()
            streams = list(current)
            unowned = () if streams else (master, slave)
        # Mark the stream closed before its descriptors go: a session thread still waiting
        # in select() must not wake up on a new pty that reuses the same numbers.
        for stream in streams:
            stream.unplug()
        for fd in unowned:
            with contextlib.suppress(OSError):
                os.close(fd)

    endpoint = Endpoint(url=path, _stop=stop)
    threading.Thread(target=loop, name=f"sim-pty-{path}", daemon=True).start()
    return endpoint


Transport = Literal["tcp", "pty"]


def serve_session(
    session: Session, transport: Transport = "tcp", host: str = "127.0.0.1", port: int = 0
) -> Endpoint:
    """Serve on TCP (``socket://HOST:PORT``, port 0 picks a free one) or on a pty (``/dev/pts/N``).

    The way a test or a demo serves a device in its own process: pass the endpoint's ``url`` to
    pyserial.
    """
    if transport == "pty":
        return serve_pty(session)
    if transport == "tcp":
        return serve_tcp(session, host, port)
    raise ValueError(f"transport must be tcp or pty, got {transport!r}")


def parse_tcp_url(url: str) -> tuple[str, int]:
    """``tcp://HOST:PORT`` as (host, port): how command lines name a TCP port to listen on."""
    if not url.startswith("tcp://"):
        raise ValueError(f"expected tcp://HOST:PORT, got {url!r}")
    host, _, port = url.removeprefix("tcp://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"expected tcp://HOST:PORT, got {url!r}")
    return host, int(port)


def serve(session: Session, listen: str | None, *, pty: bool = False) -> Endpoint:
    """Serve per a command-line choice: ``--pty`` or ``--listen tcp://HOST:PORT``."""
    if pty:
        return serve_pty(session)
    if not listen:
        raise ValueError("give --pty or --listen tcp://HOST:PORT")
    try:
        host, port = parse_tcp_url(listen)
    except ValueError:
        raise ValueError(f"--listen must look like tcp://127.0.0.1:7001, got {listen!r}") from None
    return serve_tcp(session, host, port)
