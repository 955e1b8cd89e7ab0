"""The fleet's answers: receipts, and after a (re)connect the resume query and its answer."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Packet
from protocol import topics
from protocol.chunks import chunk_count
from protocol.messages import parse_message
from protocol.resume import ResumeQuery
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, fleet_side, running_uplink

CHUNK = 16384


def test_a_packet_sent_in_part_before_a_restart_is_asked_about_and_completed_at_once(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    identity = fleet_stack.provision_station("ct-34", tmp_path / "st")
    outbox_path = tmp_path / "st" / "outbox.sqlite"
    with Outbox(outbox_path, min_free_bytes=0) as outbox:
        entry = builder_for(identity).save(outbox, make_enrolment(1, image_size=100_000))
        count = chunk_count(outbox.sealed_size(entry.packet_id), CHUNK)
        # A previous agent process had two chunks acknowledged by a broker that then lost
        # them: the outbox says "resume at chunk 2", the fleet holds nothing.
        outbox.mark_sending(entry.packet_id)
        outbox.record_progress(entry.packet_id, 2)
        with (
            fleet_side(fleet_stack, topics.RESUME.for_station("ct-34")) as (_, queries),
            running_uplink(identity, outbox_path, chunk_size=CHUNK, receipt_timeout_s=600) as up,
        ):
            wait_until(
                lambda: outbox.entry(entry.packet_id).state == "acked",
                timeout=30,
                message="the receipt, long before the receipt timeout",
            )
            assert up.stats.receipt_timeouts == 0
    query = parse_message(ResumeQuery, queries[0].payload)
    assert query.station_id == "ct-34"
    assert [(p.packet_id, p.sha256, p.count) for p in query.packets] == [
        (entry.packet_id, entry.sha256, count)
    ]
    assert fleet_stack.context is not None
    with fleet_stack.context.sessions() as session:
        stored = session.scalars(select(Packet.sha256)).all()
    assert stored == [entry.sha256]
