"""Webhook delivery against a real local HTTP server that fails the first attempts."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from fleet.ops import FleetOps
from fleet.store.ops_models import AlertNotification
from tests.fleet.conftest import OpsRig, make_rig
from tests.fleet.ops_helpers import heartbeat

SECRET = "webhook-secret-for-tests-0123456789"


@dataclass
class Receiver:
    """An HTTP server answering 503 to the first ``fail_first`` POSTs, then 204."""

    fail_first: int = 0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                failing = len(receiver.received) <= receiver.fail_first
                self.send_response(503 if failing else 204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/ewp"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def rig_for(
    tmp_path: Path, database_url: str, receiver: Receiver, max_attempts: int = 5
) -> Iterator[OpsRig]:
    (tmp_path / "hook-secret").write_text(SECRET)
    return make_rig(
        tmp_path,
        database_url,
        f"""
[alerts.webhook]
url = "{receiver.url}"
secret = {{ file = "{tmp_path / "hook-secret"}" }}
backoff_initial_s = 5
backoff_max_s = 60
max_attempts = {max_attempts}
""",
    )


def state(rig: OpsRig) -> tuple[str, int]:
    with rig.sessions() as session:
        n = session.scalars(select(AlertNotification)).one()
        return n.state, n.attempts


def test_retries_with_exponential_backoff_until_delivered(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    for rig in rig_for(tmp_path, database_url, receiver):
        sid = rig.station("ct-01")
        rig.heartbeat(heartbeat(sid, cpu_temperature_c=88.0))
        rig.ops.evaluate_alerts()
        assert rig.ops.deliver_notifications().retrying == 1  # 503
        assert state(rig) == ("pending", 1)
        rig.clock.advance(seconds=4)
        assert rig.ops.deliver_notifications().retrying == 0, "not due for 5 s"
        rig.clock.advance(seconds=1)
        assert rig.ops.deliver_notifications().retrying == 1  # 503 again; next wait 10 s
        rig.clock.advance(seconds=9)
        rig.ops.deliver_notifications()
        assert len(receiver.received) == 2
        # The fleet restarts: the notification waits in the database, a new sender finds it.
        rig.ops.close()
        rig.ops = FleetOps(rig.sessions, rig.settings, clock=rig.clock)
        rig.clock.advance(seconds=1)
        assert rig.ops.deliver_notifications().delivered == 1
        assert state(rig) == ("delivered", 3)
    keys = {headers["idempotency-key"] for headers, _ in receiver.received}
    assert len(keys) == 1, "the same notification each time, so the receiver can de-duplicate"
    headers, body = receiver.received[-1]
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["x-ewp-signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["event"] == "raised"
    assert payload["alert"]["rule"] == "cpu-hot" and payload["alert"]["station_id"] == "ct-01"


def test_gives_up_after_max_attempts_and_keeps_the_notification(
    tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    receiver.fail_first = 100
    for rig in rig_for(tmp_path, database_url, receiver, max_attempts=3):
        sid = rig.station("ct-02")
        rig.heartbeat(heartbeat(sid, cpu_temperature_c=88.0))
        rig.ops.evaluate_alerts()
        for _ in range(5):
            rig.ops.deliver_notifications()
            rig.clock.advance(seconds=60)
        assert state(rig) == ("failed", 3)
    assert len(receiver.received) == 3


def test_an_unreachable_webhook_is_retried(tmp_path: Path, database_url: str) -> None:
    for rig in make_rig(
        tmp_path, database_url, '[alerts.webhook]\nurl = "http://127.0.0.1:9/nothing"\n'
    ):
        sid = rig.station("ct-03")
        rig.heartbeat(heartbeat(sid, cpu_temperature_c=88.0))
        rig.ops.evaluate_alerts()
        assert rig.ops.deliver_notifications().retrying == 1
        with rig.sessions() as session:
            notification = session.scalars(select(AlertNotification)).one()
        assert notification.last_error and "Connect" in notification.last_error
