"""What the uplink benchmarks share: a fleet serving, a station's backlog, its drain.

- ``fleet_serving``: the broker and a separate ``ewp fleet serve`` process (2 ingest workers,
  SQLite) that verifies, reassembles, stores each packet and publishes its receipt.
- ``fill_outbox``: sealed packets of about 100 KB (a two-finger enrolment: two images of
  50 KB of incompressible bytes, like compressed finger images) in a station's real outbox.
- ``drain``: the station's real uplink sends them until the fleet has acknowledged every one.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from edge.agent.autopilot import synthetic_application
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from edge.agent.settings import UplinkSettings
from edge.agent.uplink import LinkStats, Uplink
from ewp.local_fleet import FleetStack, start_fleet_stack
from protocol.envelope import utc_timestamp

PACKET_BYTES = 100 * 1024


@contextmanager
def fleet_serving(root: Path, workers: int = 2) -> Iterator[FleetStack]:
    """The broker and an ``ewp fleet serve`` process on it, answering; stopped on exit."""
    stack = start_fleet_stack(root, workers=workers, serve=False)
    fleet = subprocess.Popen(
        [sys.executable, "-m", "ewp", "fleet", "serve", "--config", str(stack.settings_path)],
        stdout=subprocess.DEVNULL,
        stderr=(root / "fleet.log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{stack.url}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield stack
    finally:
        fleet.terminate()
        fleet.wait(20)
        stack.stop()


def builder(identity: StationIdentity) -> PacketBuilder:
    return PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="bench",
    )


def random_enrolment(
    rng: random.Random, number: int, positions: Sequence[str], image_bytes: int, station: str
) -> Enrolment:
    """A synthetic applicant with one finger image of ``image_bytes`` random bytes (as
    incompressible as compressed images) at each of ``positions``."""
    records = [
        CapturedRecord.of(
            f"finger/{position}.png",
            rng.randbytes(image_bytes),
            modality="finger",
            kind="image",
            format="image/png",
            position=position,
        )
        for position in positions
    ]
    return Enrolment(
        application=synthetic_application(rng, number, station),
        operator_id="bench",
        captured_at=utc_timestamp(),
        records=records,
    )


def fill_outbox(outbox: Outbox, packets: PacketBuilder, count: int, seed: int = 3) -> int:
    """``count`` sealed two-finger enrolments in ``outbox``; their total size in bytes."""
    rng = random.Random(seed)
    total = 0
    for n in range(1, count + 1):
        enrolment = random_enrolment(
            rng, n, ("right-index", "left-index"), PACKET_BYTES // 2, "ct-01"
        )
        total += packets.save(outbox, enrolment).size
    return total


@dataclass
class Drained:
    seconds: float
    started_at: float  # time.monotonic() when the uplink started
    stats: LinkStats


def drain(
    identity: StationIdentity,
    outbox_path: Path,
    settings: UplinkSettings,
    count: int,
    *,
    timeout_s: float = 900,
) -> Drained:
    """Run the station's uplink on ``outbox_path`` until the fleet has acknowledged all
    ``count`` packets (the outbox has none waiting)."""
    stop = threading.Event()
    done = threading.Event()
    result: list[Drained] = []

    def run() -> None:
        outbox = Outbox(outbox_path, quota_bytes=10**10, min_free_bytes=0)
        health = HealthReporter(
            station_id=identity.station_id,
            outbox=outbox,
            data_dir=outbox_path.parent,
            software_version="bench",
            sensors=SensorBoard(),
        )
        uplink = Uplink(
            settings, identity, outbox, heartbeat=health.heartbeat, software_version="bench"
        )
        started_at = time.monotonic()
        start = time.perf_counter()
        while not stop.is_set():
            uplink.step()
            if uplink.stats.receipts >= count and outbox.stats().waiting == 0:
                result.append(Drained(time.perf_counter() - start, started_at, uplink.stats))
                done.set()
                break
        uplink.shutdown()
        outbox.close()

    thread = threading.Thread(target=run)
    thread.start()
    if not done.wait(timeout_s):
        stop.set()
        thread.join()
        raise RuntimeError(f"the backlog did not drain within {timeout_s:.0f} s")
    thread.join()
    return result[0]
