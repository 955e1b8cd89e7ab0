"""Several writers at once, on SQLite (writers serialise) and PostgreSQL (READ COMMITTED: they
do not, unless the code locks): nothing lost, nothing twice.

Each test runs the same store functions from many threads at the same moment, as several
ingest workers, API requests and fleet processes would."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from fleet import audit
from fleet.access import throttle
from fleet.configuration import changes
from fleet.ingest import Ingest
from fleet.packet_files import PacketFiles
from fleet.store.admin_models import LoginThrottle
from fleet.store.db import make_engine, session_factory
from fleet.store.models import AuditEntry, Packet, PacketChunk, Station, StationPacketCount
from fleet.store.ops_models import (
    Alert,
    AlertNotification,
    ConfigLayer,
    ConfigLayerRevision,
    StationLiveness,
)
from protocol.chunks import split_packet
from protocol.messages import StationStatus
from tests.fleet.conftest import OpsRig, make_rig
from tests.fleet.ops_helpers import MONDAY_10_BANGKOK, heartbeat
from tests.fleet.test_ingest import CENTRAL, packet, register

THREADS = 8


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield session_factory(engine)
    engine.dispose()


def together(work: list[Callable[[], object]], threads: int = THREADS) -> list[object]:
    """Run the callables on ``threads`` threads that all start at once; re-raise any error."""
    lock = threading.Lock()
    queue = list(enumerate(work))
    results: list[object] = [None] * len(work)
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def run() -> None:
        start.wait()
        while True:
            with lock:
                if not queue:
                    return
                index, job = queue.pop()
            try:
                results[index] = job()
            except BaseException as exc:
                errors.append(exc)

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool), "a writer hangs"
    if errors:
        raise errors[0]
    return results


def count(sessions: sessionmaker[Session], model: type[object]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_concurrent_audit_appends_make_one_unbroken_chain(
    sessions: sessionmaker[Session],
) -> None:
    """The very first appends too: the chain's head row does not exist yet."""

    def append(n: int) -> Callable[[], None]:
        def run() -> None:
            with sessions() as session:
                audit.record(session, actor="t", action="test.append", target=str(n))
                session.commit()

        return run

    together([append(n) for n in range(80)])
    with sessions() as session:
        result = audit.verify(session)
    assert result.ok, result.problem
    assert result.entries == 80


