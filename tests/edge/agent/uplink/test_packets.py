"""Packet sending against a real broker and the real fleet ingest: every packet arrives once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Packet, Station
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink


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
