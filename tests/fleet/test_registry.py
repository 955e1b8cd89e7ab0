"""The station registry: provinces, registry fields, versions from heartbeats, revocation that
works at once, and the metrics read from it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.agent.errors import ProvisioningError
from edge.agent.provisioning import provision
from ewp.local_fleet import FleetStack, wait_until
from fleet.errors import RegistryError
from fleet.metrics import COUNTERS, FleetMetrics
from fleet.registry import find_province
from fleet.store.models import Rejection
from protocol.chunks import split_packet
from protocol.messages import DiskHealth, Environment, Heartbeat, QueueHealth
from protocol.reference_data import DATA, provinces
from tests.e2e.test_rotation import sealed_packet
from tests.edge.agent.uplink.link import running_uplink


def test_the_bundled_provinces_are_thailands_77() -> None:
    data = json.loads((DATA / "provinces.json").read_text(encoding="utf-8"))
    codes = [p["code"] for p in data["provinces"]]
    assert len(codes) == len(set(codes)) == 77
    assert (
        len({p["en"] for p in data["provinces"]}) == len({p["th"] for p in data["provinces"]}) == 77
    )
    assert {p["region"] for p in data["provinces"]} == {r["id"] for r in data["regions"]}
    assert provinces()["TH-10"].th == "กรุงเทพมหานคร"
    for text in ("TH-50", "th-50", "chiang mai", "เชียงใหม่"):
        assert find_province(text).code == "TH-50"
    assert find_province("Chonburi").code == find_province("Chon Buri").code == "TH-20"
    with pytest.raises(RegistryError, match="unknown province"):
        find_province("Atlantis")


def heartbeat(station_id: str, firmware: str | None, oldest: float | None = 90.0) -> bytes:
    return Heartbeat(
        station_id=station_id,
        at="2026-11-26T08:00:00.000Z",
        seq=1,
        uptime_s=10,
        software_version="1.2.3",
        queue=QueueHealth(
            pending=4,
            sending=0,
            acked=0,
            pending_bytes=1000,
            oldest_pending_age_s=oldest,
            created_total=4,
            last_seq=4,
        ),
        disk=DiskHealth(free_bytes=10, total_bytes=20),
        environment=Environment(controller="ok", controller_firmware=firmware),
    ).to_payload()


def test_registry_fields_versions_and_metrics(fleet_stack: FleetStack, tmp_path: Path) -> None:
    fleet_stack.provision_station("mu-51", tmp_path / "mu", kind="mobile")
    fleet_stack.add_station("ct-52")
    with fleet_stack.api() as api:
        changed = api.patch(
            "/api/v1/stations/mu-51",
            json={"province": "ตาก", "tags": ["border", "pilot"], "operators": ["op-117"]},
        )
        assert changed.status_code == 200, changed.text
        station = changed.json()
        assert station["province"] == {"code": "TH-63", "en": "Tak", "th": "ตาก", "region": "west"}
        assert (station["region"], station["tags"], station["operators"]) == (
            "west",
            ["border", "pilot"],
            ["op-117"],
        )
        assert api.patch("/api/v1/stations/mu-51", json={"province": "Atlantis"}).status_code == 422
        assert api.patch("/api/v1/stations/mu-51", json={"tags": ["Not A Tag"]}).status_code == 422
        assert api.patch("/api/v1/stations/mu-51", json={"surprise": 1}).status_code == 422
        cleared = api.patch("/api/v1/stations/mu-51", json={"region": "DOE region 9"}).json()
        assert cleared["region"] == "DOE region 9" and cleared["province"]["code"] == "TH-63"
        assert [s["station_id"] for s in api.get("/api/v1/stations?tag=border").json()] == ["mu-51"]
        assert [s["station_id"] for s in api.get("/api/v1/stations?province=TH-63").json()] == [
            "mu-51"
        ]
        assert len(api.get("/api/v1/provinces").json()) == 77
    assert fleet_stack.context is not None
    fleet_stack.context.ingest.handle_heartbeat("mu-51", heartbeat("mu-51", "ewp-controller 1.4.0"))
    with fleet_stack.api() as api:
        station = api.get("/api/v1/stations/mu-51").json()
        assert (station["software_version"], station["firmware_version"]) == (
            "1.2.3",
            "ewp-controller 1.4.0",
        )
        text = api.get("/metrics").text
    assert 'ewp_stations{state="active"} 1.0' in text
    assert 'ewp_stations{state="awaiting_claim"} 1.0' in text
    assert 'ewp_station_queue_pending{station="mu-51"} 4.0' in text
    lag = next(
        line
        for line in text.splitlines()
        if line.startswith('ewp_station_oldest_pending_age_seconds{station="mu-51"}')
    )
    assert 90.0 <= float(lag.split()[-1]) < 120.0
    assert "ewp_heartbeats_total 1.0" in text


def test_alert_counts_reach_metrics_through_the_registration_hook() -> None:
    metrics = FleetMetrics()
    metrics.set_alert_source(lambda: {("station-offline", "warning"): 3})
    metrics.alerts_raised.labels(rule="station-offline", severity="warning").inc()
    text = metrics.render()[0].decode()
    assert 'ewp_alerts_active{rule="station-offline",severity="warning"} 3.0' in text
    assert 'ewp_alerts_raised_total{rule="station-offline",severity="warning"} 1.0' in text


def test_every_counter_the_service_names_is_made_and_exposed() -> None:
    """The table of counters and the attributes the service increments are the same set."""
    metrics = FleetMetrics()
    declared = {name for name, kind in FleetMetrics.__annotations__.items() if kind == "Counter"}
    assert declared == set(COUNTERS)
    text = metrics.render()[0].decode()
    for attribute, (name, _, _) in COUNTERS.items():
        assert getattr(metrics, attribute) is not None
        assert f"# TYPE {name}_total counter" in text, name


def test_revocation_disconnects_at_once_and_refuses_later_packets(
    fleet_stack: FleetStack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "st"
    identity = fleet_stack.provision_station("ct-53", root)
    later = sealed_packet(identity, tmp_path / "later.sqlite", 1)
    with running_uplink(identity, root / "outbox.sqlite", reconnect_max_s=0.5) as uplink:
        wait_until(lambda: uplink.stats.connected, message="connected")
        connects = uplink.stats.connects
        with fleet_stack.api() as api:
            revoked = api.post("/api/v1/stations/ct-53/revoke")
            assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        wait_until(lambda: not uplink.stats.connected, timeout=10, message="disconnected")
        wait_until(
            lambda: "refused this station's credentials" in caplog.text,
            timeout=10,
            message="a refused reconnect",
        )
        assert uplink.stats.connects == connects, "the broker must not let it back in"
    assert fleet_stack.context is not None
    receipts = [
        fleet_stack.context.ingest.handle_chunk("ct-53", chunk.to_bytes())
        for chunk in split_packet(later, 65536)
    ]
    assert receipts == [None]
    with fleet_stack.context.sessions() as session:
        reasons = [
            r.reason
            for r in session.scalars(select(Rejection).where(Rejection.station_id == "ct-53"))
        ]
    assert reasons == ["unregistered"]


def test_revoking_an_unclaimed_station_spends_its_claim_token(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    token = fleet_stack.add_station("ct-54")
    with fleet_stack.api() as api:
        assert api.post("/api/v1/stations/ct-54/revoke").status_code == 200
    with pytest.raises(ProvisioningError, match="unknown or already used claim token"):
        provision(
            tmp_path / "identity",
            fleet_stack.url,
            token,
            software_version="test",
            insecure_for_testing=True,
        )


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
@pytest.mark.parametrize(
    ("access", "anonymous", "viewer"), [("viewer", 401, 200), ("open", 200, 200), ("off", 404, 404)]
)
def test_who_may_read_metrics_is_a_setting(
    fleet_stack: FleetStack, access: str, anonymous: int, viewer: int
) -> None:
    from fastapi.testclient import TestClient

    from fleet.api.app import create_app

    assert fleet_stack.context is not None
    settings = fleet_stack.settings.model_copy(
        update={"metrics": fleet_stack.settings.metrics.model_copy(update={"access": access})}
    )
    context = dataclasses.replace(fleet_stack.context, settings=settings)
    with TestClient(create_app(context)) as client:
        assert client.get("/metrics").status_code == anonymous
        auth = {"authorization": f"Bearer {fleet_stack.admin_token}"}
        answer = client.get("/metrics", headers=auth)
        assert answer.status_code == viewer
        if viewer == 200:
            assert answer.headers["content-type"].startswith("text/plain")
