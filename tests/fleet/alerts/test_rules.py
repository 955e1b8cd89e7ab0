"""The alert rules over the stations' health, evaluated with a fake clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from fleet.alerts import rules
from fleet.store.models import AuditEntry
from tests.fleet.alerts.conftest import active
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import heartbeat


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
    each_rule = rules.RULE_FUNCTIONS.values()
    with rig.sessions() as session:
        together = rules.gather(session, now=rig.clock(), settings=settings)
        found = {(c.rule, c.station_id, c.summary) for r in each_rule for c in r(together)}
        alone = set()
        for sid in stations:
            inputs = rules.gather(session, now=rig.clock(), settings=settings, station_id=sid)
            alone |= {(c.rule, c.station_id, c.summary) for r in each_rule for c in r(inputs)}
    assert len(together.stations) < len(stations), "healthy stations are not read in full"
    assert {rule for rule, _, _ in alone} == {
        "disk-full", "cpu-hot", "backlog-old", "sensor-fault", "tamper", "station-offline"
    }  # fmt: skip
    assert found == alone
