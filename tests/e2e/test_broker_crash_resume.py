"""A broker SIGKILLed mid-upload forgets chunks it had acknowledged; the station does not wait.

On a real Mosquitto with persistence (autosave every 30 s): the fleet holds the first chunks of
a packet; its ingest is stopped, so the station's other chunks wait at the broker, acknowledged
(PUBACK) but neither delivered nor saved (the upload starts right after an autosave). The
broker is killed with SIGKILL and restarted: those chunks are gone. The station's receipt
timeout is 600 s, so a receipt within 30 s of its reconnect proves the resume query: the fleet
said which chunks it holds, and the station sent only the others, at once.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Packet, PacketChunk
from protocol import topics
from protocol.chunks import split_packet
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink

CHUNK = 16384
HELD_BEFORE = 3  # chunks the fleet has before the crash


def wait_for_autosave(persistence_file: Path) -> float:
    """Return right after the broker saved its state (every 30 s): when it saved (time.time)."""
    before = persistence_file.stat().st_mtime_ns if persistence_file.exists() else 0
    wait_until(
        lambda: persistence_file.exists() and persistence_file.stat().st_mtime_ns != before,
        timeout=45,
        interval=0.02,
        message="the broker's autosave",
    )
    return persistence_file.stat().st_mtime


def test_a_broker_killed_mid_upload_costs_no_receipt_timeout(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    root = tmp_path / "st"
    identity = fleet_stack.provision_station("ct-51", root)
    outbox_path = root / "outbox.sqlite"
    persistence_file = fleet_stack.broker.conf.parent / "mosquitto.db"
    with (
        Outbox(outbox_path, min_free_bytes=0) as outbox,
        running_uplink(
            identity,
            outbox_path,
            chunk_size=CHUNK,
            receipt_timeout_s=600,
            reconnect_min_s=0.2,
            reconnect_max_s=0.5,
        ) as uplink,
    ):
        wait_until(lambda: uplink.stats.connected, message="station connected")
        packet = builder_for(identity).seal(
            make_enrolment(1, image_size=200_000), seq=1, packet_id=uuid.uuid4().hex
        )
        chunks = list(split_packet(packet, CHUNK))
        count = len(chunks)
        assert count > HELD_BEFORE + 5
        assert fleet_stack.context is not None
        topic = topics.packet_topic("ct-51", packet.packet_id)
        fleet_stack.context.ingest.dispatch([(topic, c.to_bytes()) for c in chunks[:HELD_BEFORE]])
        # The ingest stops; its broker session stays and collects what the station sends.
        fleet_stack.stop_service()
        saved_at = wait_for_autosave(persistence_file)
        entry = outbox.enqueue(lambda seq: packet)
        wait_until(
            lambda: outbox.entry(entry.packet_id).chunks_sent == count,
            timeout=20,
            interval=0.01,
            message="every chunk acknowledged by the broker",
        )
        sent_before_crash = uplink.stats.chunks_sent
        assert time.time() < saved_at + 28, "too slow: the broker may have saved the chunks"
        fleet_stack.broker.kill()  # well before the next autosave: the queued chunks are lost
        fleet_stack.broker.start()
        fleet_stack.start_service()
        wait_until(lambda: uplink.stats.connects >= 2, interval=0.01, message="reconnect")
        reconnected_at = time.monotonic()
        wait_until(
            lambda: outbox.entry(entry.packet_id).state == "acked",
            timeout=30,
            message="the receipt within 30 s of the reconnect",
        )
        took = time.monotonic() - reconnected_at
        resent = uplink.stats.chunks_sent - sent_before_crash
        timeouts = uplink.stats.receipt_timeouts
        reconnects = uplink.stats.connects - 1
    assert took < 30 and timeouts == 0
    if reconnects == 1:  # one question, one answer: only the chunks the fleet lacked again
        assert resent == count - HELD_BEFORE
    else:  # a loaded machine dropped the link again: each answer may send some again
        assert resent >= count - HELD_BEFORE
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        stored = session.scalars(select(Packet).where(Packet.packet_id == entry.packet_id)).all()
        assert len(stored) == 1 and stored[0].sha256 == entry.sha256
        assert session.scalar(select(func.count()).select_from(PacketChunk)) == 0
