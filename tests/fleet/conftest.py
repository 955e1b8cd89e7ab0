"""Fixtures for fleet operations: a migrated store, a fake clock, FleetOps fed by Ingest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from fleet.ingest import Ingest
from fleet.ops import FleetOps
from fleet.packet_files import PacketFiles
from fleet.settings import FleetSettings
from fleet.store.db import make_engine, migrate, session_factory
from protocol.messages import Heartbeat, StationEvent, StationStatus
from tests.fleet.ops_helpers import CENTRAL, FakeClock, add_station, fleet_settings


@dataclass
class OpsRig:
    sessions: sessionmaker[Session]
    clock: FakeClock
    settings: FleetSettings
    ops: FleetOps
    ingest: Ingest

    def station(self, station_id: str, **kwargs: str) -> str:
        add_station(self.sessions, station_id, **kwargs)
        return station_id

    def heartbeat(self, hb: Heartbeat) -> None:
        self.ingest.handle_heartbeat(hb.station_id, hb.to_payload())

    def status(self, station_id: str, state: str, reason: str | None = None) -> None:
        message = StationStatus.model_validate(
            {"station_id": station_id, "state": state, "reason": reason}
        )
        self.ingest.handle_status(station_id, message.to_payload())

    def event(self, station_id: str, kind: str, severity: str = "error") -> None:
        message = StationEvent.model_validate(
            {"station_id": station_id, "at": "2026-11-23T03:00:00.000Z", "kind": kind,
             "severity": severity}
        )  # fmt: skip
        self.ingest.handle_event(station_id, message.to_payload())


def make_rig(tmp_path: Path, database_url: str, extra_settings: str = "") -> Iterator[OpsRig]:
    engine = make_engine(database_url)
    migrate(engine)
    sessions = session_factory(engine)
    clock = FakeClock()
    settings = fleet_settings(tmp_path, extra_settings, database_url)
    ops = FleetOps(sessions, settings, clock=clock)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    ingest.ops = ops
    try:
        yield OpsRig(sessions, clock, settings, ops, ingest)
    finally:
        ops.close()
        engine.dispose()


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> Iterator[OpsRig]:
    """On SQLite and on PostgreSQL (``database_url`` is parametrised)."""
    yield from make_rig(tmp_path, database_url)
