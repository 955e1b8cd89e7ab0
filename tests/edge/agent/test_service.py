"""The station agent as a whole: enrol through the real sensor path, report sensor health."""

from __future__ import annotations

import threading
from pathlib import Path

from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.local_fleet import FleetStack, wait_until
from protocol.enrolment import read_archive
from protocol.envelope import open_packet
from simulators.fake_iddk2000 import FakeIddk
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.synthetic_eyes import EyeScene


def settings_for(data_dir: Path, port: str, **autopilot: object) -> AgentSettings:
    return AgentSettings.model_validate({
        "station": {"data_dir": data_dir},
        "sensors": {"fingerprint": {"port": port, "timeout_s": 1.0}},
        "uplink": {"heartbeat_interval_s": 1, "receipt_timeout_s": 5},
        "capture": {"fingers": ["right-thumb", "right-index", "left-index"], "eyes": [],
                    "finger_timeout_s": 5},
        "autopilot": autopilot or {"enabled": False},
    })  # fmt: skip


def test_autopilot_enrols_and_the_fleet_opens_what_was_captured(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    fleet_stack.provision_station("ct-21", tmp_path / "st")
    with start_fingerprint_simulator(SensorConfig(mode="auto", seed=1)) as sim:
        settings = settings_for(tmp_path / "st", sim.url, enabled=True, enrolments=2, interval_s=0)
        agent = StationAgent(settings, software_version="test")
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,))
        thread.start()
        try:
            wait_until(
                lambda: agent.uplink is not None and agent.uplink.stats.receipts >= 2,
                timeout=60,
                message="two receipts",
            )
        finally:
            stop.set()
            thread.join(20)
    assert fleet_stack.context is not None
    packets = fleet_stack.api().get("/api/v1/packets").json()
    assert len(packets) == 2
    with fleet_stack.central_api() as central:
        envelope = central.get(f"/api/v1/packets/{packets[0]['packet_id']}/envelope")
    from protocol.envelope import SealedPacket

    manifest, files = read_archive(
        open_packet(SealedPacket.from_bytes(envelope.content), fleet_stack.central)
    )
    assert manifest.source == "autopilot"
    captured = [r.position for r in manifest.records if r.kind == "image"]
    excused = [e.position for e in manifest.exceptions]
    assert sorted(captured + excused) == sorted(["right-thumb", "right-index", "left-index"])
    assert all(files[r.name][:4] == b"FIR\x00" for r in manifest.records if r.kind == "image")


def test_a_missing_sensor_is_reported_not_fatal(fleet_stack: FleetStack, tmp_path: Path) -> None:
    fleet_stack.provision_station("ct-22", tmp_path / "st")
    settings = settings_for(tmp_path / "st", "socket://127.0.0.1:9")  # nothing listens there
    agent = StationAgent(settings, software_version="test")
    agent.check_sensor()
    (state,) = agent.sensors.snapshot()
    assert (state.kind, state.state) == ("fingerprint", "missing")
    assert state.detail


