"""A station's uplink running in a thread against the test fleet, for tests across the tree."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from edge.agent.health import HealthReporter, SensorBoard
from edge.agent.identity import StationIdentity
from edge.agent.outbox import Outbox
from edge.agent.packet_builder import PacketBuilder
from edge.agent.settings import UplinkSettings
from edge.agent.uplink import FleetHandlers, PeriodicMessage, Uplink
from ewp.local_fleet import FleetStack, wait_until
from mqtt_session import Credentials, Message, MqttSession, SessionOptions, Subscription


def builder_for(identity: StationIdentity) -> PacketBuilder:
    return PacketBuilder(
        station_id=identity.station_id,
        signing_key=identity.signing_key,
        central_key=identity.central_key,
        software_version="test",
    )


@contextmanager
def running_uplink(
    identity: StationIdentity,
    outbox_path: Path,
    *,
    handlers: FleetHandlers | None = None,
    periodic: Sequence[PeriodicMessage] = (),
    **overrides: object,
) -> Iterator[Uplink]:
    settings = UplinkSettings.model_validate(
        {
            "heartbeat_interval_s": 1,
            "receipt_timeout_s": 5,
            "reconnect_max_s": 2,
            "chunk_size": 16384,
            **overrides,
        }
    )
    stop = threading.Event()
    holder: list[Uplink] = []

    def run() -> None:
        outbox = Outbox(outbox_path, min_free_bytes=0)
        health = HealthReporter(
            station_id=identity.station_id,
            outbox=outbox,
            data_dir=outbox_path.parent,
            software_version="test",
            sensors=SensorBoard(),
        )
        uplink = Uplink(
            settings,
            identity,
            outbox,
            heartbeat=health.heartbeat,
            software_version="test",
            handlers=handlers,
            periodic=periodic,
        )
        holder.append(uplink)
        uplink.run(stop)
        outbox.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: holder, message="uplink start")
    try:
        yield holder[0]
    finally:
        stop.set()
        thread.join(timeout=10)


@contextmanager
def fleet_side(
    stack: FleetStack, *topic_filters: str
) -> Iterator[tuple[MqttSession, list[Message]]]:
    """The fleet's service account on the broker, beside the fleet's own ingest: it publishes
    (commands, receipts) and keeps a copy of every message on ``topic_filters``."""
    login = stack.service_login
    received: list[Message] = []
    session = MqttSession(
        login.address,
        SessionOptions(
            client_id=f"test-fleet-side-{secrets.token_hex(4)}",
            credentials=Credentials(login.username, login.password),
            session_expiry_s=0,
            clean_start=True,
        ),
        [Subscription(topic_filter, 1, received.append) for topic_filter in topic_filters],
    ).start()
    try:
        session.connect_wait()
        wait_until(session.ready.is_set, message="fleet side subscribed")
        yield session, received
    finally:
        session.close()
