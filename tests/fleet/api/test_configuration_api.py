"""Desired configuration: layers merged fleet -> tags -> station, validated, versioned, audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from fleet.store.models import AuditEntry
from protocol.station_config import StationConfig, config_sha256
from tests.fleet.api_helpers import ApiRig, api_rig


def effective(rig: ApiRig, station_id: str) -> dict[str, object]:
    with rig.client("viewer") as api:
        response = api.get(f"/api/v1/config/stations/{station_id}/effective")
        assert response.status_code == 200, response.text
        return dict(response.json())


def test_layers_merge_in_order_and_versions_follow_the_hash(
    tmp_path: Path, database_url: str
) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        for sid in ("mu-01", "mu-02", "ct-01"):
            rig.station(sid)
        with rig.client("release-manager") as api:
            assert effective(rig, "mu-01")["drift"] == "unmanaged"
            r = api.put("/api/v1/config/fleet", json={"capture": {"attempts": 4},
                                                     "heartbeat_interval_s": 60})  # fmt: skip
            assert r.status_code == 200, r.text
            assert {s["station_id"] for s in r.json()["stations"]} == {"mu-01", "mu-02", "ct-01"}
            r = api.put("/api/v1/config/tags/vans/members", json={"stations": ["mu-01", "mu-02"]})
            assert r.status_code == 200, r.text
            assert r.json()["stations"] == []  # no vans layer yet: nothing changes
            r = api.put("/api/v1/config/tags/vans", json={
                "upload": {"windows": [{"start": "22:00", "end": "06:00"}]},
                "capture": {"finger_quality_min": 50}})  # fmt: skip
            assert sorted(s["station_id"] for s in r.json()["stations"]) == ["mu-01", "mu-02"]
            r = api.put("/api/v1/config/stations/mu-01", json={"capture": {"attempts": 2}})
            assert r.status_code == 200
            # The same document again: no new version.
            again = api.put("/api/v1/config/stations/mu-01", json={"capture": {"attempts": 2}})
            assert again.json()["stations"] == [] and again.json()["layer"]["version"] == 1
        mu1, mu2, ct1 = (effective(rig, s) for s in ("mu-01", "mu-02", "ct-01"))
        config = mu1["config"]
        assert isinstance(config, dict)
        assert config["capture"]["attempts"] == 2  # station beats fleet
        assert config["capture"]["finger_quality_min"] == 50  # the tag's, merged key by key
        assert config["capture"]["iris_quality_min"] == 60  # the default
        assert config["heartbeat_interval_s"] == 60  # the fleet's
        assert config["upload"]["windows"] == [{"start": "22:00", "end": "06:00"}]
        assert mu1["desired_version"] == 3 and mu2["desired_version"] == 2
        assert ct1["desired_version"] == 1 and ct1["tags"] == []
        assert [s["scope"] for s in mu1["sources"]] == ["fleet", "tag", "station"]  # type: ignore[union-attr]
        model = StationConfig.model_validate(config)
        assert mu1["desired_sha256"] == config_sha256(model)
        assert mu1["drift"] == "not-published"  # no broker in this test
        # Removing the tag from mu-02 takes the vans layer away from it.
        with rig.client("release-manager") as api:
            api.put("/api/v1/config/tags/vans/members", json={"stations": ["mu-01"]})
            tags = api.get("/api/v1/config/tags").json()
            history = api.get("/api/v1/config/history", params={"scope": "tag"}).json()
        assert effective(rig, "mu-02")["desired_version"] == 3
        assert tags == [{"tag": "vans", "stations": ["mu-01"], "layer_version": 1}]
        assert [h["target"] for h in history] == ["vans"]
        with rig.sessions() as session:
            actions = [e.action for e in session.scalars(select(AuditEntry))]
        assert actions == ["config.set.fleet", "config.tag-members", "config.set.tag",
                           "config.set.station", "config.tag-members"]  # fmt: skip


def test_invalid_configuration_is_refused_naming_the_key(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        rig.station("ct-01")
        with rig.client("release-manager") as api:
            typo = api.put("/api/v1/config/fleet", json={"capture": {"atempts": 3}})
            range_ = api.put("/api/v1/config/stations/ct-01", json={"heartbeat_interval_s": 0})
            window = api.put("/api/v1/config/fleet", json={
                "upload": {"windows": [{"start": "25:00", "end": "06:00"}]}})  # fmt: skip
            api.put("/api/v1/config/fleet", json={"capture": {"eyes": []}})
            breaks = api.put("/api/v1/config/stations/ct-01", json={"capture": {"fingers": []}})
            unknown = api.put("/api/v1/config/stations/zz-99", json={})
            bad_tag = api.put("/api/v1/config/tags/Vans!", json={})
            members = api.put("/api/v1/config/tags/vans/members", json={"stations": ["zz-99"]})
        assert typo.status_code == 422
        assert typo.json()["detail"][0]["loc"] == ["body", "capture", "atempts"]
        assert range_.status_code == 422
        assert range_.json()["detail"][0]["loc"] == ["body", "heartbeat_interval_s"]
        assert window.json()["detail"][0]["loc"] == ["body", "upload", "windows", "0", "start"]
        # Valid on its own, but ct-01 would end up capturing nothing at all.
        assert breaks.status_code == 422
        assert breaks.json()["detail"][0]["station_id"] == "ct-01"
        assert "at least one finger or eye" in breaks.json()["detail"][0]["msg"]
        assert (unknown.status_code, bad_tag.status_code, members.status_code) == (404, 422, 404)
        assert effective(rig, "ct-01")["desired_version"] == 1  # only the accepted change


def test_deleting_layers(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        rig.station("ct-01")
        with rig.client("release-manager") as api:
            api.put("/api/v1/config/fleet", json={})
            api.put("/api/v1/config/stations/ct-01", json={"retention_days": 10})
            assert effective(rig, "ct-01")["desired_version"] == 2
            assert api.delete("/api/v1/config/stations/ct-01").status_code == 200
            assert effective(rig, "ct-01")["desired_version"] == 3  # back to the fleet's
            assert api.get("/api/v1/config/stations/ct-01").status_code == 404
            assert api.delete("/api/v1/config/stations/ct-01").status_code == 404
            api.delete("/api/v1/config/fleet")
            assert effective(rig, "ct-01")["drift"] == "unmanaged"
            assert [layer["scope"] for layer in api.get("/api/v1/config/layers").json()] == []
