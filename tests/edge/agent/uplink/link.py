"""A station's uplink running in a thread against the test fleet, for tests across the tree."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from edge.agent.settings import UplinkSettings
from edge.agent.uplink import FleetHandlers, Uplink
from ewp.local_fleet import wait_until


def builder_for(identity: StationIdentity) -> PacketBuilder:
    return PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="test",
    )


@contextmanager
def running_uplink(
    identity: StationIdentity,
    outbox_path: Path,
    *,
    handlers: FleetHandlers | None = None,
    **overrides: object,
) -> Iterator[Uplink]:
    settings = UplinkSettings.model_validate(
        {
            "heartbeat_interval_s": 1,
            "receipt_timeout_s": 5,
            "reconnect_max_s": 2,
            "chunk_size": 16384,
            **overrides,
        }
    )
    stop = threading.Event()
    holder: list[Uplink] = []

    def run() -> None:
        outbox = Outbox(outbox_path, min_free_bytes=0)
        health = HealthReporter(
            station_id=identity.station_id,
            outbox=outbox,
            data_dir=outbox_path.parent,
            software_version="test",
            sensors=SensorBoard(),
        )
        uplink = Uplink(
            settings,
            identity,
            outbox,
            heartbeat=health.heartbeat,
            software_version="test",
            handlers=handlers,
        )
        holder.append(uplink)
        uplink.run(stop)
        outbox.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: holder, message="uplink start")
    try:
        yield holder[0]
    finally:
        stop.set()
        thread.join(timeout=10)
