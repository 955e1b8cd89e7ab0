"""Resume queries: the fleet answers from what it stored, never from the station's claims,
and refuses a query that is oversized, malformed or not the station's own."""

from __future__ import annotations

import json

from sqlalchemy import select

from fleet.ingest.resume import ANSWER_BYTES, answers_for
from fleet.store.models import Packet, Rejection
from protocol import topics
from protocol.bounds import MAX_CHUNKS, MAX_OPEN_PACKETS, MAX_PAYLOAD
from protocol.chunks import MAX_CHUNK_MESSAGE_SIZE, chunk_count, split_packet
from protocol.envelope import SealedPacket
from protocol.messages import Receipt, parse_message
from protocol.resume import HeldChunks, ResumeAnswer
from tests.fleet.conftest import OpsRig
from tests.fleet.test_ingest import packet
from tests.fleet.test_ingest_dispatch import register_signing

STATION, OTHER = "st-resume", "st-other"
CHUNK = 4096


def chunk(p: SealedPacket, index: int) -> tuple[str, bytes]:
    c = next(split_packet(p, CHUNK, start=index))
    return topics.packet_topic(p.station_id, p.packet_id), c.to_bytes()


def query(station_id: str, *packets: SealedPacket, **fields: object) -> tuple[str, bytes]:
    body = {
        "station_id": station_id,
        "packets": [
            {
                "packet_id": p.packet_id,
                "sha256": p.header.sealed_sha256,
                "count": chunk_count(len(p.sealed), CHUNK),
            }
            for p in packets
        ],
        **fields,
    }
    return topics.RESUME.for_station(station_id), json.dumps(body).encode()


def answered(out: list[object]) -> tuple[dict[str, Receipt], dict[str, set[int]]]:
    receipts: dict[str, Receipt] = {}
    held: dict[str, set[int]] = {}
    for message in out:
        topic, payload = message.topic, message.payload  # type: ignore[attr-defined]
        if topic == topics.RECEIPTS.for_station(STATION):
            receipt = parse_message(Receipt, payload)
            receipts[receipt.packet_id] = receipt
        else:
            assert topic == topics.RESUME_ANSWER.for_station(STATION)
            for entry in parse_message(ResumeAnswer, payload).packets:
                held[entry.packet_id] = entry.indexes()
    return receipts, held


def rejections(rig: OpsRig) -> list[str]:
    with rig.sessions() as session:
        return list(session.scalars(select(Rejection.reason)))


def test_stored_partial_and_unknown_packets_are_answered_from_the_store(rig: OpsRig) -> None:
    rig.station(STATION)
    key = register_signing(rig.sessions, STATION)
    stored, partial, unknown = (packet(STATION, key, seq=n, size=20_000) for n in (1, 2, 3))
    assert chunk_count(len(partial.sealed), CHUNK) == 5
    rig.ingest.dispatch([chunk(stored, i) for i in range(5)])
    rig.ingest.dispatch([chunk(partial, 0), chunk(partial, 1), chunk(partial, 3)])
    receipts, held = answered(rig.ingest.dispatch([query(STATION, stored, partial, unknown)]))
    assert set(receipts) == {stored.packet_id}
    receipt = receipts[stored.packet_id]
    assert receipt.status == "duplicate" and receipt.sha256 == stored.header.sealed_sha256
    assert held == {partial.packet_id: {0, 1, 3}, unknown.packet_id: set()}
    # What the answer names is what the station sends: the packet is then complete.
    receipts = {
        json.loads(m.payload)["status"]
        for m in rig.ingest.dispatch([chunk(partial, 2), chunk(partial, 4)])
    }
    assert receipts == {"stored"}
    assert rejections(rig) == []


def test_another_stations_packet_and_another_content_reveal_nothing(rig: OpsRig) -> None:
    rig.station(STATION)
    rig.station(OTHER)
    mine = register_signing(rig.sessions, STATION)
    theirs = register_signing(rig.sessions, OTHER)
    stored, partial = packet(OTHER, theirs, seq=1, size=20_000), packet(OTHER, theirs, seq=2)
    rig.ingest.dispatch([chunk(stored, i) for i in range(5)])
    rig.ingest.dispatch([chunk(partial, 0), chunk(partial, 1)])
    # The same packet ids asked about by another station, with the other station's hashes:
    # its own packets for all the query can tell, but the store says they are not.
    fake_stored = packet(STATION, mine, seq=1, size=20_000, packet_id=stored.packet_id)
    fake_partial = packet(STATION, mine, seq=2, packet_id=partial.packet_id)
    for asked in ((fake_stored, fake_partial), (stored, partial)):
        receipts, held = answered(rig.ingest.dispatch([query(STATION, *asked)]))
        assert receipts == {}
        assert held == {stored.packet_id: set(), partial.packet_id: set()}
    # Its own packet with the content changed: not "stored" either.
    rig.ingest.dispatch([chunk(packet(STATION, mine, seq=7, size=3000), 0)])
    other_content = packet(STATION, mine, seq=8, size=3000, packet_id=f"{7:032x}")
    receipts, held = answered(rig.ingest.dispatch([query(STATION, other_content)]))
    assert receipts == {} and held == {other_content.packet_id: set()}
    with rig.sessions() as session:
        assert session.scalar(select(Packet.station_id).where(Packet.seq == 7)) == STATION


def test_oversized_malformed_and_foreign_queries_are_refused(rig: OpsRig) -> None:
    rig.station(STATION)
    key = register_signing(rig.sessions, STATION)
    p = packet(STATION, key, seq=1)
    topic = topics.RESUME.for_station(STATION)
    too_many = [packet(STATION, key, seq=n, size=100) for n in range(1, MAX_OPEN_PACKETS + 2)]
    hostile = [
        (topic, b"{" * (MAX_PAYLOAD["resume"] + 1)),  # oversized: refused unparsed
        (topic, b"not json"),
        query(STATION),  # no packet at all
        query(STATION, *too_many),  # more than the budget of unfinished packets
        query(STATION, p, p),  # the same packet twice
        query(STATION, p, extra="field"),
        (topic, json.dumps({"station_id": STATION, "packets": [
            {"packet_id": p.packet_id, "sha256": p.header.sealed_sha256, "count": 10**9}]}
        ).encode()),
        (topic, query(OTHER, p)[1]),  # names another station
    ]  # fmt: skip
    assert len(query(STATION, *too_many)[1]) < MAX_PAYLOAD["resume"], "refused by its schema"
    assert rig.ingest.dispatch(hostile) == []
    # Each refused and counted (a repeat of the same refusal within a minute gets no row).
    assert rig.ingest.counters.rejected == len(hostile)
    assert set(rejections(rig)) == {"oversized", "malformed-resume", "station-mismatch"}
    rig.station("st-gone", state="revoked")
    assert rig.ingest.dispatch([query("st-gone", p)]) == []
    assert "unregistered" in rejections(rig)


def test_a_large_answer_goes_out_in_messages_the_broker_takes() -> None:
    # The worst case: every queried packet of 4,096 chunks holds every other one.
    entries = [
        HeldChunks.of(f"{n:032x}", set(range(0, MAX_CHUNKS, 2))) for n in range(MAX_OPEN_PACKETS)
    ]
    answers = answers_for(entries)
    assert len(answers) > 1
    assert all(len(a.to_payload()) <= ANSWER_BYTES + 1024 for a in answers)
    assert max(len(a.to_payload()) for a in answers) < MAX_CHUNK_MESSAGE_SIZE
    assert [e for a in answers for e in a.packets] == entries
    assert answers_for([]) == []
