"""Pre-registered applications: delivered by the fleet, kept encrypted, read by an operator."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from edge.agent.autopilot import synthetic_application
from edge.agent.preregistered import CacheLockedError, PreregisteredCache
from edge.agent.service import StationAgent
from edge.agent.settings import AgentSettings
from ewp.local_fleet import FleetStack, wait_until
from protocol import topics
from protocol.messages import PreregistrationBatch


def apps(n: int) -> list[object]:
    rng = random.Random(5)
    return [synthetic_application(rng, i, "mu-05") for i in range(1, n + 1)]


def test_kept_encrypted_readable_only_with_an_operators_pin(tmp_path: Path) -> None:
    clock = [1000.0]
    cache = PreregisteredCache(tmp_path / "pre.sqlite", clock=lambda: clock[0])
    with pytest.raises(CacheLockedError, match="no operator is registered"):
        cache.store(apps(1), expires_at=2000)  # type: ignore[arg-type]
    cache.grant("somchai", "482913")
    cache.lock()
    batch = apps(3)
    assert cache.store(batch, expires_at=5000) == 3  # type: ignore[arg-type]
    number = batch[0].application_number  # type: ignore[attr-defined]
    assert cache.numbers() == sorted(a.application_number for a in batch)  # type: ignore[attr-defined]
    with pytest.raises(CacheLockedError, match="log in"):
        cache.lookup(number)
    with pytest.raises(CacheLockedError, match="wrong PIN"):
        cache.unlock("somchai", "000000")
    cache.unlock("somchai", "482913")
    assert cache.lookup(number.lower()) == batch[0]
    cache.grant("malee", "559031")  # while unlocked by somchai
    cache.lock()
    cache.unlock("malee", "559031")
    assert cache.lookup(number) == batch[0]
    # Nothing personal on disk.
    cache.close()
    disk = b"".join(p.read_bytes() for p in tmp_path.glob("pre.sqlite*"))
    for application in batch:
        assert application.applicant.family_name.encode() not in disk  # type: ignore[attr-defined]
        assert application.applicant.passport_number.encode() not in disk  # type: ignore[attr-defined]
    reopened = PreregisteredCache(tmp_path / "pre.sqlite", clock=lambda: clock[0])
    clock[0] = 6000
    assert reopened.numbers() == [], "expired applications are deleted"


def test_the_fleet_sends_a_batch_to_the_station(fleet_stack: FleetStack, tmp_path: Path) -> None:
    fleet_stack.provision_station("mu-05", tmp_path / "st", kind="mobile")
    settings = AgentSettings.model_validate(
        {
            "station": {"data_dir": tmp_path / "st"},
            "sensors": {"fingerprint": {"port": "socket://127.0.0.1:9"}},
            "uplink": {"heartbeat_interval_s": 1},
        }
    )
    agent = StationAgent(settings, software_version="test")
    agent.preregistered.grant("somchai", "482913")
    agent.preregistered.lock()
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    thread.start()
    try:
        wait_until(
            lambda: agent.uplink is not None and agent.uplink.stats.connected,
            message="station online",
        )
        batch = [a.model_dump(mode="json") for a in apps(4)]  # type: ignore[attr-defined]
        with fleet_stack.api() as api:
            sent = api.post(
                "/api/v1/stations/mu-05/preregistrations",
                json={"applications": batch, "valid_days": 10},
            )
            assert sent.status_code == 202, sent.text
            bad = api.post(
                "/api/v1/stations/mu-05/preregistrations",
                json={"applications": [{**batch[0], "job_type": "pirate"}]},
            )
            assert bad.status_code == 422 and "job type" in bad.text
        wait_until(lambda: len(agent.preregistered.numbers()) == 4, message="kept at the station")
        agent.preregistered.unlock("somchai", "482913")
        found = agent.preregistered.lookup(batch[2]["application_number"])
        assert (
            found is not None
            and found.applicant.passport_number == batch[2]["applicant"]["passport_number"]
        )
    finally:
        stop.set()
        thread.join(20)


def test_personal_data_goes_only_to_an_online_station_and_never_into_the_brokers_file(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    """Decision 0042: a batch reaches a connected station, an offline one is refused, and even a
    QoS 1 publish on the topic is not queued for the offline session (it subscribes at QoS 0),
    so no passport number lands in Mosquitto's persistence file — while a QoS 1 message on
    another topic of the same session is, which shows the file would have shown it."""
    fleet_stack.provision_station("mu-06", tmp_path / "st", kind="mobile")
    settings = AgentSettings.model_validate(
        {
            "station": {"data_dir": tmp_path / "st"},
            "sensors": {"fingerprint": {"port": "socket://127.0.0.1:9"}},
            "uplink": {"heartbeat_interval_s": 1},
        }
    )
    agent = StationAgent(settings, software_version="test")
    agent.preregistered.grant("somchai", "482913")
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(stop,))
    batch_of_four = [a.model_dump(mode="json") for a in apps(4)]  # type: ignore[attr-defined]
    first, later = batch_of_four[:2], batch_of_four[2:]
    with fleet_stack.api() as api:

        def online() -> bool:
            return bool(api.get("/api/v1/stations/mu-06").json()["online"])

        thread.start()
        try:
            wait_until(online, message="the fleet sees the station online")
            sent = api.post("/api/v1/stations/mu-06/preregistrations", json={"applications": first})
            assert sent.status_code == 202, sent.text
            wait_until(lambda: len(agent.preregistered.numbers()) == 2, message="delivered")
        finally:
            stop.set()
            thread.join(20)
        wait_until(lambda: not online(), message="the fleet sees the station offline")
        refused = api.post("/api/v1/stations/mu-06/preregistrations", json={"applications": later})
        assert refused.status_code == 409 and "offline" in refused.json()["detail"]
    # Straight onto the topics, past the API's check, while the station's session is offline.
    assert fleet_stack.context is not None
    publisher = fleet_stack.context.publisher()
    batch = PreregistrationBatch.model_validate(
        {
            "batch_id": "f" * 32,
            "issued_at": "2026-12-01T00:00:00Z",
            "expires_at": "2026-12-31T00:00:00Z",
            "applications": later,
        }
    )
    publisher.publish(topics.PREREGISTRATIONS.for_station("mu-06"), batch.to_payload(), qos=1)
    marker = b"queued-for-the-offline-session-" + b"7" * 16
    publisher.publish(topics.APPLICATION_STATUS.for_station("mu-06"), marker, qos=1)
    fleet_stack.broker.stop()  # SIGTERM: Mosquitto writes its persistence file
    saved = (fleet_stack.settings.service.data_dir / "broker" / "mosquitto.db").read_bytes()
    assert marker in saved, "the session's QoS 1 queue is in the file (the check can fail)"
    for application in first + later:
        passport = application["applicant"]["passport_number"].encode()
        assert passport not in saved
