"""The station's MQTT session against a real broker: online while connected, offline after."""

from __future__ import annotations

from pathlib import Path

from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Station
from tests.edge.agent.uplink.link import running_uplink


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
