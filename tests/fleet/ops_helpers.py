"""Helpers for fleet operations tests: a fake clock, a migrated store, stations, heartbeats."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from fleet.settings import FleetSettings
from fleet.store.models import Station
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPrivateKey
from protocol.messages import Heartbeat

# The central key test packets are sealed to (ingest accepts it).
CENTRAL = CentralPrivateKey.generate("X25519")

# A Monday, 10:00 in Bangkok (03:00 UTC): within default service hours.
MONDAY_10_BANGKOK = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, start: datetime = MONDAY_10_BANGKOK) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def fleet_settings(
    tmp_path: Path, extra: str = "", database_url: str | None = None
) -> FleetSettings:
    """Settings good enough for FleetOps (no secrets are read); SQLite in ``tmp_path`` unless
    ``database_url`` names another store."""
    database = f'database_url = "{database_url}"' if database_url else ""
    text = f"""
[service]
data_dir = "{tmp_path / "fleet"}"
{database}
admin_token = {{ env = "UNUSED_ADMIN_TOKEN" }}
[broker]
admin_password = {{ env = "UNUSED_1" }}
service_password = {{ env = "UNUSED_2" }}
[central]
public_key_file = "{tmp_path / "central.pub"}"
{extra}
"""
    return FleetSettings.model_validate(tomllib.loads(text))


def add_station(
    sessions: sessionmaker[Session], station_id: str, *, kind: str = "center", state: str = "active"
) -> None:
    with sessions() as session:
        session.add(Station(station_id=station_id, name=station_id, kind=kind, state=state))
        session.commit()


def heartbeat(station_id: str, **changes: Any) -> Heartbeat:
    """A healthy heartbeat; ``changes`` override fields (nested dicts merge)."""
    base: dict[str, Any] = {
        "station_id": station_id,
        "at": utc_timestamp(),
        "seq": 1,
        "uptime_s": 10.0,
        "software_version": "test",
        "queue": {
            "pending": 0,
            "sending": 0,
            "acked": 3,
            "pending_bytes": 0,
            "oldest_pending_age_s": None,
            "created_total": 3,
            "last_seq": 3,
        },
        "disk": {"free_bytes": 60, "total_bytes": 100},
        "sensors": [{"kind": "fingerprint", "state": "ok"}],
        "cpu_temperature_c": 50.0,
        "interval_s": 30.0,
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return Heartbeat.model_validate(base)
