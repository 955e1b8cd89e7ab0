"""Health routes: the latest per station, a station's history, fleet-wide aggregates."""

from __future__ import annotations

from pathlib import Path

from tests.fleet.api_helpers import api_rig
from tests.fleet.ops_helpers import heartbeat


def test_latest_history_and_fleet_view(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        for sid in ("ct-01", "ct-02", "mu-01", "ct-09"):
            rig.station(sid, kind="mobile" if sid.startswith("mu") else "center")
        rig.station("ct-99", state="revoked")
        env = {"controller": "ok", "battery_v": 11.6, "external_power": False,
               "latitude": 18.79, "longitude": 98.98}  # fmt: skip
        for _ in range(10):
            rig.heartbeat(heartbeat("ct-01", queue={"pending": 2, "pending_bytes": 600,
                                                    "oldest_pending_age_s": 600.0}))  # fmt: skip
            rig.heartbeat(heartbeat("ct-02", disk={"free_bytes": 8, "total_bytes": 100},
                                    cpu_temperature_c=79.0))  # fmt: skip
            rig.heartbeat(heartbeat("mu-01", environment=env, interval_s=60.0))
            rig.clock.advance(seconds=30)
        rig.clock.advance(seconds=20)  # ct-01 and ct-02 are overdue (45 s), mu-01 is not (90 s)
        rig.ops.check_liveness()
        rig.ops.evaluate_alerts()
        with rig.client("viewer") as api:
            fleet = api.get("/api/v1/fleet/health").json()
            stations = {s["station_id"]: s for s in api.get("/api/v1/fleet/health/stations").json()}
            offline = api.get("/api/v1/fleet/health/stations", params={"state": "offline"}).json()
            mu = api.get("/api/v1/stations/mu-01/health").json()
            history = api.get("/api/v1/stations/ct-01/health/history").json()
            missing = api.get("/api/v1/stations/nope/health")
            backwards = api.get(
                "/api/v1/stations/ct-01/health/history",
                params={"since": "2026-11-24T00:00:00Z", "until": "2026-11-23T00:00:00Z"},
            )
        assert fleet["stations"] == {
            "total": 5, "online": 1, "offline": 2, "offline_by_timeout": 2, "never_seen": 1,
            "revoked": 1,
        }  # fmt: skip
        assert fleet["waiting_total"] == 2 and fleet["stations_with_backlog"] == 1
        assert fleet["oldest_backlog"]["station_id"] == "ct-01"
        assert fleet["oldest_backlog"]["value"] == 600 + 50  # aged since the last heartbeat
        assert fleet["lowest_disk_free_pct"] == {"station_id": "ct-02", "value": 8.0}
        assert fleet["hottest_cpu_c"] == {"station_id": "ct-02", "value": 79.0}
        assert fleet["stations_on_battery"] == 1
        assert fleet["alerts_by_rule"] == {"disk-full": 1, "cpu-hot": 1}
        assert {s["station_id"] for s in offline} == {"ct-01", "ct-02"}
        assert stations["ct-09"]["state"] == "never-seen"
        assert mu["state"] == "online" and mu["heartbeat_interval_s"] == 60.0
        assert mu["position"]["latitude"] == 18.79 and mu["battery_v"] == 11.6
        assert history["resolution"] == "raw" and len(history["points"]) == 10
        assert history["points"][0]["queue_waiting"] == 2
        assert missing.status_code == 404
        assert backwards.status_code == 400


def test_fleet_counts_faults_tamper_and_battery_and_lists_come_in_pages(
    tmp_path: Path, database_url: str
) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        for n in range(12):
            rig.station(f"ct-{n:02d}")
        rig.station("ct-99", state="revoked")
        faulty = [{"kind": "fingerprint", "state": "error"}, {"kind": "iris", "state": "ok"}]
        rig.heartbeat(heartbeat("ct-03", sensors=faulty))
        rig.heartbeat(heartbeat("ct-04", environment={"controller": "ok", "battery_v": 11.9,
                                                      "external_power": False,
                                                      "tamper_latched": True}))  # fmt: skip
        rig.heartbeat(heartbeat("ct-05", environment={"controller": "ok", "battery_v": 11.2}))
        rig.heartbeat(heartbeat("ct-06"))
        with rig.client("viewer") as api:
            fleet = api.get("/api/v1/fleet/health").json()
            first = api.get("/api/v1/stations", params={"limit": 5})
            last = api.get("/api/v1/stations", params={"limit": 5, "offset": 10})
            after = api.get("/api/v1/stations", params={"limit": 2, "after": "ct-06"})
            seen = api.get("/api/v1/fleet/health/stations",
                           params={"state": "online", "limit": 2, "offset": 1}).json()  # fmt: skip
            never = api.get("/api/v1/fleet/health/stations", params={"state": "never-seen"})
            revoked = api.get("/api/v1/fleet/health/stations", params={"state": "revoked"})
            too_many = api.get("/api/v1/stations", params={"limit": 5000})
    assert fleet["stations"]["total"] == 13 and fleet["stations"]["online"] == 4
    assert fleet["stations_with_sensor_faults"] == 1
    assert fleet["stations_tamper_latched"] == 1 and fleet["stations_on_battery"] == 1
    assert fleet["lowest_battery_v"] == {"station_id": "ct-05", "value": 11.2}
    assert [s["station_id"] for s in first.json()] == [f"ct-{n:02d}" for n in range(5)]
    assert first.headers["x-total-count"] == "13"
    assert [s["station_id"] for s in last.json()] == ["ct-10", "ct-11", "ct-99"]
    assert [s["station_id"] for s in after.json()] == ["ct-07", "ct-08"]
    assert after.headers["x-total-count"] == "13"
    assert [s["station_id"] for s in seen] == ["ct-04", "ct-05"]
    assert len(never.json()) == 8
    assert [s["station_id"] for s in revoked.json()] == ["ct-99"]
    assert too_many.status_code == 422
