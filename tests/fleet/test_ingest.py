"""Fleet ingest decisions: exactly once, refusals that change nothing, any chunk order."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from fleet.ingest import Ingest
from fleet.packet_files import PacketFiles
from fleet.store.db import make_engine, session_factory
from fleet.store.models import AuditEntry, Packet, PacketChunk, Rejection, Station
from protocol.chunks import split_packet
from protocol.envelope import SealedPacket, seal_packet
from protocol.keys import encode_station_public_key, station_key_id
from tests.fleet.ops_helpers import CENTRAL


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def register(
    sessions: sessionmaker[Session],
    station_id: str,
    key: ed25519.Ed25519PrivateKey,
    state: str = "active",
) -> None:
    with sessions() as session:
        session.add(
            Station(
                station_id=station_id,
                name=station_id,
                kind="center",
                state=state,
                public_key=encode_station_public_key(key.public_key()),
                key_id=station_key_id(key.public_key()),
            )
        )
        session.commit()


def packet(
    station_id: str,
    key: ed25519.Ed25519PrivateKey,
    seq: int = 1,
    size: int = 50_000,
    packet_id: str | None = None,
) -> SealedPacket:
    return seal_packet(
        random.Random(seq).randbytes(size),
        station_id=station_id,
        packet_id=packet_id or f"{seq:032x}",
        seq=seq,
        recipient=CENTRAL.public_key(),
        signer=key,
    )


def counts(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(Packet)) or 0,
            session.scalar(select(func.count()).select_from(PacketChunk)) or 0,
            session.scalar(select(func.count()).select_from(Rejection)) or 0,
        )


def test_chunks_in_any_order_store_once_and_resend_is_a_duplicate(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-01", key)
    files = PacketFiles(tmp_path / "packets")
    ingest = Ingest(
        sessions, files, central_keys=[CENTRAL.public_key()], duplicate_receipt_interval_s=0
    )
    sealed = packet("ct-01", key)
    chunks = [c.to_bytes() for c in split_packet(sealed, 4096)]
    random.Random(1).shuffle(chunks)
    receipts = [ingest.handle_chunk("ct-01", c) for c in chunks]
    assert [r.status for r in receipts if r] == ["stored"]
    assert receipts[-1] is not None and receipts[-1].sha256 == sealed.sha256
    assert counts(sessions) == (1, 0, 0), "one packet, no chunk left behind"
    with sessions() as session:
        stored = session.get(Packet, sealed.packet_id)
        assert stored is not None
        assert files.read(stored.path) == sealed
    # The station never got the receipt and sends everything again.
    again = [ingest.handle_chunk("ct-01", c) for c in chunks]
    assert {r.status for r in again if r} == {"duplicate"}
    assert counts(sessions) == (1, 0, 0)


def test_bad_signature_is_refused_logged_and_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key, impostor = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-02", key)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    forged = packet("ct-02", impostor)
    receipts = [ingest.handle_chunk("ct-02", c.to_bytes()) for c in split_packet(forged, 8192)]
    assert {r.status for r in receipts if r} == {"rejected"}
    assert counts(sessions) == (0, 0, 1), "refused: no packet, no chunk; one rejection record"
    with sessions() as session:
        rejection = session.scalars(select(Rejection)).one()
        assert rejection.reason == "bad-signature"
        logged = session.scalars(select(AuditEntry)).one()
        assert (logged.action, logged.target) == ("security.rejected", "ct-02")
    assert not any((tmp_path / "packets").rglob("*.ewp"))


def test_unregistered_and_revoked_stations_are_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-03", key, state="revoked")
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    for station in ("ct-03", "ct-99"):
        for chunk in split_packet(packet(station, key), 65536):
            assert ingest.handle_chunk(station, chunk.to_bytes()) is None
    packets, chunks, rejections = counts(sessions)
    assert (packets, chunks) == (0, 0) and rejections == 2


def test_header_naming_another_station_is_refused(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-04", key)
    register(sessions, "ct-05", key)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    chunk = next(split_packet(packet("ct-05", key), 65536))
    receipt = ingest.handle_chunk("ct-04", chunk.to_bytes())
    assert receipt is not None and receipt.status == "rejected"
    assert counts(sessions)[:2] == (0, 0)


def test_same_packet_id_with_other_content_is_a_conflict(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-06", key)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    first = packet("ct-06", key, seq=1, packet_id="aa" * 16)
    other = packet("ct-06", key, seq=2, packet_id="aa" * 16)
    for c in split_packet(first, 65536):
        ingest.handle_chunk("ct-06", c.to_bytes())
    receipt = ingest.handle_chunk("ct-06", next(split_packet(other, 65536)).to_bytes())
    assert receipt is not None and receipt.status == "rejected"
    with sessions() as session:
        stored = session.get(Packet, "aa" * 16)
        assert stored is not None and stored.sha256 == first.sha256


@pytest.mark.parametrize("garbage", [b"", b"EWPC", b"EWPC\x01\xff\xff", b"x" * 1000])
def test_malformed_chunks_are_refused(
    sessions: sessionmaker[Session], tmp_path: Path, garbage: bytes
) -> None:
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    assert ingest.handle_chunk("ct-07", garbage) is None
    assert counts(sessions) == (0, 0, 1)


def test_corrupted_chunk_data_asks_for_a_resend_then_the_resend_is_stored(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-08", key)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    sealed = packet("ct-08", key, size=20_000)
    good = list(split_packet(sealed, 8192))
    bad = good[1]
    corrupted = type(bad)(
        bad.header,
        bad.header_bytes,
        bad.signature,
        bad.index,
        bad.count,
        bad.offset,
        bytes([bad.data[0] ^ 0xFF]) + bad.data[1:],
    )
    receipts = [ingest.handle_chunk("ct-08", c.to_bytes()) for c in (good[0], corrupted, good[2])]
    final = receipts[-1]
    assert final is not None and final.status == "rejected" and final.retry
    assert counts(sessions) == (0, 0, 1), "chunks dropped, refusal recorded, nothing stored"
    resent = [ingest.handle_chunk("ct-08", c.to_bytes()) for c in good]
    assert [r.status for r in resent if r] == ["stored"]


def test_chunks_taken_together_store_every_packet_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """What a worker receives at once: chunks of many packets, some complete in the batch,
    others across batches, some delivered twice; one transaction per batch."""
    keys = {f"ct-1{n}": ed25519.Ed25519PrivateKey.generate() for n in range(3)}
    for station, key in keys.items():
        register(sessions, station, key)
    files = PacketFiles(tmp_path / "packets")
    ingest = Ingest(
        sessions, files, central_keys=[CENTRAL.public_key()], duplicate_receipt_interval_s=0
    )
    sealed = [
        packet(station, key, seq=n, size=1000 + 3000 * n, packet_id=f"{index:03x}{n:029x}")
        for index, (station, key) in enumerate(keys.items())
        for n in range(1, 7)
    ]
    items = [(p.station_id, c.to_bytes()) for p in sealed for c in split_packet(p, 4096)]
    items += items[::5]  # QoS 1 redeliveries
    random.Random(3).shuffle(items)
    commits = []
    event.listen(sessions.kw["bind"], "commit", commits.append)
    receipts = []
    for start in range(0, len(items), 16):
        receipts += ingest.handle_chunks(items[start : start + 16])
    batches = -(-len(items) // 16)
    assert len(commits) <= batches + 4, "about one transaction per batch, not one per chunk"
    stored = sorted(r.packet_id for _, r in receipts if r.status == "stored")
    assert stored == sorted(p.packet_id for p in sealed)
    station_of = {p.packet_id: p.station_id for p in sealed}
    assert all(station == station_of[r.packet_id] for station, r in receipts)
    assert counts(sessions) == (len(sealed), 0, 0), "every packet, no chunk left behind"
    with sessions() as session:
        for p in sealed:
            row = session.get(Packet, p.packet_id)
            assert row is not None and files.read(row.path) == p
    assert ingest.counters.chunks == len(items)
    # Everything again: acknowledged as duplicates, stored once.
    first_chunks = [(p.station_id, next(split_packet(p, 4096)).to_bytes()) for p in sealed]
    again = ingest.handle_chunks(first_chunks)
    assert sorted(r.packet_id for _, r in again) == sorted(p.packet_id for p in sealed)
    assert {r.status for _, r in again} == {"duplicate"}
    assert counts(sessions) == (len(sealed), 0, 0)


def test_a_batch_answers_each_chunk_as_if_it_came_alone(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Refusals, duplicates, a conflict and a corrupted packet among good chunks."""
    key, impostor = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-20", key)
    register(sessions, "ct-21", key, state="revoked")
    ingest = Ingest(
        sessions,
        PacketFiles(tmp_path / "packets"),
        central_keys=[CENTRAL.public_key()],
        duplicate_receipt_interval_s=0,
    )
    good = packet("ct-20", key, seq=1, size=10_000)
    already = packet("ct-20", key, seq=2, size=3_000)
    for chunk in split_packet(already, 4096):
        ingest.handle_chunk("ct-20", chunk.to_bytes())
    clash = packet("ct-20", key, seq=3, size=3_000, packet_id=already.packet_id)
    forged = packet("ct-20", impostor, seq=4, size=3_000)
    revoked = packet("ct-21", key, seq=5, size=3_000)
    damaged = list(split_packet(packet("ct-20", key, seq=6, size=10_000), 4096))
    bad = damaged[1]
    damaged[1] = type(bad)(
        bad.header, bad.header_bytes, bad.signature, bad.index, bad.count, bad.offset,
        bytes([bad.data[0] ^ 0xFF]) + bad.data[1:],
    )  # fmt: skip
    batch = [
        *[("ct-20", c.to_bytes()) for c in split_packet(good, 4096)],
        ("ct-20", next(split_packet(already, 4096)).to_bytes()),
        ("ct-20", next(split_packet(clash, 4096)).to_bytes()),
        ("ct-20", next(split_packet(forged, 4096)).to_bytes()),
        ("ct-21", next(split_packet(revoked, 4096)).to_bytes()),
        ("ct-20", b"EWPC\x01\xff\xff"),
        *[("ct-20", c.to_bytes()) for c in damaged],
    ]
    random.Random(4).shuffle(batch)
    answers = sorted((r.packet_id, r.status, r.retry) for _, r in ingest.handle_chunks(batch))
    assert answers == sorted(
        [
            (good.packet_id, "stored", False),
            (already.packet_id, "duplicate", False),
            (already.packet_id, "rejected", False),  # the clash
            (forged.packet_id, "rejected", False),
            (damaged[0].header.packet_id, "rejected", True),  # send it again
        ]
    )
    with sessions() as session:
        reasons = sorted(r.reason for r in session.scalars(select(Rejection)))
        stored = {p.packet_id: p.sha256 for p in session.scalars(select(Packet))}
    assert reasons == ["bad-signature", "conflict", "hash-mismatch", "malformed", "unregistered"]
    assert stored == {good.packet_id: good.sha256, already.packet_id: already.sha256}
    assert counts(sessions)[1] == 0, "no chunk left behind"


