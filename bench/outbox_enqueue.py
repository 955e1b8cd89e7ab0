"""Enqueue of a 300 KB enrolment packet vs a raw fsync'd SQLite insert of the same bytes.

Ours: build the archive, seal it (HPKE, ML-KEM-768 + X25519, ChaCha20-Poly1305), sign it
(Ed25519) and commit it durably to the outbox (SQLite WAL, synchronous=FULL).
Baseline: INSERT of a blob of the same size into a WAL database with synchronous=FULL, one
commit each. Ratio = baseline time / our time per packet (target >= 0.7).
"""

from __future__ import annotations

import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Figure, report
from bench.station_backlog import random_enrolment
from bench.station_side import bench_builder
from edge.agent.captured import Enrolment
from edge.agent.outbox import Outbox

PACKET_BYTES = 300 * 1024
ROUNDS = 60


def _enrolment(rng: random.Random, number: int) -> Enrolment:
    # Ten images of ~30 KB each: compressed finger images do not compress further.
    positions = [f"f{n}" for n in range(10)]
    return random_enrolment(rng, number, positions, PACKET_BYTES // 10, "mu-01")


def _baseline(directory: Path, size: int, rounds: int) -> list[float]:
    db = sqlite3.connect(directory / "raw.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
    times = []
    for _ in range(rounds):
        blob = os.urandom(size)
        start = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO t (data) VALUES (?)", (blob,))
        db.execute("COMMIT")
        times.append(time.perf_counter() - start)
    db.close()
    return times


def _ours(directory: Path, rounds: int) -> tuple[list[float], int]:
    builder = bench_builder("mu-01")
    rng = random.Random(1)
    times = []
    size = 0
    with Outbox(directory / "outbox.sqlite", quota_bytes=10**10, min_free_bytes=0) as outbox:
        for n in range(1, rounds + 1):
            enrolment = _enrolment(rng, n)  # captured data exists before "save" is pressed
            start = time.perf_counter()
            entry = builder.save(outbox, enrolment)
            times.append(time.perf_counter() - start)
            size = entry.size
    return times, size


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.environ.get("EWP_BENCH_DIR")) as tmp:
        directory = Path(tmp)
        (directory / "warm").mkdir()
        _ours(directory / "warm", 3)  # warm-up: imports, key parsing, page cache
        ours, size = _ours(directory, ROUNDS)
        base = _baseline(directory, size, ROUNDS)
    ours_ms, base_ms = statistics.median(ours) * 1000, statistics.median(base) * 1000
    report(
        Figure(
            name="outbox enqueue of a 300 KB packet (build + seal + sign + durable commit)",
            ratio=base_ms / ours_ms,
            target=">= 0.7",
            ours=f"{ours_ms:.2f} ms per packet (median of {ROUNDS}), envelope {size / 1024:.0f} KB",
            baseline=f"{base_ms:.2f} ms per raw fsync'd SQLite insert of the same size",
            extra={
                "ours_p90_ms": round(sorted(ours)[int(ROUNDS * 0.9)] * 1000, 2),
                "baseline_p90_ms": round(sorted(base)[int(ROUNDS * 0.9)] * 1000, 2),
            },
        )
    )


if __name__ == "__main__":
    main()
