"""Dashboard API latency with 10,000 stations registered and heartbeating every 30 s, on SQLite
and on PostgreSQL.

Setup per backend: Mosquitto (auth and ACLs on); the fleet store (SQLite file, or a PostgreSQL
15 cluster with its default durability); ``STATIONS`` stations bulk-inserted into the store as
registered and active (what provisioning leaves, without 10,000 claims), each with
``PACKETS_PER_STATION`` stored packet rows (no files: the routes measured never read them);
`ewp fleet serve` as its own process (HTTP API and the operations jobs: missed-heartbeat check,
alert evaluation, rollups) and one `ewp fleet ingest` process with 2 workers, as a site runs
them.

Heartbeats: every station sends one every ``INTERVAL_S`` (30 s), at its own phase, so 333 a
second arrive through the real path: broker, shared subscription, ingest worker, store (a
sample, the liveness row, the station row). A real station may publish only under its own
topic prefix; 10,000 broker logins and connections would be a bench of the broker, so the
simulated stations share 4 connections of one bench-only broker account whose ACL allows
publishing every station's heartbeat topic (created through the same dynamic-security
plugin). One station in a hundred reports a nearly full disk, so alerts are raised (by the
real alert rules). The first ``INTERVAL_S`` are a warm-up: every station heartbeats once.

Then, for ``DURATION_S``, one admin client (bearer token) asks the routes a dashboard uses, in
turn, one request at a time: fleet summary (totals and the first 100 stations' packets), fleet
health, a page of 100 stations of the list (the page after a random station, as "next" links
ask), the stations offline, a station's details and its health, the active alerts. Baseline, in turn
with them in the same run: ``GET /api/v1/health`` (answers without touching the store).

Figures: each route's p99 latency, as a ratio to the baseline's p99, and in milliseconds
against the 100 ms target. Also how many of the heartbeats sent during the window were stored
(the ingest keeping up). Scale with ``EWP_BENCH_STATIONS`` (10000), ``EWP_BENCH_DURATION_S``
(45), ``EWP_BENCH_PACKETS_PER_STATION`` (10); ``EWP_BENCH_BACKENDS`` (sqlite,postgresql).
"""

from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, insert, select

from bench.fleet_ingest import heartbeat
from bench.fleet_store import backend_store
from bench.report import Figure, report
from ewp.local_fleet import FleetStack, start_fleet_stack
from fleet.broker.dynsec import DynsecAdmin
from fleet.store.db import make_engine, migrate, session_factory
from fleet.store.models import Packet, Station, utcnow
from fleet.store.ops_models import HealthSample, StationLiveness
from mqtt_session import BrokerAddress
from protocol import topics
from protocol.reference_data import provinces

STATIONS = int(os.environ.get("EWP_BENCH_STATIONS", "10000"))
INTERVAL_S = 30.0
DURATION_S = float(os.environ.get("EWP_BENCH_DURATION_S", "45"))
PACKETS_PER_STATION = int(os.environ.get("EWP_BENCH_PACKETS_PER_STATION", "10"))
BACKENDS = os.environ.get("EWP_BENCH_BACKENDS", "sqlite,postgresql").split(",")
CONNECTIONS = 4
TARGET_MS = 100.0
FULL_DISK_EVERY = 100  # one station in a hundred: its disk is nearly full (an alert)
BENCH_ACCOUNT = "ewp-bench-stations"


def station_id(n: int) -> str:
    return f"{'mu' if n % 6 == 0 else 'ct'}-{n:05d}"


# -- setting up ----------------------------------------------------------------------------------


