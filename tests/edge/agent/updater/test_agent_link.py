"""The updater inside the agent: an offer from the `update` topic is installed in a thread of
its own while sealed packets go first; reports left by a rollback reach the fleet."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from edge.agent.outbox import Outbox
from edge.agent.updater.agent_link import AgentUpdates
from protocol import topics
from protocol.messages import Message
from protocol.updates import UpdateStatus
from tests.edge.agent.helpers import make_builder, make_enrolment
from tests.edge.agent.updater.conftest import World


def _agent_updates(world: World, outbox: Path, sent: list[Message], restart: threading.Event):
    def send(spec: topics.TopicSpec, message: Message) -> None:
        assert spec is topics.UPDATE_STATUS
        sent.append(message)

    updates = AgentUpdates(
        station_id="st-0001",
        layout=world.layout,
        repository_url=f"{world.server.url}/",
        outbox_path=outbox,
        send=send,
        link_idle=lambda: True,
        connected=lambda: True,
        request_restart=restart.set,
    )
    updates.updater.reserve_bytes = 0
    updates.downloader.poll_s = 0.05
    return updates


def test_packets_waiting_in_the_outbox_go_before_the_download(world: World, tmp_path: Path) -> None:
    world.publish("1.1.0")
    outbox = tmp_path / "outbox.sqlite"
    builder, _, _ = make_builder()
    with Outbox(outbox, quota_bytes=10**9, min_free_bytes=0) as box:
        entry = builder.save(box, make_enrolment(1, image_size=2000))
    sent: list[Message] = []
    restart = threading.Event()
    updates = _agent_updates(world, outbox, sent, restart)
    updates.start()
    try:
        updates.on_offer(b"not json")  # hostile input: ignored
        updates.on_offer(world.offer("1.1.0").model_dump_json().encode())
        deadline = time.monotonic() + 10
        while updates.downloader.stats.waited_s < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert updates.downloader.stats.waited_s >= 0.5  # offered, verified, then waiting
        assert updates.downloader.stats.bytes_transferred == 0  # the packet goes first
        with Outbox(outbox) as box:  # the uplink delivered it
            box.mark_sending(entry.packet_id)
            box.mark_acked(entry.packet_id, '{"status": "stored"}')
        assert restart.wait(20), [getattr(m, "state", m) for m in sent]
    finally:
        updates.stop()
    states = [m.state for m in sent if isinstance(m, UpdateStatus)]
    assert states[-1] == "restarting"
    assert world.layout.installed_version() == "1.1.0"


def test_reports_left_by_a_rollback_are_sent_once(world: World, tmp_path: Path) -> None:
    world.publish("1.1.0")
    outbox = tmp_path / "outbox.sqlite"
    Outbox(outbox).close()
    assert world.updater().handle(world.offer("1.1.0")).restart
    world.layout.rollback("health check failed: broker: not connected")
    sent: list[Message] = []
    updates = _agent_updates(world, outbox, sent, threading.Event())
    assert updates.flush_reports() == 1
    assert updates.flush_reports() == 0
    (status,) = sent
    assert isinstance(status, UpdateStatus)
    assert status.state == "rolled-back" and status.version == "1.1.0"
    assert status.from_version == "1.0.0" and "broker" in (status.reason or "")
