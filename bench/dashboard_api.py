"""What an admin waits for with 10,000 stations heartbeating every 30 s, on SQLite and PostgreSQL.

Setup per backend: Mosquitto and the fleet store (a SQLite file, or a throwaway PostgreSQL 15
cluster with its default durability), then ``STATIONS`` active stations inserted in bulk with
``HISTORY_MIN`` minutes of 30-second heartbeats each (what the health charts read), and
``ewp fleet serve`` started as its own process.

Load while measuring: a writer process feeds heartbeats at ``STATIONS / 30`` per second (333/s
for 10,000 stations), round robin over the stations, through the fleet's own heartbeat handler
(``Ingest.handle_heartbeat``: the station row, its liveness, the health sample, the alert
checks; what an MQTT heartbeat reaches after parsing). It does not publish them through the
broker: that would need 10,000 broker logins and connections on this one machine, and the
broker's share of a heartbeat is measured by bench/fleet_ingest.py.

Ours: the routes the dashboard and an admin's scripts read (fleet summary and health, the
station list filtered by province, a station, its health and history, alerts, the dashboard's
overview and station pages), each ``REQUESTS`` times in turn, one request at a time, with the
latency of every request. Baseline, same service, same run: ``GET /api/v1/health`` (no store
access). Figure: p99 over all the routes' requests (target under 100 ms), and the ratio
baseline p99 / our p99.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError

from bench.report import Figure, report
from ewp.local_fleet import FleetStack, start_fleet_stack
from ewp.local_postgres import PostgresCluster
from fleet.store.db import make_engine, migrate
from fleet.store.models import Station, utcnow
from fleet.store.ops_models import HealthSample, StationLiveness
from protocol.envelope import utc_timestamp
from protocol.messages import Heartbeat
from protocol.reference_data import provinces

STATIONS = int(os.environ.get("EWP_BENCH_STATIONS", "10000"))
HISTORY_MIN = int(os.environ.get("EWP_BENCH_HISTORY_MIN", "30"))
REQUESTS = int(os.environ.get("EWP_BENCH_REQUESTS", "60"))  # per route
BACKENDS = os.environ.get("EWP_BENCH_BACKENDS", "sqlite,postgresql").split(",")
INTERVAL_S = 30.0
TARGET_MS = 100.0
ADMIN = "bench-admin"
ADMIN_PASSWORD = "bench-password-" + "x" * 8


def heartbeat(station_id: str, seq: int) -> Heartbeat:
    return Heartbeat.model_validate(
        {
            "station_id": station_id,
            "at": utc_timestamp(),
            "seq": seq,
            "uptime_s": INTERVAL_S * seq,
            "software_version": "bench",
            "queue": {
                "pending": seq % 3,
                "sending": 0,
                "acked": seq,
                "pending_bytes": 100_000 * (seq % 3),
                "oldest_pending_age_s": 12.0 if seq % 3 else None,
                "created_total": seq + seq % 3,
                "last_seq": seq + seq % 3,
            },
            "disk": {"free_bytes": 20_000_000_000, "total_bytes": 32_000_000_000},
            "sensors": [
                {"kind": "fingerprint", "state": "ok"},
                {"kind": "iris", "state": "ok"},
            ],
            "cpu_temperature_c": 50.0 + seq % 20,
            "interval_s": INTERVAL_S,
        }
    )


def station_ids() -> list[str]:
    return [f"st-{n:05d}" for n in range(STATIONS)]


def populate(database_url: str) -> None:
    """The registry, each station's latest heartbeat and liveness, and its recent history."""
    engine = make_engine(database_url)
    migrate(engine)
    codes = sorted(provinces())
    now = utcnow()
    samples_each = max(1, int(HISTORY_MIN * 60 / INTERVAL_S))
    with engine.begin() as db:
        rows = []
        for n, sid in enumerate(station_ids()):
            rows.append(
                {
                    "station_id": sid,
                    "name": sid,
                    "kind": "mobile" if n % 6 == 0 else "center",
                    "state": "active",
                    "created_at": now,
                    "public_key": None,
                    "online": True,
                    "last_seen_at": now,
                    "software_version": "bench",
                    "last_heartbeat": heartbeat(sid, samples_each).model_dump_json(),
                    "province": codes[n % len(codes)],
                    "tags": "[]",
                    "operators": "[]",
                }
            )
        db.execute(insert(Station), rows)
        db.execute(
            insert(StationLiveness),
            [
                {
                    "station_id": sid,
                    "state": "online",
                    "reason": "heartbeat",
                    "since": now - timedelta(minutes=HISTORY_MIN),
                    "last_heartbeat_at": now,
                    "heartbeat_interval_s": INTERVAL_S,
                    "expected_by": now + timedelta(seconds=1.5 * INTERVAL_S),
                }
                for sid in station_ids()
            ],
        )
        for k in range(samples_each):
            at = now - timedelta(seconds=INTERVAL_S * (samples_each - k))
            db.execute(
                insert(HealthSample),
                [
                    {
                        "station_id": sid,
                        "at": at,
                        "queue_pending": k % 3,
                        "queue_pending_bytes": 100_000 * (k % 3),
                        "oldest_pending_age_s": 12.0,
                        "disk_free_pct": 62.5,
                        "cpu_temperature_c": 50.0 + k % 20,
                        "sensors_faulty": 0,
                        "sensors": '{"fingerprint": "ok", "iris": "ok"}',
                    }
                    for sid in station_ids()
                ],
            )
    engine.dispose()


