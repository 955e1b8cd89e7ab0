"""The demo's stations: who they are, where they work, their agent's configuration, and what
their outboxes say they created."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.identity import StationIdentity
from ewp.demo.options import DemoOptions
from protocol.reference_data import provinces
from simulators.network import FaultyLink

SENSOR_TIMEOUT_S = 20.0
# While the dashboard is held after the summary, each station enrols someone about this often
# (48 stations: one enrolment every few seconds across the fleet), so the first look is a live
# fleet, not 48 stations gone offline.
LIVE_ENROLMENT_INTERVAL_S = 150.0
# Where the demo's vans work: border provinces where migrant workers cross (ISO 3166-2:TH).
MOBILE_PROVINCES = ("TH-63", "TH-57", "TH-27", "TH-85", "TH-71", "TH-43", "TH-49", "TH-90")


@dataclass
class Station:
    station_id: str
    kind: str
    data_dir: Path
    config: Path
    link: FaultyLink | None = None
    process: subprocess.Popen[bytes] | None = None
    broker_url: str = ""


def set_links(stations: Iterable[Station], *, up: bool) -> None:
    """Restore (``up``) or cut the links of those ``stations`` that reach the broker through
    one (the vans: cut, they are out of coverage)."""
    for station in stations:
        if station.link is None:
            continue
        if up:
            station.link.restore()
        else:
            station.link.cut()


def station_name(n: int, mobile_units: int) -> tuple[str, str]:
    """The id and kind of the demo's ``n``-th station (0-based): the vans come first."""
    if n < mobile_units:
        return f"mu-{n + 1:02d}", "mobile"
    return f"ct-{n + 1 - mobile_units:02d}", "center"


def demo_province(n: int, mobile: bool) -> str:
    """Vans on the borders; centres spread over the country (29 is prime to 77: no repeats)."""
    if mobile:
        return MOBILE_PROVINCES[n % len(MOBILE_PROVINCES)]
    codes = sorted(provinces())
    return codes[(n * 29) % len(codes)]


def agent_config(
    options: DemoOptions,
    station: Station,
    sensor_url: str,
    iris_url: str | None,
    *,
    live: bool = False,
) -> str:
    """The station's `agent.toml`: its devices, its broker, and an autopilot that enrols
    ``options.enrolments_per_station`` applicants (``live``: one now and then, until stopped)."""
    fingers = ", ".join(f'"{f}"' for f in options.fingers)
    interval = LIVE_ENROLMENT_INTERVAL_S if live else options.enrolment_interval_s
    eyes = ", ".join(f'"{e}"' for e in options.eyes)
    # The simulated sensors of the whole fleet share this machine's cores: with dozens of
    # stations they answer more slowly than a real module (under a second), so give them
    # SENSOR_TIMEOUT_S instead of the driver's 2 s before a command counts as unanswered.
    timeout = f"timeout_s = {SENSOR_TIMEOUT_S:g}"
    iris = [] if iris_url is None else ["[sensors.iris]", f'port = "{iris_url}"', timeout]
    return "\n".join(
        [
            "[station]",
            f'data_dir = "{station.data_dir}"',
            'operator_id = "demo-operator"',
            "[sensors.fingerprint]",
            f'port = "{sensor_url}"',
            timeout,
            *iris,
            "[uplink]",
            f'broker_url = "{station.broker_url}"',
            "heartbeat_interval_s = 5",
            "receipt_timeout_s = 20",
            "reconnect_max_s = 5",
            "[capture]",
            f"fingers = [{fingers}]",
            f"eyes = [{eyes}]",
            "[autopilot]",
            "enabled = true",
            # Live: no count, so enrolments go on until the agent is stopped.
            *([] if live else [f"enrolments = {options.enrolments_per_station}"]),
            f"interval_s = {interval:g}",
            f"seed = {options.seed}",
            "",
        ]
    )


def outbox_counts(data_dirs: Iterable[Path]) -> tuple[int, int]:
    """Packets created and packets acknowledged, over the stations' outboxes (read-only; an
    outbox not there yet or busy counts nothing this time)."""
    created = acked = 0
    for data_dir in data_dirs:
        path = data_dir / "outbox.sqlite"
        if not path.exists():
            continue
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
            ) as db:
                for state, count in db.execute(
                    "SELECT state, COUNT(*) FROM packets GROUP BY state"
                ):
                    created += count
                    if state in ("acked", "purged"):
                        acked += count
        except sqlite3.Error:
            continue
    return created, acked


def created_packets(data_dir: Path) -> dict[str, str]:
    """Every packet the station's outbox holds: packet id -> SHA-256 of its envelope."""
    with contextlib.closing(sqlite3.connect(data_dir / "outbox.sqlite")) as db:
        return dict(db.execute("SELECT packet_id, sha256 FROM packets").fetchall())


def station_public_key(data_dir: Path) -> ed25519.Ed25519PublicKey:
    """The key the station registered (read from its own identity, as a cross-check)."""
    return StationIdentity.load(data_dir / "identity").signing_key.public_key()
