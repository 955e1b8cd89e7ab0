"""Alert rules with a fake clock: raise once, de-duplicate, clear, acknowledge, service hours."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from fleet import alerts
from fleet.ops_settings import ServiceHours
from fleet.store.models import AuditEntry
from fleet.store.ops_models import Alert, AlertNotification
from tests.fleet.conftest import OpsRig, make_rig
from tests.fleet.ops_helpers import heartbeat

WEBHOOK = """
[alerts]
offline_minutes = 15
[alerts.webhook]
url = "http://127.0.0.1:9/alerts"
"""


@pytest.fixture
def rig(tmp_path: Path, database_url: str) -> Iterator[OpsRig]:
    yield from make_rig(tmp_path, database_url, WEBHOOK)


def active(rig: OpsRig) -> list[tuple[str, str]]:
    with rig.sessions() as session:
        rows = session.scalars(select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id))
        return [(a.rule, a.station_id) for a in rows]


def notifications(rig: OpsRig) -> list[tuple[str, str]]:
    with rig.sessions() as session:
        rows = session.scalars(select(AlertNotification).order_by(AlertNotification.id)).all()
        return [(n.event, json.loads(n.payload)["alert"]["rule"]) for n in rows]


def test_offline_raises_once_after_n_minutes_and_clears_when_back(rig: OpsRig) -> None:
    sid = rig.station("ct-01")
    rig.heartbeat(heartbeat(sid))
    rig.clock.advance(seconds=46)
    rig.ops.check_liveness()
    rig.ops.evaluate_alerts()
    assert active(rig) == [], "offline, but not for 15 minutes yet"
    rig.clock.advance(minutes=15)
    changes = rig.ops.evaluate_alerts()
    assert [a.rule for a in changes.raised] == ["station-offline"]
    for _ in range(3):  # seen again and again: still one alert, one notification
        rig.clock.advance(minutes=1)
        assert not rig.ops.evaluate_alerts().raised
    assert active(rig) == [("station-offline", sid)]
    assert notifications(rig) == [("raised", "station-offline")]
    rig.heartbeat(heartbeat(sid))
    changes = rig.ops.evaluate_alerts()
    assert [a.rule for a in changes.cleared] == ["station-offline"]
    assert active(rig) == []
    assert notifications(rig) == [("raised", "station-offline"), ("cleared", "station-offline")]
    # A new outage is a new alert.
    rig.status(sid, "offline", "last will")
    rig.clock.advance(minutes=16)
    assert [a.rule for a in rig.ops.evaluate_alerts().raised] == ["station-offline"]
    with rig.sessions() as session:
        assert len(session.scalars(select(Alert)).all()) == 2


def test_offline_counts_only_service_hours_in_bangkok(rig: OpsRig) -> None:
    sid = rig.station("mu-02", kind="mobile")
    # Saturday 17:55 Bangkok: the van goes off for the weekend (service Mon-Sat 08:00-18:00).
    rig.clock.now = datetime(2026, 11, 28, 10, 55, tzinfo=UTC)
    rig.status(sid, "offline", "last will")
    rig.clock.advance(hours=2)
    assert not rig.ops.evaluate_alerts().raised  # 5 service minutes on Saturday
    rig.clock.now = datetime(2026, 11, 30, 1, 9, tzinfo=UTC)  # Monday 08:09
    assert not rig.ops.evaluate_alerts().raised  # 5 + 9 minutes
    rig.clock.advance(minutes=2)  # Monday 08:11: 16 service minutes
    assert [a.rule for a in rig.ops.evaluate_alerts().raised] == ["station-offline"]


def test_service_hours_arithmetic() -> None:
    hours = ServiceHours(start="08:00", end="18:00", days=["mon", "tue", "wed", "thu", "fri"])
    friday_17 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # Friday 17:00 Bangkok
    monday_9 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # Monday 09:00 Bangkok
    assert alerts.service_seconds(friday_17, monday_9, hours) == 2 * 3600
    assert alerts.in_service_hours(friday_17, hours)
    assert not alerts.in_service_hours(friday_17 + timedelta(hours=1), hours)
    assert not alerts.in_service_hours(datetime(2026, 11, 29, 3, tzinfo=UTC), hours)  # Sunday


def test_threshold_rules_raise_and_clear(rig: OpsRig) -> None:
    sid = rig.station("ct-03")
    rig.heartbeat(
        heartbeat(
            sid,
            disk={"free_bytes": 5, "total_bytes": 100},
            cpu_temperature_c=81.0,
            queue={"pending": 4, "oldest_pending_age_s": 23 * 3600.0},
        )
    )
    rig.ops.evaluate_alerts()
    assert sorted(active(rig)) == [("cpu-hot", sid), ("disk-full", sid)]
    rig.clock.advance(hours=1, seconds=1)  # the waiting packet keeps ageing between heartbeats
    rig.ops.evaluate_alerts()
    assert ("backlog-old", sid) in active(rig)
    rig.heartbeat(heartbeat(sid))  # all healthy again
    rig.ops.evaluate_alerts()
    assert active(rig) == []


def test_sensor_fault_from_the_heartbeat_or_an_event(rig: OpsRig) -> None:
    sid = rig.station("ct-04")
    rig.heartbeat(heartbeat(sid))
    rig.clock.advance(seconds=5)
    rig.event(sid, "sensor-fault")  # raised at once, not at the next evaluation
    assert active(rig) == [("sensor-fault", sid)]
    rig.clock.advance(seconds=25)
    rig.heartbeat(heartbeat(sid, sensors=[{"kind": "fingerprint", "state": "missing"}]))
    rig.ops.evaluate_alerts()
    assert active(rig) == [("sensor-fault", sid)]
    rig.clock.advance(seconds=30)
    rig.heartbeat(heartbeat(sid))  # plugged back in
    rig.ops.evaluate_alerts()
    assert active(rig) == []


def test_tamper_is_raised_audited_and_cleared_by_the_clear_event(rig: OpsRig) -> None:
    sid = rig.station("mu-05", kind="mobile")
    env = {"controller": "ok", "tamper_latched": False}
    rig.heartbeat(heartbeat(sid, environment=env))
    rig.clock.advance(seconds=2)
    rig.event(sid, "tamper", "critical")
    assert active(rig) == [("tamper", sid)]
    rig.clock.advance(seconds=28)
    rig.heartbeat(heartbeat(sid, environment={**env, "tamper_latched": True}))
    rig.ops.evaluate_alerts()
    assert active(rig) == [("tamper", sid)]
    rig.clock.advance(seconds=10)
    rig.event(sid, "tamper-cleared", "info")
    rig.heartbeat(heartbeat(sid, environment=env))
    rig.ops.evaluate_alerts()
    assert active(rig) == []
    with rig.sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry))]
    assert "alert.raise.tamper" in actions


def test_acknowledge_is_audited_and_idempotent(rig: OpsRig) -> None:
    sid = rig.station("ct-06")
    rig.heartbeat(heartbeat(sid, cpu_temperature_c=90.0))
    (alert,) = rig.ops.evaluate_alerts().raised
    with rig.sessions() as session:
        for _ in range(2):
            acked = alerts.acknowledge(
                session,
                alert.id,
                actor="op-somchai",
                note="fan replaced tomorrow",
                now=rig.clock(),
                settings=rig.settings.alerts,
            )
            session.commit()
        assert acked.acknowledged_by == "op-somchai"
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert.acknowledge")
        ).all()
    assert len(entries) == 1 and entries[0].actor == "op-somchai"
    assert notifications(rig)[-1] == ("acknowledged", "cpu-hot")
    with rig.sessions() as session, pytest.raises(alerts.AlertNotFoundError):
        alerts.acknowledge(
            session, 999, actor="x", note=None, now=rig.clock(), settings=rig.settings.alerts
        )


def test_disabled_rules_raise_nothing(tmp_path: Path, database_url: str) -> None:
    for rig in make_rig(tmp_path, database_url, '[alerts]\ndisabled = ["cpu-hot"]\n'):
        sid = rig.station("ct-07")
        rig.heartbeat(heartbeat(sid, cpu_temperature_c=99.0))
        assert not rig.ops.evaluate_alerts().raised


def test_revoked_and_unseen_stations_raise_nothing(rig: OpsRig) -> None:
    rig.station("ct-08", state="revoked")
    rig.station("ct-09", state="awaiting_claim")
    rig.clock.advance(days=2)
    assert not rig.ops.evaluate_alerts().raised


def test_the_first_pass_picks_every_station_a_rule_would_pick(rig: OpsRig) -> None:
    """Evaluating the whole fleet reads in full only the stations the typed latest health
    picks: for stations around each threshold in turn (healthy otherwise), it finds exactly
    what evaluating each station on its own (no first pass) finds."""
    rng = random.Random(12)
    settings = rig.settings.alerts
    healthy: dict[str, Any] = {
        "disk": {"free_bytes": 500, "total_bytes": 1000},
        "cpu_temperature_c": 40.0,
        "queue": {"pending": 1, "pending_bytes": 10, "oldest_pending_age_s": 60.0},
        "sensors": [{"kind": "fingerprint", "state": "ok"}],
        "environment": {"controller": "ok", "external_power": True, "tamper_latched": False},
    }
    aspects = ["disk", "cpu", "backlog", "sensor", "tamper", "offline", "event", "healthy"]
    elapsed = 20 + 60 * (settings.offline_minutes + 1)
    stations = [f"ct-{n:02d}" for n in range(64)]
    for n, sid in enumerate(stations):
        rig.station(sid)
        aspect, near = aspects[n % len(aspects)], [-1.0, 0.0, 0.01, 1.0][(n // 8) % 4]
        changes = dict(healthy)
        if aspect == "disk":
            used = settings.disk_used_pct + near
            changes["disk"] = {"free_bytes": round(1000 * (100 - used)), "total_bytes": 100_000}
        elif aspect == "cpu":
            changes["cpu_temperature_c"] = settings.cpu_temperature_c + near
        elif aspect == "backlog":
            # Aged by the time of the evaluation (the clock moves on below).
            age = settings.backlog_hours * 3600 - elapsed + 60 * near
            changes["queue"] = {"pending": 1, "pending_bytes": 10, "oldest_pending_age_s": age}
        elif aspect == "sensor" and near > 0:
            changes["sensors"] = [{"kind": "iris", "state": rng.choice(["missing", "error"])}]
        elif aspect == "tamper" and near > 0:
            changes["environment"] = {"controller": "ok", "tamper_latched": True}
        rig.heartbeat(heartbeat(sid, **changes))
        if aspect == "event" and near > 0:
            rig.event(sid, rng.choice(["sensor-fault", "tamper"]))
    rig.clock.advance(seconds=20)
    for n, sid in enumerate(stations):
        if aspects[n % len(aspects)] == "offline" and n % 16 < 8:
            rig.status(sid, "offline", "last will")
    rig.clock.advance(seconds=elapsed - 20)
    rules = alerts.RULE_FUNCTIONS.values()
    with rig.sessions() as session:
        together = alerts.gather(session, now=rig.clock(), settings=settings)
        found = {(c.rule, c.station_id, c.summary) for rule in rules for c in rule(together)}
        alone = set()
        for sid in stations:
            inputs = alerts.gather(session, now=rig.clock(), settings=settings, station_id=sid)
            alone |= {(c.rule, c.station_id, c.summary) for rule in rules for c in rule(inputs)}
    assert len(together.stations) < len(stations), "healthy stations are not read in full"
    assert {rule for rule, _, _ in alone} == {
        "disk-full", "cpu-hot", "backlog-old", "sensor-fault", "tamper", "station-offline"
    }  # fmt: skip
    assert found == alone