def bulk_insert(database_url: str) -> None:
    """STATIONS active stations, their liveness (online, a heartbeat due within 1.5 intervals
    of now, as after their previous one) and their packets' rows."""
    engine = make_engine(database_url)
    migrate(engine)
    codes = sorted(provinces())
    now = utcnow()
    rng = random.Random(11)
    with engine.begin() as connection:
        for start in range(0, STATIONS, 2000):
            numbers = range(start, min(start + 2000, STATIONS))
            connection.execute(
                insert(Station),
                [
                    {
                        "station_id": station_id(n),
                        "name": f"bench station {n}",
                        "kind": "mobile" if n % 6 == 0 else "center",
                        "state": "active",
                        "created_at": now - timedelta(days=30),
                        "claimed_at": now - timedelta(days=29),
                        "online": True,
                        "last_seen_at": now,
                        "province": codes[n % len(codes)],
                        "tags": "[]",
                        "operators": "[]",
                    }
                    for n in numbers
                ],
            )
            connection.execute(
                insert(StationLiveness),
                [
                    {
                        "station_id": station_id(n),
                        "state": "online",
                        "reason": "heartbeat",
                        "since": now - timedelta(days=1),
                        "last_heartbeat_at": now,
                        "heartbeat_interval_s": INTERVAL_S,
                        "expected_by": now + timedelta(seconds=1.5 * INTERVAL_S),
                    }
                    for n in numbers
                ],
            )
            connection.execute(
                insert(Packet),
                [
                    {
                        "packet_id": f"{n:016x}{seq:016x}",
                        "station_id": station_id(n),
                        "seq": seq,
                        "sha256": f"{rng.getrandbits(256):064x}",
                        "size": 100_000 + rng.randrange(50_000),
                        "content_type": "application/vnd.ewp.enrolment+zip",
                        "created_at": "2026-11-01T03:00:00.000Z",
                        "received_at": now - timedelta(hours=seq),
                        "path": f"{station_id(n)}/2026/11/01/{n:016x}{seq:016x}.ewp",
                        "resends": 0,
                        "state": "received",
                    }
                    for n in numbers
                    for seq in range(1, PACKETS_PER_STATION + 1)
                ],
            )
    engine.dispose()


def bench_account(stack: FleetStack) -> str:
    """A broker account that may publish every station's heartbeat (and nothing else)."""
    password = secrets.token_urlsafe(24)
    b = stack.settings.broker
    acl = {
        "acltype": "publishClientSend",
        "topic": topics.HEARTBEAT.filter_all_stations(),
        "priority": 0,
        "allow": True,
    }
    admin = DynsecAdmin(
        BrokerAddress(b.host, b.port), b.admin_username, b.admin_password.read("broker admin")
    )
    with admin.connect():
        admin.execute(
            {"command": "createRole", "rolename": BENCH_ACCOUNT, "acls": [acl]},
            {
                "command": "createClient",
                "username": BENCH_ACCOUNT,
                "password": password,
                "roles": [{"rolename": BENCH_ACCOUNT}],
            },
        )
    return password