def write_heartbeats(config: Path) -> None:
    """The writer process: heartbeats at STATIONS / 30 per second through the ingest handler,
    until SIGTERM; then it prints how many it wrote and in how many seconds."""
    from ewp.cli.settings_loader import load_settings
    from fleet.context import FleetContext
    from fleet.settings import FleetSettings

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    context = FleetContext.create(load_settings(FleetSettings, config))
    rate = STATIONS / INTERVAL_S
    ids = station_ids()
    start = time.monotonic()
    sent = failed = 0
    while not stop.is_set():
        due = int((time.monotonic() - start) * rate)
        while sent < due:
            sid = ids[sent % len(ids)]
            payload = heartbeat(sid, 1000 + sent // len(ids)).model_dump_json().encode()
            try:
                context.ingest.handle_heartbeat(sid, payload)
            except SQLAlchemyError as exc:  # e.g. SQLite's write lock not had in time
                failed += 1
                if failed == 1:
                    logging.getLogger(__name__).warning("heartbeat not stored: %s", exc)
            sent += 1
        stop.wait(0.005)
    elapsed = time.monotonic() - start
    sys.stdout.write(f"{sent} {failed} {elapsed:.3f}\n")
    context.close()


@contextmanager
def store(backend: str) -> Iterator[str | None]:
    if backend == "sqlite":
        yield None
        return
    with PostgresCluster(durable=True) as cluster:
        yield cluster.create_database("fleet")


def service_log(backend: str) -> Path:
    """The fleet service's log, kept after the run (a failed request is explained there)."""
    return Path(tempfile.gettempdir()) / f"ewp-bench-dashboard-{backend}.log"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(client: httpx.Client, paths: list[str]) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(REQUESTS):
        for path in paths:
            start = time.perf_counter()
            response = client.get(path)
            latencies[path].append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:200]}")
    return latencies


def run(backend: str) -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("EWP_BENCH_DIR")) as tmp:
        root = Path(tmp)
        with store(backend) as database_url:
            stack = start_fleet_stack(root / "fleet", serve=False, database_url=database_url)
            url = stack.settings.database_url
            try:
                started = time.monotonic()
                populate(url)
                setup_s = time.monotonic() - started
                service = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "ewp",
                        "fleet",
                        "serve",
                        "--config",
                        stack.settings_path,
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=service_log(backend).open("wb"),
                )
                try:
                    figure = measure_backend(backend, stack, setup_s)
                finally:
                    service.terminate()
                    service.wait(30)
            finally:
                stack.stop()
    report(figure)


