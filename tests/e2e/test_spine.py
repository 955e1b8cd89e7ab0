"""The spine, end to end, on a real Mosquitto with authentication and ACLs on.

Several stations (real `ewp agent` processes, each with its own simulated fingerprint sensor)
enrol applicants. Two of them start with their links cut and enrol offline; one uploads through
a slow link and is killed with SIGKILL in the middle of an upload, then restarted; the broker
is restarted once. Afterwards every packet is at the fleet exactly once, with a matching hash,
and opens with the central key.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import ExitStack, closing
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from edge.agent.identity import StationIdentity
from ewp.local_fleet import FleetStack, wait_until
from fleet.central import open_and_check
from fleet.store.models import Packet, Rejection
from protocol import topics
from protocol.chunks import split_packet
from protocol.envelope import seal_packet
from simulators.fingerprint import SensorConfig, start_fingerprint_simulator
from simulators.network import LinkProfile, NetworkSimulator

ENROLMENTS = 4
ROOT = Path(__file__).resolve().parents[2]


def agent_config(data_dir: Path, sensor_url: str, broker_url: str) -> Path:
    config = data_dir / "agent.toml"
    config.write_text(
        "\n".join(
            [
                "[station]",
                f'data_dir = "{data_dir}"',
                "[sensors.fingerprint]",
                f'port = "{sensor_url}"',
                "[uplink]",
                f'broker_url = "{broker_url}"',
                "chunk_size = 4096",
                "heartbeat_interval_s = 2",
                "receipt_timeout_s = 5",
                "reconnect_max_s = 2",
                "[capture]",
                'fingers = ["right-index", "left-index"]',
                "eyes = []",
                "[autopilot]",
                "enabled = true",
                f"enrolments = {ENROLMENTS}",
                "interval_s = 0.2",
                "[log]",
                'level = "DEBUG"',
                "",
            ]
        )
    )
    return config


def start_agent(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ewp", "agent", "run", "--config", str(config)],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )


def outbox_rows(data_dir: Path) -> list[tuple[str, str, str, int, int]]:
    path = data_dir / "outbox.sqlite"
    if not path.exists():
        return []
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)) as db:
            return db.execute(
                "SELECT packet_id, sha256, state, chunks_sent, size FROM packets"
            ).fetchall()
    except sqlite3.OperationalError:
        return []


@pytest.fixture
def netsim() -> Iterator[NetworkSimulator]:
    with NetworkSimulator() as sim:
        yield sim


@pytest.mark.slow
def test_every_packet_arrives_exactly_once_through_cuts_kills_and_broker_restarts(
    tmp_path: Path, netsim: NetworkSimulator
) -> None:
    from ewp.local_fleet import start_fleet_stack

    stack = start_fleet_stack(tmp_path, workers=2)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        with ExitStack() as sensors:
            names = ["mu-01", "mu-02", "ct-01"]
            dirs, configs, links = {}, {}, {}
            for index, name in enumerate(names):
                sim = sensors.enter_context(
                    start_fingerprint_simulator(SensorConfig(mode="auto", seed=5, index=index))
                )
                dirs[name] = tmp_path / name
                stack.provision_station(
                    name, dirs[name], kind="mobile" if name[:2] == "mu" else "center"
                )
                # ct-01 uploads through a slow link (25 KB/s) so that a kill lands mid-upload.
                profile = LinkProfile(bandwidth_bps=25_000) if name == "ct-01" else LinkProfile()
                # Over the broker's TLS listener, checked against the CA pinned at provisioning.
                links[name] = netsim.add_link(
                    ("127.0.0.1", stack.settings.broker.tls_port), profile=profile, name=name
                )
                configs[name] = agent_config(dirs[name], sim.url, f"mqtts://{links[name].address}")
            links["mu-01"].cut()
            links["mu-02"].cut()  # two vans start out of coverage
            for name in names:
                processes[name] = start_agent(configs[name], tmp_path / f"{name}.log")

            # Kill ct-01 in the middle of an upload: a packet with some chunks acknowledged.
            def mid_upload() -> bool:
                # Some chunks acknowledged by the broker, others not yet sent (4 KiB chunks;
                # an envelope's header and signature are well under 1000 bytes).
                return any(
                    state == "sending" and 0 < sent < (size - 1000) // 4096
                    for _, _, state, sent, size in outbox_rows(dirs["ct-01"])
                )

            wait_until(mid_upload, timeout=60, interval=0.02, message="ct-01 mid-upload")
            processes["ct-01"].send_signal(signal.SIGKILL)
            processes["ct-01"].wait()
            killed_with = [r for r in outbox_rows(dirs["ct-01"]) if r[2] == "sending"]
            assert killed_with, "the kill must land while a packet is being uploaded"
            links["ct-01"].set_profile(bandwidth_bps=0)
            processes["ct-01"] = start_agent(configs["ct-01"], tmp_path / "ct-01.log")

            # The vans enrol offline; then the broker restarts; then coverage returns.
            wait_until(
                lambda: all(len(outbox_rows(dirs[n])) == ENROLMENTS for n in ("mu-01", "mu-02")),
                timeout=90,
                message="offline enrolments",
            )
            assert all(r[2] != "acked" for n in ("mu-01", "mu-02") for r in outbox_rows(dirs[n]))
            stack.broker.restart()
            links["mu-01"].restore()
            links["mu-02"].restore()

            def all_acked() -> bool:
                rows = [r for n in names for r in outbox_rows(dirs[n])]
                return len(rows) == ENROLMENTS * len(names) and all(r[2] == "acked" for r in rows)

            wait_until(all_acked, timeout=180, interval=0.5, message="every packet acknowledged")
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        context = stack.context
        assert context is not None
        with context.sessions() as session:
            stored = session.scalars(select(Packet)).all()
            fleet = {p.packet_id: (p.sha256, p.path, p.station_id) for p in stored}
        created = {
            pid: sha
            for n in ("mu-01", "mu-02", "ct-01")
            for pid, sha, _, _, _ in outbox_rows(tmp_path / n)
        }
        stack.stop()
    assert len(stored) == len(fleet), "each packet id stored once"
    assert {pid: v[0] for pid, v in fleet.items()} == created, "every packet, matching hash"
    for packet_id, (sha, path, station_id) in fleet.items():
        envelope = (stack.settings.packet_dir / path).read_bytes()
        from protocol.envelope import SealedPacket

        packet = SealedPacket.from_bytes(envelope)
        assert packet.sha256 == sha
        identity = StationIdentity.load(tmp_path / station_id / "identity")
        opened = open_and_check(packet, stack.central, identity.signing_key.public_key())
        assert opened.manifest.packet_id == packet_id


def test_a_station_cannot_speak_for_another_and_forgeries_change_nothing(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    """With real credentials from provisioning: another prefix is refused by the broker; a
    packet signed by a key that is not the station's is refused by the fleet and recorded."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    mine = fleet_stack.provision_station("ct-10", tmp_path / "ct-10")
    fleet_stack.provision_station("ct-11", tmp_path / "ct-11")
    acks: dict[int, object] = {}
    receipts: list[dict[str, object]] = []
    ready = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=mine.mqtt.client_id, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(mine.mqtt.username, mine.mqtt.password)
    client.tls_set(ca_certs=str(fleet_stack.ca_file))
    client.on_publish = lambda c, u, mid, rc, p: acks.__setitem__(mid, rc)
    client.on_subscribe = lambda *a: ready.set()
    client.on_message = lambda c, u, m: receipts.append(json.loads(m.payload))
    client.connect(mine.mqtt.host, mine.mqtt.port)
    client.loop_start()
    try:
        client.subscribe(topics.RECEIPTS.for_station("ct-10"), qos=1)
        assert ready.wait(5)
        impostor = ed25519.Ed25519PrivateKey.generate()
        forged = seal_packet(
            b"not an enrolment",
            station_id="ct-10",
            packet_id="f0" * 16,
            seq=1,
            recipient=mine.central_key,
            signer=impostor,
        )
        chunk = next(split_packet(forged)).to_bytes()
        own = client.publish(topics.packet_topic("ct-10", forged.packet_id), chunk, qos=1)
        other = client.publish(topics.packet_topic("ct-11", forged.packet_id), chunk, qos=1)
        wait_until(lambda: own.mid in acks and other.mid in acks, message="PUBACKs")
        assert acks[other.mid].is_failure, "publishing under ct-11's prefix is refused"  # type: ignore[attr-defined]
        assert not acks[own.mid].is_failure  # type: ignore[attr-defined]
        wait_until(lambda: receipts, message="the fleet's refusal")
        assert receipts[0]["status"] == "rejected"
    finally:
        client.disconnect()
        client.loop_stop()
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        assert session.scalars(select(Packet)).all() == []
        rejections = session.scalars(select(Rejection)).all()
        assert [r.reason for r in rejections] == ["bad-signature"]
        assert rejections[0].station_id == "ct-10"
    assert not any(fleet_stack.settings.packet_dir.rglob("*.ewp"))
