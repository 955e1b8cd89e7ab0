"""The fleet's answers: receipts, and after a (re)connect the resume query and its answer."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, wait_until
from fleet.store.models import Packet
from protocol import topics
from protocol.chunks import chunk_count
from protocol.envelope import utc_timestamp
from protocol.messages import parse_message
from protocol.resume import HeldChunks, ResumeAnswer, ResumeQuery
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


def test_an_answer_is_used_once_and_only_when_it_fits_the_question(
    fleet_stack: FleetStack, tmp_path: Path
) -> None:
    identity = fleet_stack.provision_station("ct-35", tmp_path / "st")
    fleet_stack.stop_service()  # no ingest: the only answers are the ones below
    outbox_path = tmp_path / "st" / "outbox.sqlite"
    with Outbox(outbox_path, min_free_bytes=0) as outbox:
        entry = builder_for(identity).save(outbox, make_enrolment(1, image_size=100_000))
        count = chunk_count(outbox.sealed_size(entry.packet_id), CHUNK)
        outbox.mark_sending(entry.packet_id)
        outbox.record_progress(entry.packet_id, 2)  # a previous process sent chunks 0 and 1
        answers = topics.RESUME_ANSWER.for_station("ct-35")
        with (
            fleet_side(fleet_stack, topics.RESUME.for_station("ct-35")) as (fleet, queries),
            running_uplink(identity, outbox_path, chunk_size=CHUNK, receipt_timeout_s=600) as up,
        ):
            wait_until(lambda: queries, message="the resume query")
            wait_until(
                lambda: outbox.entry(entry.packet_id).chunks_sent == count,
                message="chunks 2.. acknowledged by the broker",
            )
            sent = up.stats.chunks_sent
            assert sent == count - 2

            def answer(*held: list[int], packet_id: str = entry.packet_id) -> bytes:
                return ResumeAnswer(
                    packets=[HeldChunks(packet_id=packet_id, held=list(held))],
                    answered_at=utc_timestamp(),
                ).to_payload()

            fits = answer([0, 0], [2, count - 1])  # all but chunk 1
            for payload in (
                b"not an answer",
                answer([0, count - 1], packet_id="ab" * 16),  # not asked about
                answer([0, count]),  # beyond the packet's chunks
                fits,
                fits,  # the same answer again: already used
            ):
                fleet.publish_and_wait(answers, payload)
            wait_until(lambda: up.stats.chunks_sent > sent, message="chunk 1 sent again")
            time.sleep(1.0)
            assert up.stats.chunks_sent == sent + 1, "only chunk 1, and only once"
