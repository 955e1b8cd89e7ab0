"""The station agent as a whole: enrol through the real sensor path, report sensor health."""

from __future__ import annotations

import threading
from pathlib import Path

from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.local_fleet import FleetStack, wait_until
from protocol.enrolment import read_archive
from protocol.envelope import open_packet
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator


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
    envelope = fleet_stack.api().get(f"/api/v1/packets/{packets[0]['packet_id']}/envelope")
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
