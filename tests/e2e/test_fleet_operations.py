"""Fleet operations end to end: a real broker (auth and ACLs on), the fleet service in-process
and a real station agent — configuration delivered and applied, upload windows."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select

from edge.agent.application_status import ApplicationStatusStore
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import AuditEntry
from fleet.store.ops_models import HealthSample
from tests.edge.agent.helpers import make_enrolment


def agent_settings(data_dir: Path, **uplink: object) -> AgentSettings:
    return AgentSettings.model_validate(
        {
            "station": {"data_dir": data_dir},
            # Nothing listens there: the agent reports the sensor missing and carries on.
            "sensors": {"fingerprint": {"port": "socket://127.0.0.1:9", "timeout_s": 0.5}},
            "uplink": {
                "heartbeat_interval_s": 1,
                "receipt_timeout_s": 5,
                "reconnect_max_s": 2,
                **uplink,
            },
        }
    )


@contextmanager
def running_agent(data_dir: Path, **uplink: object) -> Iterator[StationAgent]:
    agent = StationAgent(agent_settings(data_dir, **uplink), software_version="test")
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_until(
            lambda: agent.uplink is not None and agent.uplink.stats.connected,
            message="agent connected",
        )
        yield agent
    finally:
        stop.set()
        thread.join(20)


def effective(api: httpx.Client, station_id: str) -> dict[str, Any]:
    response = api.get(f"/api/v1/config/stations/{station_id}/effective")
    response.raise_for_status()
    return dict(response.json())


def in_sync(api: httpx.Client, station_id: str, version: int) -> bool:
    view = effective(api, station_id)
    return bool(view["drift"] == "in-sync" and view["applied_version"] == version)


def put(api: httpx.Client, path: str, body: object) -> dict[str, Any]:
    response = api.put(path, json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_configuration_is_delivered_applied_reported_and_kept(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    data_dir = tmp_path / "mu-01"
    fleet_stack.provision_station("mu-01", data_dir, kind="mobile")
    with fleet_stack.api() as api:
        put(api, "/api/v1/config/tags/vans/members", {"stations": ["mu-01"]})
        put(api, "/api/v1/config/tags/vans", {"capture": {"finger_quality_min": 55}})
        change = put(
            api, "/api/v1/config/fleet", {"heartbeat_interval_s": 1, "capture": {"attempts": 5}}
        )
        assert change["published"] == ["mu-01"]
        version = effective(api, "mu-01")["desired_version"]
        with running_agent(data_dir) as agent:
            wait_until(lambda: in_sync(api, "mu-01", version), message="configuration applied")
            policy = agent.applied_config.current.config.capture
            assert (policy.attempts, policy.finger_quality_min) == (5, 55)
            # A live change: the heartbeat interval follows, and the fleet's timeout with it.
            put(api, "/api/v1/config/stations/mu-01", {"heartbeat_interval_s": 2})
            wait_until(lambda: in_sync(api, "mu-01", version + 1), message="second version")
            assert agent.uplink is not None and agent.uplink.heartbeat_interval_s == 2

            def fleet_timeout_follows() -> bool:
                health = api.get("/api/v1/stations/mu-01/health").json()
                return bool(health["heartbeat_interval_s"] == 2)

            wait_until(fleet_timeout_follows, message="liveness uses the new interval")
        stored = json.loads((data_dir / "config" / "applied.json").read_text())
        assert stored["version"] == version + 1
        # After a restart, before any connection, the station runs the applied configuration.
        again = StationAgent(agent_settings(data_dir), software_version="test")
        assert again.applied_config.current.version == version + 1
        assert again.applied_config.current.config.capture.attempts == 5


def bangkok_hhmm(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("Asia/Bangkok")).strftime("%H:%M")


def test_upload_windows_hold_packets_while_heartbeats_flow(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    data_dir = tmp_path / "ct-05"
    identity = fleet_stack.provision_station("ct-05", data_dir)
    later = datetime.now(UTC) + timedelta(hours=3)
    closed_now = {
        "windows": [{"start": bangkok_hhmm(later), "end": bangkok_hhmm(later + timedelta(hours=1))}]
    }
    assert fleet_stack.context is not None

    def samples() -> int:
        assert fleet_stack.context is not None
        with fleet_stack.context.sessions() as session:
            return session.scalar(select(func.count()).select_from(HealthSample)) or 0

    def received() -> int:
        with fleet_stack.api() as api:
            return len(api.get("/api/v1/packets").json())

    with fleet_stack.api() as api, running_agent(data_dir) as agent:
        put(api, "/api/v1/config/fleet", {"heartbeat_interval_s": 1, "upload": closed_now})
        wait_until(lambda: in_sync(api, "ct-05", 1), message="windows applied")
        builder = builder_for(identity)
        with Outbox(data_dir / "outbox.sqlite", min_free_bytes=0) as outbox:
            for n in (1, 2):
                builder.save(outbox, make_enrolment(n, image_size=4096))
            before = samples()
            wait_until(lambda: samples() >= before + 3, message="heartbeats while closed")
            assert received() == 0 and outbox.stats().pending == 2
            assert agent.uplink is not None and agent.uplink.stats.chunks_sent == 0
            put(api, "/api/v1/config/fleet", {"heartbeat_interval_s": 1, "upload": {"windows": []}})
            wait_until(lambda: outbox.stats().acked == 2, message="uploaded once open")
    assert received() == 2


def builder_for(identity: StationIdentity) -> PacketBuilder:
    return PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="test",
    )


def test_a_packet_deleted_before_upload_shows_as_a_gap_and_raises_the_alert(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    data_dir = tmp_path / "mu-07"
    identity = fleet_stack.provision_station("mu-07", data_dir, kind="mobile")
    builder = builder_for(identity)
    with Outbox(data_dir / "outbox.sqlite", min_free_bytes=0) as outbox:
        for n in (1, 2, 3):
            builder.save(outbox, make_enrolment(n, image_size=4096))
    # Before the van gets a link, someone deletes packet 2 from the station's outbox.
    with closing(sqlite3.connect(data_dir / "outbox.sqlite")) as db:
        db.execute("DELETE FROM packets WHERE seq = 2")
        db.commit()

    def reconciled() -> dict[str, Any] | None:
        with fleet_stack.api() as api:
            response = api.get("/api/v1/stations/mu-07/reconciliation")
        view = response.json() if response.status_code == 200 else None
        return view if view and view["received_total"] == 2 else None

    with fleet_stack.api() as api, running_agent(data_dir, reconciliation_interval_s=1):
        wait_until(reconciled, message="a report after both packets arrived")
        alerts = api.get("/api/v1/alerts", params={"rule": "reconciliation-gap"}).json()
    view = reconciled()
    assert view is not None
    assert (view["last_seq"], view["created_total"], view["lost_total"]) == (3, 2, 1)
    assert (view["lost_seqs"], view["missing_at_station"]) == ("2", "2")
    (day,) = view["days"]
    assert (day["created"], day["received"], day["pending"], day["lost"]) == (2, 2, 0, 1)
    assert day["lost_seqs"] == "2"
    assert [(a["station_id"], a["severity"], a["detail"]["seqs"]) for a in alerts] == [
        ("mu-07", "critical", "2")
    ]
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        raised = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert.raise.reconciliation-gap")
        ).all()
    assert [e.target for e in raised] == ["mu-07"]


def test_application_status_reaches_the_station_that_enrolled_the_applicant(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    data_dir = tmp_path / "ct-08"
    identity = fleet_stack.provision_station("ct-08", data_dir)
    builder = builder_for(identity)
    with Outbox(data_dir / "outbox.sqlite", min_free_bytes=0) as outbox:
        saved = builder.save(outbox, make_enrolment(1, image_size=4096))
    with fleet_stack.central_api() as api, running_agent(data_dir):
        wait_until(
            lambda: len(api.get("/api/v1/central/packets").json()) == 1, message="packet stored"
        )
        posted = api.post(
            "/api/v1/central/application-status",
            json={
                "application_number": "WP-CT-08-000001",
                "status": "permit-approved",
                "packet_id": saved.packet_id,
                "passport_number": "MM7654321",
            },
        )
        assert posted.status_code == 200, posted.text
        assert posted.json()["station_id"] == "ct-08" and posted.json()["published_at"]

        def kept() -> str | None:
            with ApplicationStatusStore(data_dir) as store:
                found = store.get("WP-CT-08-000001")
            return found.status if found else None

        wait_until(lambda: kept() == "permit-approved", message="status at the station")
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[station]\ndata_dir = "{data_dir}"\n'
        '[sensors.fingerprint]\nport = "socket://127.0.0.1:9"\n'
    )
    shown = subprocess.run(
        [str(Path(sys.executable).with_name("ewp")), "agent", "status", "WP-CT-08-000001",
         "--config", str(config), "--json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    (row,) = json.loads(shown.stdout)
    assert (row["status"], row["packet_id"]) == ("permit-approved", saved.packet_id)
