"""Heartbeats, events and periodic reports: queued from any thread, sent while connected."""

from __future__ import annotations

import time
from pathlib import Path

from edge.agent.uplink import Outbound, PeriodicMessage
from ewp.local_fleet import FleetStack, wait_until
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.messages import Heartbeat, StationEvent, parse_message
from protocol.ops_messages import ConfigApplied
from tests.edge.agent.uplink.link import fleet_side, running_uplink


def test_outbound_keeps_the_newest_hundred_of_each_and_gives_events_first() -> None:
    outbound = Outbound("ct-32")
    applied = ConfigApplied.model_validate(
        {
            "station_id": "ct-32",
            "version": 1,
            "sha256": "0" * 64,
            "status": "applied",
            "applied_at": utc_timestamp(),
        }
    )
    for n in range(150):
        outbound.send(topics.CONFIG_APPLIED, applied)
        outbound.report_event("counted", n=n)
    taken = outbound.take()
    assert len(taken) == 200
    events = [message for spec, message in taken[:100] if spec is topics.EVENTS]
    assert [e.detail["n"] for e in events if isinstance(e, StationEvent)] == list(range(50, 150))
    assert all(spec is topics.CONFIG_APPLIED for spec, _ in taken[100:])
    assert outbound.take() == []


def test_events_periodic_messages_and_heartbeats_reach_the_fleet(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    identity = fleet_stack.provision_station("ct-33", tmp_path / "st")
    built: list[float] = []

    def build() -> StationEvent:
        built.append(time.monotonic())
        return StationEvent.model_validate(
            {"station_id": "ct-33", "at": utc_timestamp(), "kind": "periodic", "detail": {}}
        )

    periodic = [PeriodicMessage(topics.EVENTS, 3600.0, build)]
    listened = (topics.EVENTS.for_station("ct-33"), topics.HEARTBEAT.for_station("ct-33"))
    with (
        fleet_side(fleet_stack, *listened) as (_, received),
        running_uplink(identity, tmp_path / "st" / "outbox.sqlite", periodic=periodic) as up,
    ):
        up.outbound.report_event("queued-before-connect", "warning", detail="kept")
        wait_until(lambda: up.stats.connected, message="station connected")
        connected_at = time.monotonic()
        wait_until(lambda: len(built) == 1, message="periodic message soon after connect")
        assert built[0] - connected_at < 5.0
        wait_until(
            lambda: sum(m.topic.endswith("/heartbeat") for m in received) >= 2,
            message="heartbeats every second",
        )
    events = [
        parse_message(StationEvent, m.payload) for m in received if m.topic.endswith("/events")
    ]
    assert sorted(e.kind for e in events) == ["periodic", "queued-before-connect"]
    queued = next(e for e in events if e.kind == "queued-before-connect")
    assert queued.severity == "warning" and queued.detail == {"detail": "kept"}
    heartbeat = next(m for m in received if m.topic.endswith("/heartbeat"))
    assert parse_message(Heartbeat, heartbeat.payload).station_id == "ct-33"
    assert len(built) == 1, "the next one is due in an hour"
