"""Health rollups and retention with a fake clock, and the history read from them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from fleet.health import history
from fleet.store.ops_models import HealthRollup, HealthSample
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import heartbeat


def test_rollups_downsample_and_retention_deletes_old_rows(rig: OpsRig) -> None:
    sid = rig.station("mu-01", kind="mobile")
    start = rig.clock.now
    for i in range(240):  # two hours, every 30 s
        rig.heartbeat(
            heartbeat(
                sid,
                queue={"pending": i % 10},
                cpu_temperature_c=40.0 + (i % 20),
                environment={"controller": "ok", "latitude": 13.0 + i / 1000, "longitude": 100.0},
            )
        )
        rig.clock.advance(seconds=30)
    rig.clock.advance(minutes=5)
    assert rig.ops.roll_up() > 0
    with rig.sessions() as session:
        fives = session.scalars(select(HealthRollup).where(HealthRollup.resolution_s == 300)).all()
        hours = session.scalars(select(HealthRollup).where(HealthRollup.resolution_s == 3600)).all()
    assert len(fives) == 24 and all(r.samples == 10 for r in fives)
    assert len(hours) == 2 and [r.samples for r in hours] == [120, 120]
    assert fives[0].queue_pending_max == 9 and fives[0].cpu_temperature_max_c == 49.0
    assert hours[1].latitude == 13.239  # the hour's last position
    assert rig.ops.roll_up() == 0, "idempotent: nothing new to fold"

    with rig.sessions() as session:
        auto = history.choose_resolution(start, start + timedelta(hours=3))
        raw = history.history(
            session, sid, since=start, until=start + timedelta(hours=3), resolution=auto
        )
        by_5m = history.history(
            session, sid, since=start, until=start + timedelta(days=2), resolution="5m"
        )
    assert auto == "raw" and len(raw) == 240
    assert len(by_5m) == 24
    assert history.choose_resolution(start, start + timedelta(days=3)) == "5m"
    assert history.choose_resolution(start, start + timedelta(days=60)) == "1h"

    rig.clock.advance(days=8)  # raw samples are kept 7 days, rollups longer
    assert rig.ops.apply_retention() == 240
    with rig.sessions() as session:
        assert session.scalar(select(func.count()).select_from(HealthSample)) == 0
        assert session.scalar(select(func.count()).select_from(HealthRollup)) == 26
    rig.clock.advance(days=90)
    rig.ops.apply_retention()
    with rig.sessions() as session:
        left = session.scalars(select(HealthRollup.resolution_s)).all()
    assert left == [3600, 3600]
