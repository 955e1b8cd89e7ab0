"""The retained sweeper on a real Mosquitto (decision 0032): retained messages a station left on
its up topics end in quarantine, flag the station and are cleared; retained `status` stays."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from fleet.broker.dynsec import DynsecAdmin
from fleet.ingest import BrokerLogin, Ingest, IngestWorker
from fleet.ingest.retained import SWEPT_TOPICS, RetainedSweeper
from fleet.ops import FleetOps
from fleet.packet_files import PacketFiles
from fleet.store.db import make_engine, session_factory
from fleet.store.models import QuarantinedMessage
from fleet.store.ops_models import Alert
from mqtt_session import Credentials, Message, MqttSession, SessionOptions, Subscription
from protocol import topics
from tests.conftest import Broker
from tests.fleet.ops_helpers import CENTRAL, add_station, fleet_settings

HOSTILE, HONEST = "hs-01", "ok-02"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def _station(broker: Broker, admin: DynsecAdmin, station_id: str) -> MqttSession:
    password = secrets.token_urlsafe(16)
    admin.create_station(station_id, password)
    return MqttSession(
        broker.address,
        SessionOptions(
            client_id=station_id,
            credentials=Credentials(station_id, password),
            clean_start=True,
            session_expiry_s=0,
        ),
    ).connect_wait()


def _fleet_login(broker: Broker) -> BrokerLogin:
    a = broker.accounts
    return BrokerLogin(broker.host, broker.port, a.service_username, a.service_password)


def _retained_now(broker: Broker) -> dict[str, bytes]:
    """What a fresh subscriber to every station topic gets as retained."""
    got: dict[str, bytes] = {}
    lock = threading.Lock()

    def keep(message: Message) -> None:
        if message.retain:
            with lock:
                got[message.topic] = message.payload

    login = _fleet_login(broker)
    session = MqttSession(
        broker.address,
        SessionOptions(
            client_id="fresh-look",
            credentials=Credentials(login.username, login.password),
            clean_start=True,
            session_expiry_s=0,
        ),
        [Subscription(topics.STATUS.filter_all_stations(), 1, keep)]
        + [Subscription(spec.filter_all_stations(), 1, keep) for spec in SWEPT_TOPICS],
    ).connect_wait()
    time.sleep(0.7)
    session.close()
    with lock:
        return dict(got)


def _status(station_id: str) -> bytes:
    return json.dumps({"station_id": station_id, "state": "online"}).encode()


def _ingest(sessions: sessionmaker[Session], tmp_path: Path) -> Ingest:
    return Ingest(sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()])


@pytest.fixture
def admin(broker: Broker) -> Iterator[DynsecAdmin]:
    a = broker.accounts
    with DynsecAdmin(broker.address, a.admin_username, a.admin_password).connect() as handle:
        yield handle


def test_a_sweep_quarantines_flags_and_clears_retained_messages_but_keeps_status(
    broker: Broker, admin: DynsecAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_station(sessions, HOSTILE)
    add_station(sessions, HONEST)
    hostile, honest = _station(broker, admin, HOSTILE), _station(broker, admin, HONEST)
    chunk = b"EWPC" + bytes(range(256)) * 40
    event = b'{"kind": "tamper", "junk": "' + b"x" * 500 + b'"}'
    offences = {
        topics.packet_topic(HOSTILE, "p-1"): chunk,
        topics.EVENTS.for_station(HOSTILE): event,
        topics.HEARTBEAT.for_station(HOSTILE): b"{}",
    }
    for topic, payload in offences.items():
        hostile.publish_and_wait(topic, payload, retain=True)
    hostile.publish_and_wait(topics.STATUS.for_station(HOSTILE), _status(HOSTILE), retain=True)
    honest.publish_and_wait(topics.STATUS.for_station(HONEST), _status(HONEST), retain=True)
    honest.publish_and_wait(topics.EVENTS.for_station(HONEST), b'{"kind": "x"}')  # not retained
    assert set(offences) <= set(_retained_now(broker))

    ingest = _ingest(sessions, tmp_path)
    result = RetainedSweeper(_fleet_login(broker), ingest).sweep()

    assert sorted(result.cleared) == sorted(offences)
    assert not result.failed and not result.bounded
    assert _retained_now(broker) == {
        topics.STATUS.for_station(HOSTILE): _status(HOSTILE),
        topics.STATUS.for_station(HONEST): _status(HONEST),
    }
    with sessions() as session:
        rows = session.scalars(select(QuarantinedMessage)).all()
        assert {r.topic: (r.station_id, r.reason, r.size, r.sha256) for r in rows} == {
            topic: (HOSTILE, "retained-publish", len(p), hashlib.sha256(p).hexdigest())
            for topic, p in offences.items()
        }
        flagged = session.scalars(
            select(Alert).where(Alert.rule == "station-misbehaving", Alert.cleared_at.is_(None))
        ).all()
        assert [a.station_id for a in flagged] == [HOSTILE]
    assert ingest.counters.quarantined == 3

    # Nothing is left: the next sweep finds nothing, records nothing.
    again = RetainedSweeper(_fleet_login(broker), ingest).sweep()
    assert again.cleared == [] and not again.bounded
    with sessions() as session:
        assert len(session.scalars(select(QuarantinedMessage)).all()) == 3
    hostile.close()
    honest.close()


def test_a_flood_is_cleared_over_several_bounded_sweeps(
    broker: Broker, admin: DynsecAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_station(sessions, HOSTILE)
    hostile = _station(broker, admin, HOSTILE)
    flood = [topics.packet_topic(HOSTILE, f"p-{n}") for n in range(7)]
    for topic in flood:
        hostile.publish_and_wait(topic, b"junk " + topic.encode(), retain=True)
    ingest = _ingest(sessions, tmp_path)
    sweeper = RetainedSweeper(_fleet_login(broker), ingest, max_messages=3)

    rounds = [sweeper.sweep() for _ in range(3)]

    assert [len(r.cleared) for r in rounds] == [3, 3, 1]
    assert [r.bounded for r in rounds] == [True, True, False]
    assert sorted(t for r in rounds for t in r.cleared) == sorted(flood)
    assert _retained_now(broker) == {}
    hostile.close()


def test_the_sweep_is_a_fleet_job_when_enabled(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ops = FleetOps(sessions, fleet_settings(tmp_path))
    assert "retained" not in [job.name for job in ops.jobs()]  # no sweeper given
    ops.sweep_retained = lambda: None
    assert "retained" in [job.name for job in ops.jobs()]
    never = FleetOps(sessions, fleet_settings(tmp_path, "[ingest]\nretained_sweep_interval_s = 0"))
    never.sweep_retained = lambda: None
    assert "retained" not in [job.name for job in never.jobs()]


def test_a_clear_the_broker_refuses_is_reported_not_counted_as_cleared(
    broker: Broker, admin: DynsecAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """A broker whose fleet role predates the sweeper (no publishClientSend on up topics)."""
    add_station(sessions, HOSTILE)
    hostile = _station(broker, admin, HOSTILE)
    topic = topics.packet_topic(HOSTILE, "p-1")
    hostile.publish_and_wait(topic, b"junk", retain=True)
    admin.execute(
        {
            "command": "removeRoleACL",
            "rolename": "ewp-fleet-service",
            "acltype": "publishClientSend",
            "topic": topics.PACKET_CHUNKS.filter_all_stations(),
        }
    )

    result = RetainedSweeper(_fleet_login(broker), _ingest(sessions, tmp_path)).sweep()

    assert result.cleared == [] and result.failed == [topic]
    assert _retained_now(broker) == {topic: b"junk"}
    hostile.close()


def test_an_ingest_worker_seeing_a_retained_publish_asks_for_a_sweep(
    broker: Broker, admin: DynsecAdmin, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    add_station(sessions, HOSTILE)
    add_station(sessions, HONEST)
    hostile, honest = _station(broker, admin, HOSTILE), _station(broker, admin, HONEST)
    ingest = _ingest(sessions, tmp_path)
    asked: list[list[str]] = []
    ingest.on_retained = asked.append
    worker = IngestWorker(ingest, _fleet_login(broker), client_id="ewp-ingest-rt")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert worker.connected.wait(10)
        honest.publish_and_wait(topics.STATUS.for_station(HONEST), _status(HONEST), retain=True)
        honest.publish_and_wait(topics.EVENTS.for_station(HONEST), b'{"kind": "x"}')
        hostile.publish_and_wait(topics.EVENTS.for_station(HOSTILE), b'{"k": 1}', retain=True)
        deadline = time.monotonic() + 5
        while not asked and time.monotonic() < deadline:
            time.sleep(0.02)
        assert asked == [[topics.EVENTS.for_station(HOSTILE)]]
    finally:
        stop.set()
        thread.join(5)
        hostile.close()
        honest.close()


def test_a_requested_sweep_runs_at_the_next_tick(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ops = FleetOps(sessions, fleet_settings(tmp_path, "[ingest]\nretained_sweep_interval_s = 3600"))
    runs: list[float] = []
    ops.sweep_retained = lambda: runs.append(time.monotonic())
    ops.asked_sweep_gap_s = 0.5
    stop = threading.Event()
    thread = threading.Thread(target=ops.run_jobs, args=(stop,), kwargs={"tick_s": 0.05})
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not runs and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(runs) == 1  # the first turn
        ops.request_retained_sweep()
        deadline = time.monotonic() + 5
        while len(runs) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(runs) == 2 and runs[1] - runs[0] >= 0.5  # not sooner than the gap
        ops.asked_sweep_gap_s = 3600
        ops.request_retained_sweep()
        time.sleep(0.5)
        assert len(runs) == 2  # asked again too soon: waits
    finally:
        stop.set()
        thread.join(10)
