"""Alerts raised once, cleared when the condition ends, acknowledged once, with their
notifications."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.alerts import raising
from fleet.store.models import AuditEntry
from fleet.store.ops_models import Alert
from tests.fleet.alerts.conftest import active, notifications
from tests.fleet.conftest import OpsRig, make_rig
from tests.fleet.ops_helpers import heartbeat


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


def test_acknowledge_is_audited_and_idempotent(rig: OpsRig) -> None:
    sid = rig.station("ct-06")
    rig.heartbeat(heartbeat(sid, cpu_temperature_c=90.0))
    (alert,) = rig.ops.evaluate_alerts().raised
    with rig.sessions() as session:
        for _ in range(2):
            acked = raising.acknowledge(
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
    with rig.sessions() as session, pytest.raises(raising.AlertNotFoundError):
        raising.acknowledge(
            session, 999, actor="x", note=None, now=rig.clock(), settings=rig.settings.alerts
        )


def test_disabled_rules_raise_nothing(tmp_path: Path, database_url: str) -> None:
    for rig in make_rig(tmp_path, database_url, '[alerts]\ndisabled = ["cpu-hot"]\n'):
        sid = rig.station("ct-07")
        rig.heartbeat(heartbeat(sid, cpu_temperature_c=99.0))
        assert not rig.ops.evaluate_alerts().raised
