"""Property: whatever the order, duplicates, workers and crashes, each packet is stored once.

Chunks of several packets (two stations) are delivered in an order hypothesis picks, some more
than once, in batches of hypothesis' sizes, each batch to one of two workers (two ``Ingest``
objects on one store, as two processes would be). Before any step a worker may be killed at a
statement hypothesis picks: its transaction never commits, nothing it handled is acknowledged,
and the broker delivers that batch again (to either worker). At the end every packet is stored
exactly once (one row, one file with the right hash), no chunk is left behind, the station's
running totals count each packet once, and the station got a ``stored`` or ``duplicate``
receipt for each. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from fleet.ingest import Ingest
from fleet.packet_files import PacketFiles
from fleet.store.db import make_engine, session_factory
from fleet.store.models import Packet, PacketChunk, StationPacketCount
from protocol import topics
from protocol.chunks import split_packet
from tests.fleet.ops_helpers import CENTRAL
from tests.fleet.test_ingest import packet, register

EXAMPLE = itertools.count(1)


class WorkerKilled(BaseException):
    """The worker's process died here (not an error any handler catches)."""


class Killer:
    """Kills the worker at its ``n``-th SQL statement from now (None: not this step)."""

    def __init__(self, engine: Engine) -> None:
        self.countdown: int | None = None
        self.engine = engine
        sqlalchemy.event.listen(engine, "before_cursor_execute", self._statement)

    def remove(self) -> None:
        sqlalchemy.event.remove(self.engine, "before_cursor_execute", self._statement)

    def _statement(self, *args: object) -> None:
        if self.countdown is None:
            return
        self.countdown -= 1
        if self.countdown <= 0:
            self.countdown = None
            raise WorkerKilled


@pytest.fixture
def store(database_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(database_url)
    yield engine, session_factory(engine)
    engine.dispose()


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_each_packet_is_stored_exactly_once(
    store: tuple[Engine, sessionmaker[Session]], tmp_path: Path, data: st.DataObject
) -> None:
    engine, sessions = store
    example = next(EXAMPLE)
    killer = Killer(engine)
    files = PacketFiles(tmp_path / "packets")
    workers = [
        Ingest(sessions, files, central_keys=[CENTRAL.public_key()], duplicate_receipt_interval_s=0)
        for _ in range(2)
    ]
    stations = [f"ps-{example}-{n}" for n in range(2)]
    keys = {s: ed25519.Ed25519PrivateKey.generate() for s in stations}
    for station_id in stations:
        register(sessions, station_id, keys[station_id])
    sealed = [
        packet(
            stations[n % 2],
            keys[stations[n % 2]],
            seq=n + 1,
            size=data.draw(st.integers(1_000, 9_000), label="size"),
            packet_id=f"{example:016x}{n:016x}",
        )
        for n in range(data.draw(st.integers(1, 4), label="packets"))
    ]
    messages = [
        (topics.PACKET_CHUNKS.for_station(p.station_id).replace("+", p.packet_id), c.to_bytes())
        for p in sealed
        for c in split_packet(p, 2048)
    ]
    again = data.draw(st.lists(st.sampled_from(messages), max_size=6), label="duplicates")
    pending = data.draw(st.permutations(messages + again), label="order")
    receipts: dict[str, set[str]] = {}
    steps = 0
    while pending:
        steps += 1
        assert steps < 500, "no progress"
        size = data.draw(st.integers(1, 6), label="batch")
        batch, pending = pending[:size], pending[size:]
        worker = workers[data.draw(st.integers(0, 1), label="worker")]
        killer.countdown = data.draw(st.none() | st.integers(1, 25), label="kill at")
        try:
            out = worker.dispatch(batch)
        except WorkerKilled:
            # Nothing acknowledged: the broker delivers the batch again, to any worker.
            pending = [*pending, *batch]
            continue
        finally:
            killer.countdown = None
        for message in out:
            receipt = json.loads(message.payload)
            receipts.setdefault(receipt["packet_id"], set()).add(receipt["status"])
    killer.remove()
    ids = [p.packet_id for p in sealed]
    with sessions() as session:
        rows = list(session.scalars(select(Packet).where(Packet.packet_id.in_(ids))))
        left = list(session.scalars(select(PacketChunk).where(PacketChunk.packet_id.in_(ids))))
        totals = {
            row.station_id: row.packets
            for row in session.scalars(
                select(StationPacketCount).where(StationPacketCount.station_id.in_(stations))
            )
        }
    assert sorted(r.packet_id for r in rows) == sorted(ids), "each stored, once"
    for row in rows:
        assert files.read(row.path).sha256 == row.sha256
    assert left == [], "no chunk left behind"
    expected = {s: sum(p.station_id == s for p in sealed) for s in stations}
    assert totals == {s: n for s, n in expected.items() if n}
    assert set(receipts) == set(ids), "every packet acknowledged"
    assert all(statuses <= {"stored", "duplicate"} for statuses in receipts.values())