def measure_backend(backend: str, stack: FleetStack, setup_s: float) -> Figure:
    base = f"http://127.0.0.1:{stack.settings.service.listen_port}"
    token = stack.admin_token
    with httpx.Client(base_url=base, timeout=60) as client:
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.get("/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the fleet service did not start")
            time.sleep(0.2)
        client.headers["authorization"] = f"Bearer {token}"
        client.post(
            "/api/v1/users", json={"username": ADMIN, "password": ADMIN_PASSWORD, "role": "admin"}
        ).raise_for_status()
        pages = httpx.Client(base_url=base, timeout=60)
        pages.post(
            "/api/v1/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD}
        ).raise_for_status()
        rng = random.Random(11)
        some = rng.sample(station_ids(), 3)
        api_paths = [
            "/api/v1/summary",
            "/api/v1/fleet/health",
            "/api/v1/stations?province=TH-10",
            "/api/v1/alerts?state=active",
            *(f"/api/v1/stations/{sid}" for sid in some),
            *(f"/api/v1/stations/{sid}/health" for sid in some),
            *(f"/api/v1/stations/{sid}/health/history" for sid in some),
        ]
        page_paths = ["/ui/", *(f"/ui/stations/{sid}" for sid in some)]
        writer = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.dashboard_api",
                "--write-heartbeats",
                str(stack.settings_path),
            ],
            stdout=subprocess.PIPE,
        )
        try:
            time.sleep(3)  # the writer is up and at its rate
            baseline = measure(client, ["/api/v1/health"])["/api/v1/health"]
            api = measure(client, api_paths)
            ui = measure(pages, page_paths)
        finally:
            writer.terminate()
            out, _ = writer.communicate(timeout=60)
        pages.close()
    ours = [v for values in api.values() for v in values]
    ui_all = [v for values in ui.values() for v in values]
    base_p99, api_p99, ui_p99 = (percentile(x, 99) for x in (baseline, ours, ui_all))
    extra: dict[str, float | int | str] = {
        "stations": STATIONS,
        "heartbeats_per_s_target": round(STATIONS / INTERVAL_S, 1),
        "setup_s": round(setup_s, 1),
        "api_median_ms": round(statistics.median(ours), 1),
        "dashboard_pages_p99_ms": round(ui_p99, 1),
        "dashboard_pages_median_ms": round(statistics.median(ui_all), 1),
        "meets_100ms_api": "yes" if api_p99 < TARGET_MS else "NO",
        "meets_100ms_pages": "yes" if ui_p99 < TARGET_MS else "NO",
    }
    if out:
        sent, failed, elapsed = out.decode().split()
        extra["heartbeats_per_s_achieved"] = round(int(sent) / float(elapsed), 1)
        extra["heartbeats_failed"] = int(failed)
    for path, values in {**api, **ui}.items():
        if "st-" in path and path != f"/ui/stations/{some[0]}" and some[0] not in path:
            continue  # one station's routes are enough in the table
        extra[f"p99_ms {path}"] = round(percentile(values, 99), 1)
    return Figure(
        name=f"dashboard API p99 with {STATIONS} stations heartbeating every 30 s ({backend})",
        ratio=base_p99 / api_p99,
        target="",
        ours=f"API p99 {api_p99:.1f} ms over {len(ours)} requests (target < {TARGET_MS:g} ms)",
        baseline=f"GET /api/v1/health p99 {base_p99:.1f} ms",
        extra=extra,
    )


def main() -> None:
    for backend in BACKENDS:
        run(backend)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-heartbeats":
        write_heartbeats(Path(sys.argv[2]))
    else:
        main()
