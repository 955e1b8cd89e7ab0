"""The MQTT session library against a real Mosquitto: TLS verified (and refused when the
certificate is not the fleet's), typed handlers, subscriptions restored after the broker lost
the session, refusals and unreachable brokers told clearly, backoff with jitter (and at once
after a healthy connection dropped)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet.broker.dynsec import DynsecAdmin
from fleet.tls import create_fleet_tls
from mqtt_session import (
    Backoff,
    BrokerAddress,
    Credentials,
    Message,
    MqttSession,
    SessionError,
    SessionOptions,
    Subscription,
    TlsOptions,
)
from protocol import topics
from simulators.network import NetworkSimulator
from tests.conftest import Broker, start_broker


def _wait(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _service(broker: Broker, **options: object) -> MqttSession:
    return MqttSession(
        broker.address,
        SessionOptions(
            client_id=f"svc-{secrets.token_hex(4)}",
            credentials=Credentials(
                broker.accounts.service_username, broker.accounts.service_password
            ),
            **options,  # type: ignore[arg-type]
        ),
    )


def _station(broker: Broker, station_id: str) -> Credentials:
    password = secrets.token_urlsafe(24)
    with DynsecAdmin(
        broker.address,
        broker.accounts.admin_username,
        broker.accounts.admin_password,
    ) as admin:
        admin.create_station(station_id, password)
    return Credentials(station_id, password)


def test_backoff_grows_with_full_jitter_and_stays_bounded() -> None:
    backoff = Backoff(min_s=0.5, max_s=30.0)
    highest = lambda low, high: high  # noqa: E731
    lowest = lambda low, high: low  # noqa: E731
    assert [backoff.delay(n, highest) for n in (1, 2, 3, 10, 100)] == [1.0, 2.0, 4.0, 30.0, 30.0]
    assert all(backoff.delay(n, lowest) == 0.5 for n in (1, 5, 50))
    with pytest.raises(SessionError):
        Backoff(min_s=0, max_s=1)
    assert backoff.after_healthy(highest) == 0.25 and backoff.after_healthy(lowest) == 0.0
    with pytest.raises(SessionError):
        Backoff(quick_s=-0.1)


def test_broker_urls() -> None:
    assert BrokerAddress.from_url("mqtt://fleet.example").port == 1883
    secure = BrokerAddress.from_url("mqtts://fleet.example")
    assert secure.port == 8883 and secure.tls == TlsOptions()
    with pytest.raises(SessionError, match="plaintext but TLS"):
        BrokerAddress.from_url("mqtt://fleet.example", TlsOptions())
    with pytest.raises(SessionError, match="expected mqtt"):
        BrokerAddress.from_url("http://fleet.example")
    with pytest.raises(SessionError, match="does not exist"):
        TlsOptions(ca_file=Path("/nonexistent/ca.pem"))


def test_station_over_tls_gets_typed_messages_and_subscriptions_survive_a_lost_session(
    broker: Broker,
) -> None:
    creds = _station(broker, "st-tls-01")
    received: list[Message] = []
    station = MqttSession(
        BrokerAddress.from_url(broker.tls_url, TlsOptions(ca_file=broker.ca_file)),
        # No session kept at the broker: only the library's resubscribe brings it back.
        SessionOptions(client_id="st-tls-01", credentials=creds, session_expiry_s=0),
        [Subscription(topics.RECEIPTS.for_station("st-tls-01"), 1, received.append)],
    )
    service = _service(broker).connect_wait()
    stop = threading.Event()
    driver = threading.Thread(target=lambda: [station.step(0.05) for _ in iter(stop.is_set, True)])
    driver.start()
    try:
        _wait(station.ready.is_set)
        service.publish_and_wait(topics.RECEIPTS.for_station("st-tls-01"), b"first")
        _wait(lambda: len(received) == 1)
        assert received[0].payload == b"first" and received[0].qos == 1
        assert received[0].topic == topics.RECEIPTS.for_station("st-tls-01")

        broker.process.kill()  # the broker forgets everything not yet saved
        broker.process.start()
        _wait(lambda: station.ready.is_set() and station.connects >= 2, timeout=30)
        _wait(service.connected.is_set, timeout=30)
        service.publish_and_wait(topics.RECEIPTS.for_station("st-tls-01"), b"second")
        _wait(lambda: len(received) == 2)
        assert received[1].payload == b"second"
    finally:
        stop.set()
        driver.join()
        station.close()
        service.close()


def test_a_certificate_from_another_ca_is_refused(broker: Broker, tmp_path: Path) -> None:
    other = create_fleet_tls(tmp_path / "other", ["localhost"])
    session = MqttSession(
        BrokerAddress.from_url(broker.tls_url, TlsOptions(ca_file=other.ca_file)),
        SessionOptions(
            client_id="svc-wrong-ca",
            credentials=Credentials(
                broker.accounts.service_username, broker.accounts.service_password
            ),
        ),
    )
    with pytest.raises(SessionError, match="certificate this station does not trust"):
        session.connect_wait(timeout=5)


def test_host_name_is_verified(tmp_path: Path) -> None:
    only_localhost = create_fleet_tls(tmp_path / "tls", ["localhost"])
    broker = start_broker(tmp_path / "broker", only_localhost)
    try:
        url = f"mqtts://127.0.0.1:{broker.tls_port}"  # not a name in the certificate
        creds = Credentials(broker.accounts.service_username, broker.accounts.service_password)
        strict = MqttSession(
            BrokerAddress.from_url(url, TlsOptions(ca_file=only_localhost.ca_file)),
            SessionOptions(client_id="svc-strict", credentials=creds),
        )
        with pytest.raises(SessionError, match="does not trust"):
            strict.connect_wait(timeout=5)
        lenient = MqttSession(
            BrokerAddress.from_url(
                url, TlsOptions(ca_file=only_localhost.ca_file, verify_hostname=False)
            ),
            SessionOptions(client_id="svc-lenient", credentials=creds),
        )
        lenient.connect_wait(timeout=5).close()
    finally:
        broker.process.stop()


def test_refused_login_and_unreachable_broker_fail_clearly(broker: Broker) -> None:
    refused = MqttSession(
        broker.address,
        SessionOptions(client_id="intruder", credentials=Credentials("ewp-fleet", "wrong")),
    )
    with pytest.raises(SessionError, match="refused the login of intruder"):
        refused.connect_wait(timeout=5)
    assert refused.refusal is not None and refused.refusal.not_authorised

    plaintext_on_tls = MqttSession(
        BrokerAddress(broker.host, broker.tls_port),
        SessionOptions(client_id="svc-plain"),
    )
    with pytest.raises(SessionError):
        plaintext_on_tls.connect_wait(timeout=5)


def test_unreachable_broker_is_retried_with_backoff(broker: Broker) -> None:
    now = [0.0]
    delays: list[float] = []

    def uniform(low: float, high: float) -> float:
        delays.append(high)
        return high

    session = MqttSession(
        BrokerAddress(broker.host, 1),  # nothing listens on port 1
        SessionOptions(client_id="svc-retry", backoff=Backoff(0.5, 4.0)),
        clock=lambda: now[0],
        uniform=uniform,
    )
    for _ in range(5):
        session.step(0)
        now[0] += 10.0  # past any delay: the next step tries again
    assert delays == [1.0, 2.0, 4.0, 4.0, 4.0]
    assert session.last_error is not None and "cannot reach the broker" in session.last_error


def test_a_healthy_connection_that_drops_is_tried_again_at_once(broker: Broker) -> None:
    """A link reset after a healthy session: the next try within ``quick_s``; a connection
    that drops at once, or a quick try that fails, gets the usual backoff."""
    now = [0.0]
    waits: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        waits.append((low, high))
        return high

    with NetworkSimulator() as sim:
        link = sim.add_link((broker.host, broker.port))
        session = MqttSession(
            BrokerAddress("127.0.0.1", link.listen_port),
            SessionOptions(
                client_id="svc-quick",
                credentials=Credentials(
                    broker.accounts.service_username, broker.accounts.service_password
                ),
                backoff=Backoff(0.5, 4.0, quick_s=0.25, healthy_s=10.0),
            ),
            clock=lambda: now[0],
            uniform=uniform,
        )

        def step_until(condition: Callable[[], bool]) -> None:
            deadline = time.monotonic() + 10
            while not condition():
                assert time.monotonic() < deadline, "condition not met in time"
                session.step(0.05)

        try:
            step_until(session.connected.is_set)
            now[0] += 10.0  # logged in for healthy_s: a healthy connection
            link.reset_connections()
            step_until(lambda: not session.connected.is_set())
            assert waits == [(0.0, 0.25)], "retried within quick_s"
            now[0] += 0.25
            step_until(session.connected.is_set)
            link.reset_connections()  # dropped at once: not healthy
            step_until(lambda: not session.connected.is_set())
            assert waits[1:] == [(0.5, 1.0)], "the usual backoff"
            now[0] += 1.0
            step_until(session.connected.is_set)
            now[0] += 60.0
            link.cut()  # healthy, then out of coverage: the quick try fails
            step_until(lambda: not session.connected.is_set())
            now[0] += 0.25
            step_until(lambda: len(waits) == 4)
            assert waits[2:] == [(0.0, 0.25), (0.5, 1.0)], "after a failed quick try: backoff"
            link.restore()
            now[0] += 1.0
            step_until(session.connected.is_set)
        finally:
            session.close()
