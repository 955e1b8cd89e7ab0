"""Key and broker-credential rotation end to end: fleet API, broker, a station's uplink with
the agent's rotation handlers, and ingest of packets signed before and after the switch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select, update

from edge.agent.identity import NEXT_KEY_FILE, StationIdentity, load_station_record
from edge.agent.outbox import Outbox
from edge.agent.rotation import StationRotation
from edge.agent.uplink import Uplink
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.admin_models import StationKey
from fleet.store.models import AuditEntry, Packet, Station, StationCommand, utcnow
from protocol.chunks import split_packet
from protocol.envelope import SealedPacket
from protocol.keys import station_key_id
from protocol.rotation import ACTIVATE_KEY, ROTATE_CREDENTIALS
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink
from tests.ewp.cli.test_fleet_and_central_commands import ewp


@contextmanager
def station_with_rotation(identity: StationIdentity, root: Path) -> Iterator[Uplink]:
    """A running uplink with the agent's rotation handlers, adopting new identities."""
    current = [identity]
    links: list[Uplink] = []

    def adopt(new: StationIdentity) -> None:
        current[0] = new
        links[0].adopt(new)

    rotation = StationRotation(root / "identity", current=lambda: current[0], adopt=adopt)
    with running_uplink(identity, root / "outbox.sqlite", handlers=rotation.handlers()) as uplink:
        links.append(uplink)
        wait_until(lambda: uplink.stats.connected, message="station connected")
        yield uplink


def sealed_packet(identity: StationIdentity, path: Path, number: int) -> SealedPacket:
    """A packet sealed and signed now, kept aside (as if still in a van's outbox)."""
    with Outbox(path, min_free_bytes=0) as outbox:
        entry = builder_for(identity).save(outbox, make_enrolment(number, image_size=4096))
        return outbox.load(entry.packet_id)


def deliver(stack: FleetStack, station_id: str, packet: SealedPacket) -> str | None:
    assert stack.context is not None
    receipts = [
        stack.context.ingest.handle_chunk(station_id, chunk.to_bytes())
        for chunk in split_packet(packet, 65536)
    ]
    return next((r.status for r in receipts if r is not None), None)