def test_chunks_from_many_workers_store_each_packet_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Chunks of 12 packets, each chunk delivered twice (a QoS 1 redelivery), in any order, to
    8 workers at once: every packet stored once with its hash, one `stored` receipt each, no
    chunk left behind."""
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-01", key)
    ingest = Ingest(
        sessions,
        PacketFiles(tmp_path / "packets"),
        central_keys=[CENTRAL.public_key()],
        duplicate_receipt_interval_s=0,
    )
    sealed = [packet("ct-01", key, seq=n, size=20_000) for n in range(1, 13)]
    chunks = [c.to_bytes() for p in sealed for c in split_packet(p, 4096)] * 2
    random.Random(7).shuffle(chunks)
    receipts = together([lambda c=c: ingest.handle_chunk("ct-01", c) for c in chunks])
    stored = Counter(r.packet_id for r in receipts if r is not None and r.status == "stored")  # type: ignore[attr-defined]
    assert stored == Counter({p.packet_id: 1 for p in sealed})
    with sessions() as session:
        rows = {p.packet_id: p.sha256 for p in session.scalars(select(Packet))}
    assert rows == {p.packet_id: p.sha256 for p in sealed}
    assert count(sessions, PacketChunk) == 0
    assert len(list((tmp_path / "packets").rglob("*.ewp"))) == len(sealed)


def test_batches_from_many_workers_store_each_packet_once(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """The same, with each worker taking what it received at once (``handle_chunks``): a
    batch that collides with another worker's rows falls back to one chunk at a time and
    leaves no file behind."""
    key = ed25519.Ed25519PrivateKey.generate()
    register(sessions, "ct-01", key)
    ingest = Ingest(
        sessions,
        PacketFiles(tmp_path / "packets"),
        central_keys=[CENTRAL.public_key()],
        duplicate_receipt_interval_s=0,
    )
    sealed = [packet("ct-01", key, seq=n, size=6_000 + 2_000 * n) for n in range(1, 25)]
    chunks = [("ct-01", c.to_bytes()) for p in sealed for c in split_packet(p, 4096)] * 2
    random.Random(8).shuffle(chunks)
    batches = [chunks[n : n + 6] for n in range(0, len(chunks), 6)]
    answers = together([lambda b=b: ingest.handle_chunks(b) for b in batches])
    receipts = [r for batch in answers for _, r in batch]  # type: ignore[attr-defined]
    stored = Counter(r.packet_id for r in receipts if r.status == "stored")
    assert stored == Counter({p.packet_id: 1 for p in sealed})
    with sessions() as session:
        rows = {p.packet_id: p.sha256 for p in session.scalars(select(Packet))}
    assert rows == {p.packet_id: p.sha256 for p in sealed}
    assert count(sessions, PacketChunk) == 0
    assert len(list((tmp_path / "packets").rglob("*.ewp"))) == len(sealed)
    assert not list((tmp_path / "packets").rglob("*.tmp"))
    with sessions() as session:
        totals = session.get(StationPacketCount, "ct-01")
        resends = session.scalar(select(func.sum(Packet.resends)))
    assert totals is not None and totals.packets == len(sealed) and totals.last_seq == 24
    assert totals.resends == resends, "the running totals agree with the packets"


class _PausingSession(Session):
    """A session that runs ``pause`` once, right after a ``get`` of a packet found nothing."""

    pause: Callable[[], None] | None = None

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        row = super().get(entity, ident, **kwargs)
        pause = _PausingSession.pause  # (sessionmaker makes a subclass: not type(self))
        if entity is Packet and row is None and pause is not None:
            _PausingSession.pause = None
            pause()
        return row


def test_a_resent_chunk_landing_just_after_assembly_is_not_left_behind(
    database_url: str, tmp_path: Path
) -> None:
    """Worker B finds the packet not yet stored; worker A assembles and stores it at that very
    moment (deleting the chunks it held); then B stores its resent chunk. B must see the packet
    after its commit, remove that chunk and acknowledge a duplicate: nothing lingers (until the
    stale-chunk sweep, hours later) and the packet is stored once.

    Only PostgreSQL lets the two interleave like this: on SQLite B's first statement takes the
    write lock (BEGIN IMMEDIATE), so A would wait for B to finish."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite serialises the two workers: this interleaving cannot happen")
    engine = make_engine(database_url)
    try:
        plain = session_factory(engine)
        pausing = sessionmaker(engine, class_=_PausingSession, expire_on_commit=False)
        key = ed25519.Ed25519PrivateKey.generate()
        register(plain, "ct-02", key)
        files = PacketFiles(tmp_path / "packets")
        worker_a = Ingest(
            plain, files, central_keys=[CENTRAL.public_key()], duplicate_receipt_interval_s=0
        )
        worker_b = Ingest(
            pausing, files, central_keys=[CENTRAL.public_key()], duplicate_receipt_interval_s=0
        )
        sealed = packet("ct-02", key, seq=1, size=10_000)
        first, second, last = (c.to_bytes() for c in split_packet(sealed, 4096))
        assert worker_a.handle_chunk("ct-02", first) is None
        assert worker_a.handle_chunk("ct-02", second) is None
        receipts = []
        _PausingSession.pause = lambda: receipts.append(worker_a.handle_chunk("ct-02", last))
        resent = worker_b.handle_chunk("ct-02", first)  # a QoS 1 redelivery of chunk 0
        assert _PausingSession.pause is None, "worker B never looked for the packet"
        assert [r.status for r in receipts if r is not None] == ["stored"]
        assert resent is not None and resent.status == "duplicate"
        assert count(plain, PacketChunk) == 0
        assert count(plain, Packet) == 1
    finally:
        _PausingSession.pause = None
        engine.dispose()