@pytest.mark.parametrize("together", [False, True], ids=["alone", "together"])
def test_every_chunk_stored_but_never_assembled_is_assembled_by_a_resend(
    sessions: sessionmaker[Session], tmp_path: Path, together: bool
) -> None:
    """A worker stored the last chunk's row and died before assembling (PostgreSQL lets two
    workers each store one of the last chunks): the station's resend must finish the job,
    not be ignored as chunks already held, forever."""
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-30", key)
    ingest = Ingest(
        sessions, PacketFiles(tmp_path / "packets"), central_keys=[CENTRAL.public_key()]
    )
    sealed = packet("ct-30", key, size=12_000)
    chunks = list(split_packet(sealed, 4096))
    with sessions() as session:  # what the dead worker left behind
        session.add_all(ingest._chunk_row("ct-30", chunk) for chunk in chunks)
        session.commit()
    assert counts(sessions) == (0, len(chunks), 0)
    resent = [("ct-30", chunk.to_bytes()) for chunk in chunks]
    if together:
        receipts = [r for _, r in ingest.handle_chunks(resent)]
    else:
        receipts = [r for r in (ingest.handle_chunk(*item) for item in resent) if r]
    assert [(r.packet_id, r.status) for r in receipts][:1] == [(sealed.packet_id, "stored")]
    assert counts(sessions) == (1, 0, 0)
