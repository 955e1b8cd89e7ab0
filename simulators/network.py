"""A fault-injecting TCP proxy: a van's cellular link between a station and the broker.

There is no ``netem`` here, so bad networks are simulated at the TCP level. Each ``FaultyLink``
listens on a local port and forwards to an upstream (the broker). Faults:

- ``cut()``        every connection is reset now and new ones are refused until ``restore()``
                   (the van drives into a dead zone);
- ``blackhole()``  connections stay open but nothing passes either way, so only keep-alives
                   notice (a link that hangs without failing);
- latency and a bandwidth cap per direction (``LinkProfile``);
- ``drop_rate``    per-second chance that each open connection is reset (a flaky link);
- ``reset_every_s`` every open connection is reset about this often, each interval drawn
                   within ``reset_jitter`` of it from the link's seeded generator (a cellular
                   link handing over between cells: a lossy link with repeatable resets).

A ``NetworkSimulator`` runs many links on one asyncio loop in a background thread; its methods
are safe to call from any thread. ``ewp sim network`` serves links from the command line with a
JSON-lines control port and a schedule of outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from simulators.control_port import ControlPort

log = logging.getLogger(__name__)
T = TypeVar("T")

READ_SIZE = 16384
SLICES_PER_S = 20  # a capped link passes data in slices of a twentieth of a second
BUFFER_S = 1.0  # a capped link buffers this much link time beyond what is on the wire
MAX_JITTER = 0.9  # a periodic reset never comes sooner than a tenth of its interval


@dataclass(frozen=True)
class LinkProfile:
    latency_s: float = 0.0  # one way
    bandwidth_bps: float = 0.0  # bytes per second per direction; 0 = unlimited
    drop_rate: float = 0.0  # chance per second that a connection is reset
    reset_every_s: float = 0.0  # every open connection is reset about this often; 0 = never
    reset_jitter: float = 0.1  # each interval drawn uniformly within this fraction (<= 0.9)


@dataclass
class LinkStats:
    connections: int = 0
    refused: int = 0
    resets: int = 0  # connections reset, by any fault
    periodic_resets: int = 0  # times ``reset_every_s`` came round with connections open
    bytes_up: int = 0  # client -> upstream
    bytes_down: int = 0


@dataclass(eq=False)
class _Connection:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def reset(self) -> None:
        for writer in (self.client, self.upstream):
            transport = writer.transport
            if not transport.is_closing():
                # abort(): RST-like, no graceful FIN; what a dead radio link looks like.
                transport.abort()
        for task in self.tasks:
            task.cancel()


class FaultyLink:
    """One proxied link. Create through ``NetworkSimulator.add_link``."""

    def __init__(
        self,
        sim: NetworkSimulator,
        upstream: tuple[str, int],
        listen: tuple[str, int],
        profile: LinkProfile,
        name: str,
        seed: int | str | None = None,
    ) -> None:
        self._sim = sim
        self.upstream = upstream
        self.listen_host, self.listen_port = listen
        self.profile = profile
        self.name = name
        self.state = "up"  # up | cut | blackhole
        self.stats = LinkStats()
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._rng = random.Random(name if seed is None else f"{seed}:{name}")
        self._fault_tasks: list[asyncio.Task[None]] = []

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    # -- thread-safe controls -------------------------------------------------------------

    def cut(self) -> None:
        self._sim.call(self._set_state("cut"))

    def blackhole(self) -> None:
        self._sim.call(self._set_state("blackhole"))

    def restore(self) -> None:
        self._sim.call(self._set_state("up"))

    def set_profile(self, **changes: float) -> None:
        self.profile = replace(self.profile, **changes)

    def reset_connections(self) -> None:
        """Drop every open connection once (the link itself stays up)."""
        self._sim.call(self._reset_all())

    # -- on the loop ----------------------------------------------------------------------

    async def _set_state(self, state: str) -> None:
        previous, self.state = self.state, state
        if state == "cut":
            await self._reset_all()
        log.info("link %s: %s -> %s", self.name, previous, state)

    async def _reset_all(self) -> None:
        for conn in list(self._connections):
            conn.reset()
            self.stats.resets += 1
        self._connections.clear()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        self._fault_tasks = [
            asyncio.create_task(self._random_drops()),
            asyncio.create_task(self._periodic_resets()),
        ]

    async def stop(self) -> None:
        for task in self._fault_tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()
        await self._reset_all()

    async def _random_drops(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            rate = self.profile.drop_rate
            if rate <= 0:
                continue
            for conn in list(self._connections):
                if self._rng.random() < rate:
                    conn.reset()
                    self._connections.discard(conn)
                    self.stats.resets += 1

    def next_reset_interval(self) -> float:
        """Seconds to the next periodic reset: ``reset_every_s`` give or take its jitter."""
        every, jitter = (
            self.profile.reset_every_s,
            min(max(self.profile.reset_jitter, 0.0), MAX_JITTER),
        )
        return every * (1 + self._rng.uniform(-jitter, jitter))

    async def _periodic_resets(self) -> None:
        """Reset every open connection each time the (jittered) interval comes round; the
        interval is drawn afresh each time, and again when ``reset_every_s`` is changed."""
        loop = asyncio.get_running_loop()
        due: float | None = None
        every = 0.0
        while True:
            if self.profile.reset_every_s != every:
                every = self.profile.reset_every_s
                due = loop.time() + self.next_reset_interval() if every > 0 else None
            if due is None:
                await asyncio.sleep(0.5)
                continue
            if loop.time() < due:
                await asyncio.sleep(min(due - loop.time(), 0.5))
                continue
            if self._connections:
                self.stats.periodic_resets += 1
                log.info(
                    "link %s: periodic reset of %d connection(s)", self.name, len(self._connections)
                )
                await self._reset_all()
            due = loop.time() + self.next_reset_interval()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state == "cut":
            self.stats.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self.stats.refused += 1
            writer.transport.abort()
            return
        self.stats.connections += 1
        conn = _Connection(writer, up_writer)
        self._connections.add(conn)
        conn.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, conn, upward=True)),
            asyncio.create_task(self._pump(up_reader, writer, conn, upward=False)),
        ]
        await asyncio.gather(*conn.tasks, return_exceptions=True)
        self._connections.discard(conn)
        conn.reset()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: _Connection,
        *,
        upward: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        # A capped link's buffer is bounded (what is on the wire plus BUFFER_S), so a fast
        # sender feels backpressure, as through a real link, instead of filling memory.
        capped = self.profile.bandwidth_bps > 0
        slices = math.ceil((self.profile.latency_s + BUFFER_S) * SLICES_PER_S) if capped else 0
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=slices)

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                while self.state == "blackhole":
                    await asyncio.sleep(0.05)
                writer.write(data)
                await writer.drain()
                if upward:
                    self.stats.bytes_up += len(data)
                else:
                    self.stats.bytes_down += len(data)
                if self.profile.bandwidth_bps > 0:
                    await asyncio.sleep(len(data) / self.profile.bandwidth_bps)

        sender = asyncio.create_task(deliver())
        try:
            while True:
                size = READ_SIZE
                if self.profile.bandwidth_bps > 0:
                    size = max(1, min(READ_SIZE, int(self.profile.bandwidth_bps / SLICES_PER_S)))
                data = await reader.read(size)
                if not data:
                    break
                await queue.put((loop.time() + self.profile.latency_s, data))
            while not queue.empty():
                await asyncio.sleep(0.01)
            await asyncio.sleep(self.profile.latency_s)
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(OSError):
                if writer.can_write_eof():
                    writer.write_eof()


class NetworkSimulator:
    """An asyncio loop in a background thread hosting any number of faulty links."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netsim", daemon=True)
        self._thread.start()
        self.links: dict[str, FaultyLink] = {}

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def add_link(
        self,
        upstream: tuple[str, int],
        *,
        listen: tuple[str, int] = ("127.0.0.1", 0),
        profile: LinkProfile | None = None,
        name: str | None = None,
        seed: int | str | None = None,
    ) -> FaultyLink:
        """A link on a free port (or ``listen``); ``seed`` makes its random faults (drops,
        the jitter of periodic resets) repeatable; by default they are seeded by its name."""
        name = name or f"link-{len(self.links) + 1}"
        link = FaultyLink(self, upstream, listen, profile or LinkProfile(), name, seed)
        self.call(link.start())
        self.links[name] = link
        return link

    def close(self) -> None:
        for link in self.links.values():
            with contextlib.suppress(Exception):
                self.call(link.stop())
        with contextlib.suppress(Exception):
            self.call(self._cancel_tasks())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @staticmethod
    async def _cancel_tasks() -> None:
        """Let every connection's tasks finish cancelling, so none is left pending."""
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> NetworkSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ScheduledFault:
    at_s: float
    action: str  # cut | restore | blackhole | reset
    link: str | None = None  # None: every link