@contextmanager
def fleet_service(stack: FleetStack) -> Iterator[str]:
    """`ewp fleet serve` in its own process; yields its base URL once it answers."""
    log = (stack.root / "logs" / "serve.log").open("ab")
    command = [sys.executable, "-m", "ewp", "fleet", "serve", "--config", str(stack.settings_path)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{stack.url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"fleet service did not start; see {log.name}")
            time.sleep(0.2)
        yield stack.url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# -- the stations' heartbeats --------------------------------------------------------------------


class Heartbeats:
    """Every station's heartbeat every INTERVAL_S, at its own phase, over a few connections."""

    def __init__(self, stack: FleetStack, password: str) -> None:
        self.sent = 0
        self._stop = threading.Event()
        self._clients: list[mqtt.Client] = []
        for n in range(CONNECTIONS):
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2, client_id=f"bench-stations-{n}", protocol=mqtt.MQTTv5
            )
            client.username_pw_set(BENCH_ACCOUNT, password)
            client.max_queued_messages_set(0)
            client.connect(stack.broker.host, stack.broker.port)
            client.loop_start()
            self._clients.append(client)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Heartbeats:
        self._thread.start()
        return self

    def _run(self) -> None:
        start = time.monotonic()
        seq = 0
        while not self._stop.is_set():
            seq += 1
            for n in range(STATIONS):
                due = start + (seq - 1) * INTERVAL_S + INTERVAL_S * n / STATIONS
                wait = due - time.monotonic()
                if wait > 0 and self._stop.wait(wait):
                    return
                sid = station_id(n)
                beat = heartbeat(sid, seq)
                if n % FULL_DISK_EVERY == 0:  # 98 % used
                    disk = beat.disk.model_copy(update={"free_bytes": beat.disk.total_bytes // 50})
                    beat = beat.model_copy(update={"disk": disk})
                self._clients[n % CONNECTIONS].publish(
                    topics.HEARTBEAT.for_station(sid), beat.to_payload(), qos=0
                )
                self.sent += 1

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(10)
        for client in self._clients:
            client.disconnect()
            client.loop_stop()


# -- measuring -----------------------------------------------------------------------------------


def routes() -> dict[str, Callable[[random.Random], str]]:
    return {
        "fleet summary": lambda rng: "/api/v1/summary",
        "fleet health": lambda rng: "/api/v1/fleet/health",
        "station list page": lambda rng: (
            f"/api/v1/stations?limit=100&after={station_id(rng.randrange(STATIONS))}"
        ),
        "stations offline": lambda rng: "/api/v1/fleet/health/stations?state=offline&limit=100",
        "station detail": lambda rng: f"/api/v1/stations/{station_id(rng.randrange(STATIONS))}",
        "station health": lambda rng: (
            f"/api/v1/stations/{station_id(rng.randrange(STATIONS))}/health"
        ),
        "active alerts": lambda rng: "/api/v1/alerts?state=active",
    }


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def measure(url: str, token: str) -> tuple[dict[str, list[float]], list[float]]:
    """Latencies (s) of each route and of the baseline, asked in turn for DURATION_S."""
    rng = random.Random(3)
    table = routes()
    latencies: dict[str, list[float]] = {name: [] for name in table}
    baseline: list[float] = []
    headers = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as api:
        deadline = time.monotonic() + DURATION_S
        while time.monotonic() < deadline:
            for name, path in table.items():
                started = time.perf_counter()
                response = api.get(path(rng))
                latencies[name].append(time.perf_counter() - started)
                response.raise_for_status()
                started = time.perf_counter()
                api.get("/api/v1/health").raise_for_status()
                baseline.append(time.perf_counter() - started)
    return latencies, baseline


def stored_heartbeats(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with session_factory(engine)() as session:
            return session.scalar(select(func.count()).select_from(HealthSample)) or 0
    finally:
        engine.dispose()


def run(backend: str) -> None:
    with backend_store(backend) as (root, database_url):
        stack = start_fleet_stack(root, workers=0, serve=False, database_url=database_url)
        (root / "logs").mkdir(parents=True, exist_ok=True)
        ingest = stack.ingest_process("bench", workers=2)
        beats: Heartbeats | None = None
        try:
            bulk_insert(stack.settings.database_url)
            password = bench_account(stack)
            with fleet_service(stack) as url:
                ingest.start()
                ingest.wait_subscribed()
                stored_before = stored_heartbeats(stack.settings.database_url)
                beats = Heartbeats(stack, password).start()
                started = time.monotonic()
                time.sleep(INTERVAL_S)  # warm-up: every station heartbeats once
                latencies, baseline = measure(url, stack.admin_token)
                beats.stop()
                sent, elapsed = beats.sent, time.monotonic() - started
                time.sleep(3.0)  # what was sent last is still on its way
                stored = stored_heartbeats(stack.settings.database_url) - stored_before
        finally:
            if beats is not None:
                beats.stop()
            ingest.stop()
            stack.stop()
    base = p99(baseline)
    common: dict[str, float | int | str] = {
        "stations": STATIONS,
        "heartbeats/s sent": round(sent / elapsed),
        "heartbeats stored (3 s after the last was sent)": f"{stored} of {sent}",
        "setup": f"{backend}; `ewp fleet serve` + 1 `ewp fleet ingest` x 2 workers",
        "cpus": os.cpu_count() or 0,
    }
    for name, samples in latencies.items():
        ours = p99(samples)
        verdict = "meets" if ours * 1000 < TARGET_MS else "MISSES"
        report(
            Figure(
                name=f"dashboard {name} p99 ({backend})",
                ratio=ours / base,
                target="",
                ours=f"p99 {ours * 1000:.1f} ms over {len(samples)} requests "
                f"(target < {TARGET_MS:.0f} ms: {verdict})",
                baseline=f"GET /api/v1/health p99 {base * 1000:.1f} ms over {len(baseline)}",
                extra=common | {"median ms": round(sorted(samples)[len(samples) // 2] * 1000, 1)},
            )
        )


def main() -> None:
    for backend in BACKENDS:
        run(backend)


if __name__ == "__main__":
    main()
