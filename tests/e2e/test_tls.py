"""TLS on every hop, with a real fleet served over HTTPS and a real Mosquitto: a station
provisions only over https with the fleet CA pinned by its claim token (a wrong fingerprint or
plain http is refused, nothing is written), then uploads over mqtts:// checked against that
CA; the broker's plaintext listener answers only on the loopback address."""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.agent.errors import ProvisioningError
from edge.agent.identity import FLEET_CA_FILE, STATION_FILE, StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.provisioning import provision
from ewp.local_fleet import FleetStack, start_fleet_stack, wait_until
from fleet.store.models import Packet, Station
from fleet.tls import create_fleet_tls
from protocol.provisioning import split_claim_token
from tests.conftest import Broker
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink


@pytest.fixture(scope="module")
def https_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetStack]:
    stack = start_fleet_stack(tmp_path_factory.mktemp("https-fleet"), https=True)
    try:
        yield stack
    finally:
        stack.stop()


def _token(stack: FleetStack, station_id: str) -> str:
    return stack.add_station(station_id)


def test_a_station_provisions_over_https_pinning_the_fleet_ca_and_uploads_over_mqtts(
    https_fleet: FleetStack, tmp_path: Path
) -> None:
    assert https_fleet.url.startswith("https://")
    token = _token(https_fleet, "ct-71")
    _, pin = split_claim_token(token)
    assert pin is not None and len(pin) == 64
    record = provision(tmp_path / "identity", https_fleet.url, token, software_version="test")
    assert record.mqtt.tls and record.mqtt.port == https_fleet.settings.broker.tls_port
    pinned = (tmp_path / "identity" / FLEET_CA_FILE).read_bytes()
    assert pinned == https_fleet.ca_file.read_bytes()

    identity = StationIdentity.load(tmp_path / "identity")
    outbox_path = tmp_path / "outbox.sqlite"
    with Outbox(outbox_path, min_free_bytes=0) as outbox:
        packet_id = builder_for(identity).save(outbox, make_enrolment(1)).packet_id
    with running_uplink(identity, outbox_path) as uplink:
        assert uplink.session.address.tls is not None
        assert uplink.session.address.tls.ca_file == tmp_path / "identity" / FLEET_CA_FILE
        with Outbox(outbox_path, min_free_bytes=0) as outbox:
            wait_until(lambda: outbox.entry(packet_id).state == "acked", message="receipt")
    assert https_fleet.context is not None
    with https_fleet.context.sessions() as session:
        assert session.scalar(select(Packet.station_id).where(Packet.packet_id == packet_id))


def test_a_wrong_pinned_fingerprint_refuses_to_provision_and_writes_nothing(
    https_fleet: FleetStack, tmp_path: Path
) -> None:
    token = _token(https_fleet, "ct-72")
    secret, _ = split_claim_token(token)
    other_ca = create_fleet_tls(tmp_path / "other", ["localhost"]).ca_fingerprint
    with pytest.raises(ProvisioningError, match=r"claim token pins .*: refusing to provision"):
        provision(
            tmp_path / "identity", https_fleet.url, f"{secret}.{other_ca}", software_version="t"
        )
    assert not (tmp_path / "identity" / STATION_FILE).exists()
    # The token was never sent: the right one still works.
    provision(tmp_path / "identity", https_fleet.url, token, software_version="test")
    assert https_fleet.context is not None
    with https_fleet.context.sessions() as session:
        assert session.get(Station, "ct-72").state == "active"  # type: ignore[union-attr]


def test_plain_http_and_an_unpinned_token_are_refused(
    https_fleet: FleetStack, tmp_path: Path
) -> None:
    token = _token(https_fleet, "ct-73")
    plain = https_fleet.url.replace("https://", "http://")
    with pytest.raises(ProvisioningError, match="refusing to provision over plain http"):
        provision(tmp_path / "identity", plain, token, software_version="test")
    secret, _ = split_claim_token(token)
    with pytest.raises(ProvisioningError, match="carries no fingerprint"):
        provision(tmp_path / "identity", https_fleet.url, secret, software_version="test")
    assert not (tmp_path / "identity" / STATION_FILE).exists()


def _other_local_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback (Linux), or None."""
    siocgifaddr = 0x8915
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            with contextlib.suppress(OSError):
                packed = fcntl.ioctl(
                    probe.fileno(), siocgifaddr, struct.pack("256s", name.encode()[:15])
                )
                address = socket.inet_ntoa(packed[20:24])
                if not address.startswith("127."):
                    return address
    return None


def test_the_plaintext_listener_answers_only_on_loopback(broker: Broker) -> None:
    conf = (broker.directory / "mosquitto.conf").read_text()
    assert f"listener {broker.port} 127.0.0.1\n" in conf
    tls_lines = conf.split(f"listener {broker.tls_port} ")[1].splitlines()[:4]
    assert [line.split()[0] for line in tls_lines[1:4]] == ["cafile", "certfile", "keyfile"]
    with socket.create_connection(("127.0.0.1", broker.port), timeout=2):
        pass  # the fleet's own processes get in
    address = _other_local_ipv4()
    if address is None:
        pytest.skip("this machine has no address besides loopback to try from")
    with pytest.raises(OSError):  # refused: nothing listens there
        socket.create_connection((address, broker.port), timeout=2).close()
