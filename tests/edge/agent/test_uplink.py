"""Uplink against a real broker and the real fleet ingest: every packet arrives once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select

from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from edge.agent.settings import UplinkSettings
from edge.agent.uplink import Uplink
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Packet, Station
from tests.edge.agent.helpers import make_enrolment


def builder_for(identity: StationIdentity) -> PacketBuilder:
    return PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="test",
    )


@contextmanager
def running_uplink(
    identity: StationIdentity, outbox_path: Path, **overrides: object
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
            settings, identity, outbox, heartbeat=health.heartbeat, software_version="test"
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


def test_packets_arrive_once_with_matching_hash(fleet_stack: FleetStack, tmp_path: Path) -> None:
    identity = fleet_stack.provision_station("ct-01", tmp_path / "st")
    outbox_path = tmp_path / "st" / "outbox.sqlite"
    builder = builder_for(identity)
    with Outbox(outbox_path, min_free_bytes=0) as outbox:
        saved = {builder.save(outbox, make_enrolment(n)).packet_id: None for n in range(1, 6)}
        with running_uplink(identity, outbox_path):
            wait_until(lambda: outbox.stats().acked == 5, message="5 receipts")
        hashes = {e.packet_id: e.sha256 for e in outbox.entries()}
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        stored = {p.packet_id: p.sha256 for p in session.scalars(select(Packet))}
        station = session.get(Station, "ct-01")
        assert station is not None and station.last_heartbeat is not None
    assert stored == hashes
    assert set(stored) == set(saved)


def test_station_goes_offline_cleanly(fleet_stack: FleetStack, tmp_path: Path) -> None:
    identity = fleet_stack.provision_station("ct-02", tmp_path / "st")
    assert fleet_stack.context is not None

    def online() -> bool:
        assert fleet_stack.context is not None
        with fleet_stack.context.sessions() as session:
            station = session.get(Station, "ct-02")
            return bool(station and station.online)

    with running_uplink(identity, tmp_path / "st" / "outbox.sqlite"):
        wait_until(online, message="station online")
    wait_until(lambda: not online(), message="station offline")