def test_the_agent_rotates_its_key_and_broker_password_on_the_fleets_request(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from edge.agent.identity import load_station_record
    from fleet.store.models import Station, utcnow
    from protocol.keys import station_key_id

    identity = fleet_stack.provision_station("ct-22", tmp_path / "st")
    old_key, old_password = (
        station_key_id(identity.signing_key.public_key()),
        identity.mqtt.password,
    )
    settings = settings_for(tmp_path / "st", "socket://127.0.0.1:9")
    agent = StationAgent(settings, software_version="test")
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    api = fleet_stack.api()
    try:
        wait_until(lambda: agent.uplink is not None and agent.uplink.stats.connected)
        assert api.post("/api/v1/stations/ct-22/rotate-key").status_code == 202
        wait_until(
            lambda: station_key_id(agent.identity.signing_key.public_key()) != old_key,
            message="the agent to switch keys",
        )
        new_key = station_key_id(agent.identity.signing_key.public_key())
        assert api.get("/api/v1/stations/ct-22").json()["key_id"] == new_key
        assert station_key_id(agent._builder._signing_key.public_key()) == new_key
        assert api.post("/api/v1/stations/ct-22/rotate-credentials").status_code == 202
        wait_until(
            lambda: (
                load_station_record(settings.identity_dir).mqtt.password != old_password
                and load_station_record(settings.identity_dir).mqtt.next_password is None
            ),
            message="the new broker password in use",
        )
        assert agent.uplink is not None
        wait_until(lambda: agent.uplink is not None and agent.uplink.stats.connected)
        # With the old key no longer accepted, the agent's answers still verify.
        assert fleet_stack.context is not None
        with fleet_stack.context.sessions() as session:
            session.execute(
                update(Station)
                .where(Station.station_id == "ct-22")
                .values(previous_key_until=utcnow() - timedelta(seconds=1))
            )
            session.commit()
        ping = api.post("/api/v1/stations/ct-22/commands", json={"kind": "ping"}).json()
        wait_until(
            lambda: (
                api.get(f"/api/v1/stations/ct-22/commands/{ping['command_id']}").json()["status"]
                == "ok"
            ),
            message="a verified answer to ping",
        )
    finally:
        stop.set()
        thread.join(20)
        api.close()


def test_an_iddk_iris_camera_health_hot_plug_and_an_enrolment_with_irises(
    fleet_stack: FleetStack, tmp_path: Path, fake_iddk: FakeIddk
) -> None:
    """[sensors.iris] backend = "iddk": missing while unplugged (not a fault), ok once plugged
    in, and the autopilot's enrolments carry both irises to the fleet."""
    fleet_stack.provision_station("ct-23", tmp_path / "st")
    fake_iddk.timing(5, 20)
    fake_iddk.eye("right", total=90, usable=80, scene=EyeScene(seed=5))
    fake_iddk.eye("left", total=85, usable=75, scene=EyeScene(seed=6, centre_x=300))
    fake_iddk.unplug()
    with start_fingerprint_simulator(SensorConfig(mode="auto", seed=2)) as sim:
        base = settings_for(tmp_path / "st", sim.url, enabled=True, enrolments=1, interval_s=0)
        settings = AgentSettings.model_validate(
            base.model_dump()
            | {
                "sensors": {
                    "fingerprint": base.sensors.fingerprint.model_dump(),
                    "iris": {"backend": "iddk", "library": str(fake_iddk.path)},
                },
                "capture": base.capture.model_dump() | {"eyes": ["left", "right"]},
            }
        )
        agent = StationAgent(settings, software_version="test")
        agent.check_sensor()
        states = {s.kind: s for s in agent.sensors.snapshot()}
        assert states["iris"].state == "missing" and "no iris camera found" in states["iris"].detail
        fake_iddk.plug()
        agent.check_sensor()
        assert {s.kind: s.state for s in agent.sensors.snapshot()}["iris"] == "ok"
        stop = threading.Event()
        thread = threading.Thread(target=agent.run, args=(stop,))
        thread.start()
        try:
            wait_until(
                lambda: agent.uplink is not None and agent.uplink.stats.receipts >= 1,
                timeout=60,
                message="a receipt",
            )
        finally:
            stop.set()
            thread.join(20)
    assert fake_iddk.open_handles() == 0  # the agent closed the camera when it stopped
    (packet,) = fleet_stack.api().get("/api/v1/packets").json()
    with fleet_stack.central_api() as central:
        envelope = central.get(f"/api/v1/packets/{packet['packet_id']}/envelope")
    from protocol.envelope import SealedPacket

    manifest, files = read_archive(
        open_packet(SealedPacket.from_bytes(envelope.content), fleet_stack.central)
    )
    irises = {r.position: r for r in manifest.records if r.modality == "iris"}
    assert set(irises) == {"left-eye", "right-eye"}
    assert all(files[r.name][:4] == b"IIR\x00" for r in irises.values())
