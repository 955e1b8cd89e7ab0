"""Recording station health with a fake clock: samples, the latest health, liveness from
heartbeats, the retained status and the missed-heartbeat timeout."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select

from fleet.store.models import Rejection, Station
from fleet.store.ops_models import HealthSample, StationLiveness
from protocol.messages import StationStatus
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import heartbeat


def liveness(rig: OpsRig, station_id: str) -> StationLiveness:
    with rig.sessions() as session:
        row = session.get(StationLiveness, station_id)
        assert row is not None
        return row


def is_online(rig: OpsRig, station_id: str) -> bool:
    with rig.sessions() as session:
        station = session.get(Station, station_id)
        assert station is not None
        return station.online


def test_each_heartbeat_is_a_sample_with_the_station_health(rig: OpsRig) -> None:
    sid = rig.station("ct-01")
    rig.heartbeat(
        heartbeat(
            sid,
            queue={"pending": 2, "sending": 1, "pending_bytes": 900, "oldest_pending_age_s": 60},
            disk={"free_bytes": 25, "total_bytes": 100},
            cpu_temperature_c=61.5,
            sensors=[{"kind": "fingerprint", "state": "error", "detail": "no answer"}],
            environment={
                "controller": "ok",
                "battery_v": 12.1,
                "temperature_c": 31.0,
                "humidity_pct": 70.0,
                "latitude": 13.75,
                "longitude": 100.5,
            },
        )
    )
    with rig.sessions() as session:
        sample = session.scalars(select(HealthSample)).one()
    assert (sample.queue_pending, sample.queue_pending_bytes) == (3, 900)
    assert (sample.disk_free_pct, sample.cpu_temperature_c, sample.battery_v) == (25.0, 61.5, 12.1)
    assert (sample.latitude, sample.longitude, sample.sensors_faulty) == (13.75, 100.5, 1)
    assert sample.at == rig.clock.now
    live = liveness(rig, sid)
    assert (live.state, live.heartbeat_interval_s) == ("online", 30.0)
    assert live.expected_by == rig.clock.now + timedelta(seconds=45)


def test_heartbeats_taken_together_are_each_a_sample_in_one_transaction(rig: OpsRig) -> None:
    """What a worker received at once, several stations interleaved, a malformed one, one for
    a revoked station and one naming another station among them."""
    for sid in ("ct-03", "ct-01", "ct-02"):
        rig.station(sid)
    rig.station("ct-09", state="revoked")
    items = [
        (sid, heartbeat(sid, seq=seq, uptime_s=10.0 * seq).to_payload())
        for seq in (1, 2, 3)
        for sid in ("ct-03", "ct-01", "ct-02")
    ]
    items += [
        ("ct-01", b"{not json"),
        ("ct-09", heartbeat("ct-09").to_payload()),
        ("ct-02", heartbeat("ct-03").to_payload()),
    ]
    commits: list[object] = []
    event.listen(rig.sessions.kw["bind"], "commit", commits.append)
    rig.ingest.handle_heartbeats(items)
    with rig.sessions() as session:
        samples = session.execute(
            select(HealthSample.station_id, func.count()).group_by(HealthSample.station_id)
        ).all()
        last = {sid: session.get(Station, sid) for sid in ("ct-01", "ct-02", "ct-03")}
        refused = sorted(r.reason for r in session.scalars(select(Rejection)))
    assert sorted(samples) == [("ct-01", 3), ("ct-02", 3), ("ct-03", 3)]
    assert all(
        s is not None and s.online and s.last_heartbeat and '"seq":3' in s.last_heartbeat
        for s in last.values()
    ), "the station rows keep each one's last heartbeat"
    assert refused == ["malformed-heartbeat", "station-mismatch"]
    assert rig.ingest.counters.heartbeats == 9
    # The heartbeats' one transaction (the refusals commit their records on their own).
    assert len(commits) <= 1 + len(refused)


def test_a_silently_hung_station_goes_offline_after_one_and_a_half_intervals(rig: OpsRig) -> None:
    sid = rig.station("ct-02")
    rig.heartbeat(heartbeat(sid, interval_s=20.0))
    assert is_online(rig, sid)
    rig.clock.advance(seconds=29)
    assert rig.ops.check_liveness() == []
    last_heard = rig.clock.now - timedelta(seconds=29)
    rig.clock.advance(seconds=2)  # 31 s > 1.5 x 20 s
    assert rig.ops.check_liveness() == [sid]
    live = liveness(rig, sid)
    assert (live.state, live.reason, live.since) == ("offline", "heartbeat-timeout", last_heard)
    assert not is_online(rig, sid)
    rig.heartbeat(heartbeat(sid, interval_s=20.0))  # it comes back
    assert liveness(rig, sid).state == "online" and is_online(rig, sid)


def test_interval_defaults_when_the_heartbeat_does_not_say(rig: OpsRig) -> None:
    sid = rig.station("ct-03")
    rig.heartbeat(heartbeat(sid, interval_s=None))
    assert liveness(rig, sid).heartbeat_interval_s == 30.0  # [health] default


def test_last_will_and_clean_shutdown_mark_offline_with_the_reason(rig: OpsRig) -> None:
    sid = rig.station("ct-04")
    rig.status(sid, "online")
    assert liveness(rig, sid).state == "online"
    rig.status(sid, "offline", "last will")
    live = liveness(rig, sid)
    assert (live.state, live.reason, live.expected_by) == ("offline", "last will", None)
    rig.status(sid, "online")
    # "online" but never a heartbeat: the timeout catches that too.
    rig.clock.advance(seconds=46)
    assert rig.ops.check_liveness() == [sid]


def test_a_retained_status_seen_again_changes_nothing(rig: OpsRig) -> None:
    sid = rig.station("ct-05")
    rig.heartbeat(heartbeat(sid))
    connected_at = rig.clock.now.isoformat().replace("+00:00", "Z")
    rig.clock.advance(minutes=5)
    rig.ops.check_liveness()  # hung: heartbeats stopped, the connection (and "online") stays
    since = liveness(rig, sid).since
    # The fleet restarts and receives the retained "online" from the old connection again.
    rig.ingest.handle_status(
        sid,
        StationStatus(station_id=sid, state="online", at=connected_at).to_payload(),
    )
    assert (liveness(rig, sid).state, liveness(rig, sid).since) == ("offline", since)
    assert not is_online(rig, sid)
    # A retained last will seen again keeps its time too.
    rig.status(sid, "offline", "last will")
    first = liveness(rig, sid).since
    rig.clock.advance(minutes=5)
    rig.status(sid, "offline", "last will")
    assert liveness(rig, sid).since == first