def test_first_heartbeats_and_statuses_at_once_make_one_liveness_row(rig: OpsRig) -> None:
    """Every worker handles every status (not a shared subscription) while heartbeats arrive:
    the first sight of a station must not make two workers insert its liveness row."""
    stations = [rig.station(f"ct-{n:02d}") for n in range(6)]
    work: list[Callable[[], object]] = []
    for sid in stations:
        online = StationStatus.model_validate({"station_id": sid, "state": "online"}).to_payload()
        work += [lambda sid=sid, online=online: rig.ingest.handle_status(sid, online)] * 4
        work += [lambda sid=sid: rig.heartbeat(heartbeat(sid))] * 4
    together(work)
    with rig.sessions() as session:
        rows = session.scalars(select(StationLiveness)).all()
        assert sorted(r.station_id for r in rows) == stations
        assert {r.state for r in rows} == {"online"}
        assert all(s.online for s in session.scalars(select(Station)))


def test_alerts_evaluated_at_once_raise_and_clear_once(tmp_path: Path, database_url: str) -> None:
    """The jobs of two fleet processes and the ingest of events evaluate the same rules at the
    same moment: one alert, one `raised` and one `cleared` notification."""
    webhook = '[alerts.webhook]\nurl = "http://127.0.0.1:9/alerts"\n'
    for rig in make_rig(tmp_path, database_url, webhook):
        check_alerts_once(rig)


def check_alerts_once(rig: OpsRig) -> None:
    sid = rig.station("ct-01")
    rig.heartbeat(heartbeat(sid, cpu_temperature_c=90.0))
    together([rig.ops.evaluate_alerts] * 16)
    with rig.sessions() as session:
        assert [a.rule for a in session.scalars(select(Alert))] == ["cpu-hot"]
    rig.heartbeat(heartbeat(sid, cpu_temperature_c=50.0))
    together([rig.ops.evaluate_alerts] * 16)
    with rig.sessions() as session:
        events = [n.event for n in session.scalars(select(AlertNotification))]
        assert sorted(events) == ["cleared", "raised"]
        assert session.scalars(select(Alert)).one().cleared_at is not None


def test_parallel_password_guesses_all_count(sessions: sessionmaker[Session]) -> None:
    """Guesses sent in parallel must not overwrite each other's count: the lockout comes."""
    policy = throttle.ThrottlePolicy(
        max_failures=20, window=timedelta(minutes=15), lockout=timedelta(minutes=15)
    )
    now = MONDAY_10_BANGKOK
    locked_now: list[bool] = []

    def guess() -> None:
        with sessions() as session:
            locked_now.append(throttle.record_failure(session, "user:somchai", policy, now))
            session.commit()

    together([guess] * 20)
    assert locked_now.count(True) == 1, "the 20th failure locks, exactly once"
    with sessions() as session:
        assert throttle.locked_for(session, "user:somchai", now) > 0
    assert count(sessions, LoginThrottle) == 1


def test_configuration_changes_at_once_get_their_own_versions(rig: OpsRig) -> None:
    """Two admins (or one admin's double click) changing the fleet layer at once: each
    change is a version of its own, and the history has no version twice."""
    for n in range(3):
        rig.station(f"ct-{n:02d}")

    def change(n: int) -> Callable[[], None]:
        def run() -> None:
            with rig.sessions() as session:
                changes.set_layer(
                    session,
                    "fleet",
                    "*",
                    {"capture": {"attempts": 1 + n % 5}, "retention_days": 10 + n},
                    actor=f"admin-{n}",
                    now=rig.clock(),
                )
                session.commit()

        return run

    together([change(n) for n in range(10)])
    with rig.sessions() as session:
        layer = session.get(ConfigLayer, ("fleet", "*"))
        assert layer is not None and layer.version == 10
        versions = [r.version for r in session.scalars(select(ConfigLayerRevision))]
        assert sorted(versions) == list(range(1, 11))
        chain = audit.verify(session)
        assert chain.ok and chain.entries == 10
        assert [e.action for e in session.scalars(select(AuditEntry))] == ["config.set.fleet"] * 10