def test_key_rotation_keeps_in_flight_packets_until_the_grace_period_ends(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    root = tmp_path / "st"
    identity = fleet_stack.provision_station("ct-41", root)
    old_key_id = station_key_id(identity.signing_key.public_key())
    in_flight = sealed_packet(identity, tmp_path / "van-1.sqlite", 1)
    late = sealed_packet(identity, tmp_path / "van-2.sqlite", 2)
    assert fleet_stack.context is not None
    sessions = fleet_stack.context.sessions
    with station_with_rotation(identity, root), fleet_stack.api() as api:
        started = api.post("/api/v1/stations/ct-41/rotate-key")
        assert started.status_code == 202, started.text

        def switched() -> bool:
            key = StationIdentity.load(root / "identity").signing_key.public_key()
            return (
                station_key_id(key) != old_key_id
                and not (root / "identity" / NEXT_KEY_FILE).exists()
            )

        wait_until(switched, message="the station to activate its new key")
        new_key_id = station_key_id(
            StationIdentity.load(root / "identity").signing_key.public_key()
        )
        station = api.get("/api/v1/stations/ct-41").json()
        assert (station["key_id"], station["previous_key_id"]) == (new_key_id, old_key_id)

        def activation_answered() -> bool:
            with sessions() as session:
                command = session.scalars(
                    select(StationCommand).where(StationCommand.kind == ACTIVATE_KEY)
                ).one()
                return command.status == "ok"  # its answer verified with the new key

        wait_until(activation_answered, message="the signed answer to activate-key")
    # A packet signed with the old key before the switch is still accepted...
    assert deliver(fleet_stack, "ct-41", in_flight) == "stored"
    # ... and one signed with the new key, of course.
    new_identity = StationIdentity.load(root / "identity")
    assert (
        deliver(fleet_stack, "ct-41", sealed_packet(new_identity, tmp_path / "new.sqlite", 3))
        == "stored"
    )
    # Once the grace period is over, the old key is refused.
    with sessions() as session:
        session.execute(
            update(Station)
            .where(Station.station_id == "ct-41")
            .values(previous_key_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert deliver(fleet_stack, "ct-41", late) == "rejected"
    with sessions() as session:
        assert session.scalar(select(Packet.seq).where(Packet.seq == 2)) is None
        history = {k.key_id: k for k in session.scalars(select(StationKey))}
        assert history[old_key_id].retired_at is not None and history[new_key_id].how == "rotation"
        assert "station.key-rotated" in [e.action for e in session.scalars(select(AuditEntry))]
    # The central system verifies each stored packet with the key that signed it.
    fleet_stack.central.save(tmp_path / "central.key")
    opened = ewp(
        "central",
        "open",
        "--key",
        str(tmp_path / "central.key"),
        "--config",
        str(fleet_stack.settings_path),
    )
    lines = [json.loads(line) for line in opened.stdout.splitlines()]
    assert lines[-1] == {"opened": 2, "failed": 0}
    assert all(line["signature"] == "verified" for line in lines[:-1])


def _broker_accepts(stack: FleetStack, password: str) -> bool:
    result: list[bool] = []
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ct-42", protocol=mqtt.MQTTv5)
    client.username_pw_set("ct-42", password)

    def on_connect(*args: object) -> None:
        result.append(not args[3].is_failure)  # type: ignore[attr-defined]
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", stack.settings.broker.port)
    client.loop_start()
    done.wait(10)
    client.disconnect()
    client.loop_stop()
    return result == [True]


def test_credential_rotation_switches_the_station_to_a_new_broker_password(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    root = tmp_path / "st"
    identity = fleet_stack.provision_station("ct-42", root)
    old_password = identity.mqtt.password
    with station_with_rotation(identity, root) as uplink, fleet_stack.api() as api:
        connects = uplink.stats.connects
        assert api.post("/api/v1/stations/ct-42/rotate-credentials").status_code == 202

        def promoted() -> bool:
            mqtt_login = load_station_record(root / "identity").mqtt
            return mqtt_login.password != old_password and mqtt_login.next_password is None

        wait_until(promoted, message="the station to log in with its new password")
        wait_until(lambda: uplink.stats.connected, message="reconnected")
        assert uplink.stats.connects > connects, "the broker disconnected it to switch"
        wait_until(
            lambda: api.get("/api/v1/stations/ct-42").json()["credentials_rotated_at"] is not None,
            message="the fleet to record the rotation",
        )
        assert api.get("/api/v1/stations/ct-42").json()["state"] == "active"
    new_password = load_station_record(root / "identity").mqtt.password
    assert not _broker_accepts(fleet_stack, old_password)
    assert _broker_accepts(fleet_stack, new_password)
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        command = session.scalars(
            select(StationCommand).where(StationCommand.kind == ROTATE_CREDENTIALS)
        ).one()
        assert command.response is not None and new_password not in command.response
        assert "[redacted]" in command.response


def test_rotation_needs_an_active_station_and_does_not_overlap(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    fleet_stack.add_station("ct-43")
    with fleet_stack.api() as api:
        refused = api.post("/api/v1/stations/ct-43/rotate-key")
        assert refused.status_code == 409 and "awaiting_claim" in refused.json()["detail"]
        assert api.post("/api/v1/stations/zz-none/rotate-credentials").status_code == 404
        # A station that is offline has not answered: a second rotation would overlap.
        fleet_stack.provision_station("ct-44", tmp_path / "st")
        for kind in ("rotate-key", "rotate-credentials"):
            assert api.post(f"/api/v1/stations/ct-44/{kind}").status_code == 202
            again = api.post(f"/api/v1/stations/ct-44/{kind}")
            assert again.status_code == 409 and "in progress" in again.json()["detail"]