def parse_schedule(items: list[dict[str, Any]]) -> list[ScheduledFault]:
    faults = []
    for item in items:
        action = item.get("action")
        if action not in ("cut", "restore", "blackhole", "reset"):
            raise ValueError(f"schedule: unknown action {action!r} (cut|restore|blackhole|reset)")
        faults.append(ScheduledFault(float(item["at_s"]), action, item.get("link")))
    return sorted(faults, key=lambda f: f.at_s)


def apply(link: FaultyLink, action: str) -> None:
    {
        "cut": link.cut,
        "restore": link.restore,
        "blackhole": link.blackhole,
        "reset": link.reset_connections,
    }[action]()


def run_schedule(
    sim: NetworkSimulator, faults: list[ScheduledFault], stop: threading.Event
) -> None:
    start = time.monotonic()
    for fault in faults:
        if stop.wait(max(0.0, start + fault.at_s - time.monotonic())):
            return
        targets = [sim.links[fault.link]] if fault.link else list(sim.links.values())
        for link in targets:
            apply(link, fault.action)


def handle_control(sim: NetworkSimulator, line: str) -> dict[str, Any]:
    """One JSON command from the control port; returns the JSON answer."""
    try:
        command = json.loads(line)
        name = command.get("link")
        targets = [sim.links[name]] if name else list(sim.links.values())
        cmd = command["cmd"]
        if cmd in ("cut", "restore", "blackhole", "reset"):
            for link in targets:
                apply(link, cmd)
        elif cmd == "set":
            changes = {k: float(v) for k, v in command.items() if k in LinkProfile.__annotations__}
            for link in targets:
                link.set_profile(**changes)
        elif cmd != "status":
            return {"ok": False, "error": f"unknown command {cmd!r}"}
        return {
            "ok": True,
            "links": {
                link.name: {"state": link.state, "listen": link.address, **link.stats.__dict__}
                for link in targets
            },
        }
    except (ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "error": str(exc)}


def serve_control(sim: NetworkSimulator, host: str, port: int) -> ControlPort:
    """A JSON-lines control port: one command per line, one answer per line."""
    return ControlPort(
        lambda line: json.dumps(handle_control(sim, line)), host, port, name="netsim-control"
    )
