"""Dispatch: no message can stall ingest. A message whose handling raises goes to the
quarantine (and its station is flagged) while the others are handled; hostile values are
refused before they reach the database. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from fleet.ingest import Ingest, budgets
from fleet.ingest.core import REJECTIONS_PER_MINUTE
from fleet.packet_files import PacketFiles
from fleet.store.models import (
    AuditEntry,
    Packet,
    PacketChunk,
    QuarantinedMessage,
    Rejection,
    Station,
    StationEventRow,
)
from fleet.store.ops_models import Alert
from protocol import topics
from protocol.bounds import MAX_PAYLOAD
from protocol.chunks import split_packet
from protocol.envelope import SealedPacket, seal_packet, utc_timestamp
from protocol.keys import CentralPrivateKey, encode_station_public_key, station_key_id
from tests.fleet.conftest import OpsRig
from tests.fleet.ops_helpers import CENTRAL, heartbeat
from tests.fleet.test_ingest import packet

HOSTILE, GOOD = "st-hostile", "st-good"


def poison_the_store(sessions: sessionmaker[Session]) -> None:
    """A trigger that makes the database refuse what a poison message writes: an event of
    kind ``poison``, any packet of the hostile station (a stand-in for a value a column or
    the database will not take, or a bug in a handler)."""
    with sessions() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                text(
                    "CREATE TRIGGER poison_event BEFORE INSERT ON station_events "
                    "WHEN NEW.kind = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
                )
            )
            session.execute(
                text(
                    f"CREATE TRIGGER poison_packet BEFORE INSERT ON packets "
                    f"WHEN NEW.station_id = '{HOSTILE}' BEGIN SELECT RAISE(ABORT, 'poisoned'); "
                    "END"
                )
            )
        else:
            conditions = {
                "station_events": "NEW.kind = 'poison'",
                "packets": f"NEW.station_id = '{HOSTILE}'",
            }
            for table, condition in conditions.items():
                session.execute(
                    text(
                        f"CREATE FUNCTION poison_{table}() RETURNS trigger AS $$ BEGIN "
                        f"IF {condition} THEN RAISE EXCEPTION 'poisoned'; END IF; "
                        "RETURN NEW; END $$ LANGUAGE plpgsql"
                    )
                )
                session.execute(
                    text(
                        f"CREATE TRIGGER poison_{table} BEFORE INSERT ON {table} "
                        f"FOR EACH ROW EXECUTE FUNCTION poison_{table}()"
                    )
                )
        session.commit()


def register_signing(sessions: sessionmaker[Session], station_id: str) -> ed25519.Ed25519PrivateKey:
    key = ed25519.Ed25519PrivateKey.generate()
    with sessions() as session:
        station = session.get(Station, station_id)
        assert station is not None
        station.public_key = encode_station_public_key(key.public_key())
        station.key_id = station_key_id(key.public_key())
        session.commit()
    return key


def event(station_id: str, kind: str) -> tuple[str, bytes]:
    payload = json.dumps(
        {"station_id": station_id, "at": utc_timestamp(), "kind": kind, "severity": "info"}
    ).encode()
    return topics.EVENTS.for_station(station_id), payload


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def flags(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Alert.station_id).where(
                    Alert.rule == "station-misbehaving", Alert.active_key.is_not(None)
                )
            )
        )


def test_a_poison_message_is_quarantined_and_the_others_flow(rig: OpsRig) -> None:
    rig.station(HOSTILE)
    rig.station(GOOD)
    poison_the_store(rig.sessions)
    out = rig.ingest.dispatch([event(HOSTILE, "poison"), event(GOOD, "door-opened")])
    assert out == []
    with rig.sessions() as session:
        (row,) = session.scalars(select(QuarantinedMessage))
        assert (row.station_id, row.topic) == (HOSTILE, topics.EVENTS.for_station(HOSTILE))
        assert "poisoned" in row.detail and row.reason
        kinds = session.scalars(select(StationEventRow.station_id, StationEventRow.kind))
        assert list(kinds) == [GOOD]
        audited = session.scalars(
            select(AuditEntry.target).where(AuditEntry.action == "security.quarantined")
        )
        assert list(audited) == [HOSTILE]
    assert flags(rig.sessions) == [HOSTILE]
    assert rig.ingest.counters.quarantined == 1
    metrics = rig.ingest.metrics.render()[0].decode()
    assert "ewp_ingest_quarantined_total{reason=" in metrics
    # Sent again (a station resending, not the broker: the first was acknowledged): kept again,
    # flagged still once, and the stream goes on.
    rig.ingest.dispatch([event(HOSTILE, "poison"), event(GOOD, "door-closed")])
    assert count(rig.sessions, QuarantinedMessage) == 2
    assert count(rig.sessions, StationEventRow) == 2
    assert flags(rig.sessions) == [HOSTILE]


def test_a_poison_chunk_in_a_batch_leaves_the_other_packets_stored(
    rig: OpsRig, tmp_path: Path
) -> None:
    rig.station(HOSTILE)
    rig.station(GOOD)
    bad_key = register_signing(rig.sessions, HOSTILE)
    good_key = register_signing(rig.sessions, GOOD)
    poison_the_store(rig.sessions)
    bad, good = packet(HOSTILE, bad_key, seq=1, size=9000), packet(GOOD, good_key, seq=2)
    messages = [
        (topics.PACKET_CHUNKS.for_station(p.station_id).replace("+", p.packet_id), c.to_bytes())
        for p in (bad, good)
        for c in split_packet(p, 4096)
    ]
    out = rig.ingest.dispatch(messages)
    receipts = [json.loads(m.payload) for m in out]
    assert [(r["packet_id"], r["status"]) for r in receipts] == [(good.packet_id, "stored")]
    assert out[0].topic == topics.RECEIPTS.for_station(GOOD)
    with rig.sessions() as session:
        assert list(session.scalars(select(Packet.packet_id))) == [good.packet_id]
        quarantined = list(session.scalars(select(QuarantinedMessage.station_id)))
    assert quarantined == [HOSTILE], "the chunk that completes the hostile packet"
    assert flags(rig.sessions) == [HOSTILE]


HOSTILE_VALUES = {
    "huge reconciliation range": (
        topics.RECONCILIATION,
        {
            "station_id": HOSTILE,
            "at": "2026-12-06T10:00:00.000Z",
            "last_seq": 3_000_000,
            "created_total": 3_000_000,
            "days": [{"day": "2026-12-06", "created": 3_000_000, "seqs": [[1, 3_000_000]]}],
        },
    ),
    "2**63 last_seq": (
        topics.RECONCILIATION,
        {
            "station_id": HOSTILE,
            "at": "2026-12-06T10:00:00.000Z",
            "last_seq": 2**63,
            "created_total": 1,
            "days": [],
        },
    ),
    "last_seq far beyond what was stored": (
        topics.RECONCILIATION,
        {
            "station_id": HOSTILE,
            "at": "2026-12-06T10:00:00.000Z",
            "last_seq": 10**9,
            "created_total": 1,
            "days": [],
        },
    ),
    "over-long status reason": (
        topics.STATUS,
        {"station_id": HOSTILE, "state": "offline", "reason": "x" * 33},
    ),
    "over-long software version": (
        topics.STATUS,
        {"station_id": HOSTILE, "state": "online", "software_version": "9" * 65},
    ),
    "NUL in an event": (
        topics.EVENTS,
        {"station_id": HOSTILE, "at": "2026-12-06T10:00:00.000Z", "kind": "a\x00b"},
    ),
    "2**63 in an event": (
        topics.EVENTS,
        {
            "station_id": HOSTILE,
            "at": "2026-12-06T10:00:00.000Z",
            "kind": "k",
            "detail": {"n": 2**63},
        },
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_VALUES))
def test_hostile_values_are_refused_before_the_database(rig: OpsRig, name: str) -> None:
    rig.station(HOSTILE)
    spec, body = HOSTILE_VALUES[name]
    out = rig.ingest.dispatch([(spec.for_station(HOSTILE), json.dumps(body).encode())])
    assert out == []
    assert count(rig.sessions, QuarantinedMessage) == 0, "refused, not failed"
    with rig.sessions() as session:
        reasons = list(session.scalars(select(Rejection.reason)))
        station = session.get(Station, HOSTILE)
        assert station is not None and station.software_version is None
    assert len(reasons) == 1 and reasons[0].startswith("malformed"), reasons


def test_a_heartbeat_larger_than_its_bound_is_refused_unparsed(rig: OpsRig) -> None:
    rig.station(HOSTILE)
    hb = heartbeat(HOSTILE).model_dump(mode="json")
    hb["software_version"] = " " * 10
    payload = json.dumps(hb).encode() + b" " * MAX_PAYLOAD["heartbeat"]
    rig.ingest.dispatch([(topics.HEARTBEAT.for_station(HOSTILE), payload)])
    with rig.sessions() as session:
        assert list(session.scalars(select(Rejection.reason))) == ["oversized"]
        station = session.get(Station, HOSTILE)
        assert station is not None and station.last_heartbeat is None


def test_a_refusal_flood_writes_a_bounded_number_of_rows_and_flags_once(rig: OpsRig) -> None:
    """With the broker password only: chunks signed by another key, each of a new packet id."""
    rig.station(HOSTILE)
    register_signing(rig.sessions, HOSTILE)
    thief = ed25519.Ed25519PrivateKey.generate()
    garbage = [
        (topics.PACKET_CHUNKS.for_station(HOSTILE).replace("+", p.packet_id), c.to_bytes())
        for p in (packet(HOSTILE, thief, seq=n, size=100) for n in range(1, 201))
        for c in split_packet(p)
    ]
    for start in range(0, len(garbage), 50):
        rig.ingest.dispatch(garbage[start : start + 50])
    assert count(rig.sessions, Rejection) == REJECTIONS_PER_MINUTE
    with rig.sessions() as session:
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "security.rejected")
        )
    assert audited == REJECTIONS_PER_MINUTE, "the rest only counted"
    assert rig.ingest.counters.rejected == 200
    assert flags(rig.sessions) == [HOSTILE]


def chunk_messages(*packets: SealedPacket) -> list[tuple[str, bytes]]:
    return [
        (topics.PACKET_CHUNKS.for_station(p.station_id).replace("+", p.packet_id), c.to_bytes())
        for p in packets
        for c in split_packet(p, 4096)
    ]


def test_a_packet_sealed_to_another_key_is_refused_and_the_station_told_why(
    rig: OpsRig,
) -> None:
    rig.station(HOSTILE)
    key = register_signing(rig.sessions, HOSTILE)
    elsewhere = CentralPrivateKey.generate("X25519").public_key()
    wrong = seal_packet(
        b"x" * 6000,
        station_id=HOSTILE,
        packet_id="ab" * 16,
        seq=1,
        recipient=elsewhere,
        signer=key,
    )
    out = rig.ingest.dispatch(chunk_messages(wrong))
    receipts = {json.loads(m.payload)["status"] for m in out}
    assert receipts == {"rejected"}, "never stored: the station keeps the packet"
    reason = json.loads(out[0].payload)["reason"]
    assert elsewhere.key_id in reason and CENTRAL.public_key().key_id in reason
    assert count(rig.sessions, Packet) == 0
    with rig.sessions() as session:
        assert list(session.scalars(select(Rejection.reason))) == ["wrong-recipient"]
    assert flags(rig.sessions) == [HOSTILE]


def test_a_previous_central_key_is_accepted_while_configured(rig: OpsRig, tmp_path: Path) -> None:
    rig.station(GOOD)
    key = register_signing(rig.sessions, GOOD)
    previous = CentralPrivateKey.generate("MLKEM768_X25519").public_key()
    ingest = Ingest(
        rig.sessions,
        PacketFiles(tmp_path / "p"),
        central_keys=[CENTRAL.public_key(), previous],
    )
    old = seal_packet(
        b"y" * 5000, station_id=GOOD, packet_id="cd" * 16, seq=1, recipient=previous, signer=key
    )
    new = packet(GOOD, key, seq=2, size=5000)
    statuses = {json.loads(m.payload)["status"] for m in ingest.dispatch(chunk_messages(old, new))}
    assert statuses == {"stored"}
    assert count(rig.sessions, Packet) == 2


def first_chunks(station_id: str, key: ed25519.Ed25519PrivateKey, n: int, size: int = 9000):  # type: ignore[no-untyped-def]
    """The first chunk of each of ``n`` packets that will never be finished."""
    for seq in range(1, n + 1):
        p = packet(station_id, key, seq=seq, size=size, packet_id=f"{seq:032x}")
        chunk = next(split_packet(p, 4096))
        yield (
            topics.PACKET_CHUNKS.for_station(station_id).replace("+", p.packet_id),
            chunk.to_bytes(),
        )


def held(sessions: sessionmaker[Session], station_id: str) -> int:
    with sessions() as session:
        return len(
            set(
                session.scalars(
                    select(PacketChunk.packet_id).where(PacketChunk.station_id == station_id)
                )
            )
        )


@pytest.mark.parametrize("together", [False, True], ids=["one-by-one", "batched"])
def test_endless_new_packet_ids_are_bounded_per_station(rig: OpsRig, together: bool) -> None:
    rig.station(HOSTILE)
    rig.station(GOOD)
    key = register_signing(rig.sessions, HOSTILE)
    good_key = register_signing(rig.sessions, GOOD)
    flood = list(first_chunks(HOSTILE, key, budgets.MAX_OPEN_PACKETS + 10))
    if together:
        rig.ingest.dispatch(flood)
    else:
        for message in flood:
            rig.ingest.dispatch([message])
    assert held(rig.sessions, HOSTILE) == budgets.MAX_OPEN_PACKETS
    with rig.sessions() as session:
        reasons = list(session.scalars(select(Rejection.reason)))
    assert reasons == ["over-budget"] * 10
    assert flags(rig.sessions) == [HOSTILE]
    # Another station is not affected.
    good = packet(GOOD, good_key, seq=1, size=20_000)
    statuses = [json.loads(m.payload)["status"] for m in rig.ingest.dispatch(chunk_messages(good))]
    assert statuses == ["stored"]


def test_bytes_held_for_unfinished_packets_are_bounded_per_station(
    rig: OpsRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budgets, "MAX_HELD_BYTES", 50_000)
    rig.station(HOSTILE)
    key = register_signing(rig.sessions, HOSTILE)
    big = packet(HOSTILE, key, seq=1, size=200_000)
    out = rig.ingest.dispatch(chunk_messages(big)[:-1])  # never the last chunk
    assert out == []
    with rig.sessions() as session:
        size = session.scalar(select(func.sum(func.length(PacketChunk.data))))
        reasons = set(session.scalars(select(Rejection.reason)))
    assert size is not None and size <= 50_000
    assert reasons == {"over-budget"}


def test_an_arriving_chunk_does_not_read_the_held_chunks_data(rig: OpsRig) -> None:
    """Reassembly reads the data once, when the packet is complete: not on every arrival."""
    rig.station(GOOD)
    key = register_signing(rig.sessions, GOOD)
    sealed = packet(GOOD, key, seq=1, size=60_000)
    messages = chunk_messages(sealed)
    reads: list[str] = []

    def watch(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        sizes_only = statement.replace("length(packet_chunks.data)", "")
        if sizes_only.lstrip().upper().startswith("SELECT") and "packet_chunks.data" in sizes_only:
            reads.append(statement)

    engine = rig.sessions.kw["bind"]
    sqlalchemy.event.listen(engine, "before_cursor_execute", watch)
    try:
        for message in messages[:-1]:
            rig.ingest.dispatch([message])
        assert reads == []
        out = rig.ingest.dispatch([messages[-1]])
    finally:
        sqlalchemy.event.remove(engine, "before_cursor_execute", watch)
    assert [json.loads(m.payload)["status"] for m in out] == ["stored"]
    assert len(reads) == 1


def test_an_empty_message_is_dropped_not_refused(rig: OpsRig) -> None:
    """An empty message is a retained entry being cleared (fleet/ingest/retained.py)."""
    rig.station(HOSTILE)
    empty = [
        (topics.packet_topic(HOSTILE, "ab" * 16), b""),
        (topics.EVENTS.for_station(HOSTILE), b""),
        (topics.HEARTBEAT.for_station(HOSTILE), b""),
    ]
    assert rig.ingest.dispatch(empty) == []
    assert count(rig.sessions, Rejection) == 0
    assert count(rig.sessions, QuarantinedMessage) == 0
    assert flags(rig.sessions) == []
    # The same topics with a payload are handled (here: refused as malformed).
    rig.ingest.dispatch([(topics.EVENTS.for_station(HOSTILE), b"{")])
    assert count(rig.sessions, Rejection) == 1
