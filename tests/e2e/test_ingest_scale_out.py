"""Several `ewp fleet ingest` processes share the stations' packets through MQTT v5 shared
subscriptions (`$share/ingest/...`) on a real Mosquitto (authentication and ACLs on), on SQLite
and on PostgreSQL; one of them is killed with SIGKILL in the middle of the stream.

Stations are the real uplink and outbox (4 stations, 12 packets each of 1 to 4 chunks of 8 KiB,
receipts expected within 5 s); half of the packets are made after the kill, so the broker
routes some of them to the dead process's sessions. Afterwards every station has a receipt for
every packet, and the store holds every packet exactly once with its hash, one file each, no
chunk left over.

- ``restart``: the killed process comes back under its name, resumes its broker sessions and
  gets what they held delivered (while the stations also send again what got no receipt);
- ``retire``: it never comes back; its sessions are retired (what `--retire` does), dropping
  what the broker had queued for them; the stations send those packets again when their
  receipts do not come, and the other process stores them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import func, select

from edge.agent.outbox import Outbox
from ewp.local_fleet import FleetStack, IngestProcess, start_fleet_stack, wait_until
from fleet.ingest import retire_sessions
from fleet.service import ingest_client_ids
from fleet.store.db import make_engine, session_factory
from fleet.store.models import Packet, PacketChunk
from tests.edge.agent.helpers import make_enrolment
from tests.edge.agent.uplink.link import builder_for, running_uplink

STATIONS = 4
PACKETS = 12  # per station


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[FleetStack]:
    """Broker and store; the in-process service only provisions, then its ingest goes."""
    fleet = start_fleet_stack(tmp_path / "fleet", database_url=database_url)
    try:
        yield fleet
    finally:
        fleet.stop()


def stored_rows(stack: FleetStack) -> list[tuple[str, str, str, str]]:
    """(packet id, hash, station, file) of every stored packet; no chunk may be left over."""
    engine = make_engine(stack.settings.database_url)
    try:
        with session_factory(engine)() as session:
            rows = session.execute(
                select(Packet.packet_id, Packet.sha256, Packet.station_id, Packet.path)
            ).all()
            chunks = session.scalar(select(func.count()).select_from(PacketChunk)) or 0
    finally:
        engine.dispose()
    assert chunks == 0, f"{chunks} chunk rows left over"
    return [(row[0], row[1], row[2], row[3]) for row in rows]


@pytest.mark.slow
@pytest.mark.parametrize("after_kill", ["restart", "retire"])
def test_ingest_processes_share_the_stream_and_a_killed_one_loses_and_duplicates_nothing(
    stack: FleetStack, tmp_path: Path, after_kill: str
) -> None:
    names = [f"ct-{n:02d}" for n in range(STATIONS)]
    identities = {name: stack.provision_station(name, tmp_path / name) for name in names}
    stack.stop_service(retire_ingest=True)
    doomed, survivor = stack.ingest_process("a", workers=2), stack.ingest_process("b", workers=2)
    processes: list[IngestProcess] = [doomed, survivor]
    with ExitStack() as stations:
        for process in processes:
            stations.callback(process.stop)
            process.start()
        for process in processes:
            process.wait_subscribed()
        outboxes = {
            name: stations.enter_context(
                Outbox(tmp_path / name / "outbox.sqlite", min_free_bytes=0)
            )
            for name in names
        }

        def enrol(numbers: range) -> None:
            """Packets of 1 to 4 chunks, so no worker gets every packet's last chunk."""
            for index, (name, identity) in enumerate(identities.items()):
                for n in numbers:
                    enrolment = make_enrolment(n, image_size=8192 * (1 + n % 4), seed=index)
                    builder_for(identity).save(outboxes[name], enrolment)

        def acked() -> int:
            return sum(outbox.stats().acked for outbox in outboxes.values())

        half = PACKETS // 2
        enrol(range(1, half + 1))
        uplinks = [
            stations.enter_context(
                running_uplink(
                    identity,
                    tmp_path / name / "outbox.sqlite",
                    receipt_timeout_s=5,
                    chunk_size=8192,
                )
            )
            for name, identity in identities.items()
        ]
        total = STATIONS * PACKETS
        # Killed mid-stream: packets are flowing (and some may be half-handled in it) ...
        wait_until(lambda: acked() >= total // 4, timeout=90, message="a quarter acknowledged")
        doomed.kill()
        # ... and more arrive while it is dead: the broker queues its workers' share for them,
        # so some packets get no receipt in time (the stations then send them again).
        enrol(range(half + 1, PACKETS + 1))

        def timeouts() -> int:
            return sum(uplink.stats.receipt_timeouts for uplink in uplinks)

        wait_until(lambda: timeouts() > 0, timeout=60, message="a packet held by the dead one")
        if after_kill == "restart":
            doomed.start()
            doomed.wait_subscribed()
            assert doomed.log_text().count("(session resumed)") == 2
        else:  # as `ewp fleet ingest --name a --workers 2 --retire` does, without its start-up
            retire_sessions(stack.service_login, ingest_client_ids(2, "a"))
        wait_until(lambda: acked() == total, timeout=120, message="every packet acknowledged")
        created = {
            entry.packet_id: (entry.sha256, name)
            for name, outbox in outboxes.items()
            for entry in outbox.entries()
        }
    rows = stored_rows(stack)
    assert len(rows) == len({row[0] for row in rows}) == total
    assert {pid: (sha, station) for pid, sha, station, _ in rows} == created
    files = sorted(stack.settings.packet_dir.rglob("*.ewp"))
    assert sorted(stack.settings.packet_dir / path for *_, path in rows) == files
