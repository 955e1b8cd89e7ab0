"""The outbox: durable, plaintext-free, quota-aware, and unharmed by SIGKILL at any instant."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.agent.errors import OutboxFullError
from edge.agent.outbox import Outbox
from protocol.enrolment import read_archive
from protocol.envelope import SealedPacket, open_packet
from tests.edge.agent.helpers import make_builder, make_enrolment

ROOT = Path(__file__).resolve().parents[3]


def test_states_from_pending_to_purged(tmp_path: Path) -> None:
    now = [1000.0]
    builder, central, _ = make_builder()
    with Outbox(tmp_path / "o.sqlite", clock=lambda: now[0]) as outbox:
        a = builder.save(outbox, make_enrolment(1))
        b = builder.save(outbox, make_enrolment(2))
        assert (a.seq, b.seq) == (1, 2)
        assert [e.packet_id for e in outbox.waiting()] == [a.packet_id, b.packet_id]
        outbox.mark_sending(a.packet_id)
        outbox.record_progress(a.packet_id, 3)
        assert outbox.entry(a.packet_id).state == "sending"
        assert outbox.entry(a.packet_id).chunks_sent == 3
        now[0] += 60
        stats = outbox.stats()
        assert (stats.pending, stats.sending, stats.waiting) == (1, 1, 2)
        assert stats.oldest_pending_age(now[0]) == 60
        assert outbox.mark_acked(a.packet_id, "{}")
        assert not outbox.mark_acked(a.packet_id, "{}"), "a second receipt changes nothing"
        now[0] += 10
        assert outbox.purge_acked(older_than_s=5) == 1
        purged = outbox.entry(a.packet_id)
        assert purged.state == "purged"
        assert outbox.stats().created_total == 2, "purged packets still count as created"
        # What is stored opens to what was enrolled.
        packet = outbox.load(b.packet_id)
        manifest, _ = read_archive(open_packet(packet, central))
        assert manifest.seq == 2
        assert manifest.application == make_enrolment(2).application


def test_receipt_timeout_resets_to_pending(tmp_path: Path) -> None:
    builder, _, _ = make_builder()
    with Outbox(tmp_path / "o.sqlite") as outbox:
        entry = builder.save(outbox, make_enrolment(1))
        outbox.mark_sending(entry.packet_id)
        outbox.record_progress(entry.packet_id, 5)
        outbox.reset_to_pending(entry.packet_id)
        again = outbox.entry(entry.packet_id)
        assert (again.state, again.chunks_sent, again.attempts) == ("pending", 0, 1)


def test_outbox_holds_no_plaintext(tmp_path: Path) -> None:
    """Search the SQLite file and its WAL for the applicant's name and the raw image bytes."""
    builder, _, _ = make_builder()
    enrolment = make_enrolment(7)
    name = enrolment.application.applicant.family_name.encode()
    passport = enrolment.application.applicant.passport_number.encode()
    image = enrolment.records[0].data
    with Outbox(tmp_path / "o.sqlite") as outbox:
        builder.save(outbox, enrolment)
        files = [tmp_path / "o.sqlite", tmp_path / "o.sqlite-wal"]
        assert files[1].exists() and files[1].stat().st_size > 0, "the WAL is searched too"
        stored = b"".join(f.read_bytes() for f in files)
    assert len(stored) > len(image)
    assert name not in stored
    assert passport not in stored
    for start in range(0, len(image) - 32, 4096):
        assert image[start : start + 32] not in stored


def test_quota_purges_acked_first_then_refuses_clearly(tmp_path: Path) -> None:
    builder, _, _ = make_builder()
    with Outbox(tmp_path / "o.sqlite", quota_bytes=160_000, min_free_bytes=0) as outbox:
        first = builder.save(outbox, make_enrolment(1))
        builder.save(outbox, make_enrolment(2))
        outbox.mark_acked(first.packet_id, "{}")
        builder.save(outbox, make_enrolment(3))  # fits once the acked one is purged
        assert outbox.entry(first.packet_id).state == "purged"
        with pytest.raises(OutboxFullError, match="waiting to upload") as info:
            builder.save(outbox, make_enrolment(4))
        assert "nothing was lost" in str(info.value)
        assert outbox.stats().created_total == 3, "a refused packet leaves no trace"


def test_min_free_disk_is_kept(tmp_path: Path) -> None:
    builder, _, _ = make_builder()
    with (
        Outbox(tmp_path / "o.sqlite", min_free_bytes=2**62) as outbox,
        pytest.raises(OutboxFullError, match="disk nearly full"),
    ):
        builder.save(outbox, make_enrolment(1))


def test_a_full_disk_refuses_and_keeps_what_was_saved(tmp_path: Path) -> None:
    """A real full file system: a tiny tmpfs would need root; SQLite's max_page_count gives
    the same 'database or disk is full' error from the same code path."""
    builder, _, _ = make_builder()
    with Outbox(tmp_path / "o.sqlite", min_free_bytes=0) as outbox:
        saved = builder.save(outbox, make_enrolment(1))
        outbox._db.execute("PRAGMA max_page_count = 40")
        with pytest.raises(OutboxFullError, match="disk full"):
            builder.save(outbox, make_enrolment(2))
        assert [e.packet_id for e in outbox.entries()] == [saved.packet_id]
        assert outbox.integrity_check() == "ok"


def test_survives_sigkill_at_any_instant(tmp_path: Path) -> None:
    db = tmp_path / "outbox.sqlite"
    rng = random.Random(2)
    saved: dict[str, str] = {}
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.edge.agent.outbox_writer", str(db)],
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=env,
        )
        # Let it write a while (startup takes ~0.3 s), then kill it mid-whatever.
        time.sleep(0.4 + rng.random() * 0.4)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate()
        for line in out.decode().splitlines():
            _, packet_id, sha = line.split()
            saved[packet_id] = sha
        with Outbox(db, min_free_bytes=0) as outbox:
            assert outbox.integrity_check() == "ok"
            entries = {e.packet_id: e for e in outbox.entries()}
            seqs = sorted(e.seq for e in entries.values())
            assert seqs == list(range(1, len(seqs) + 1)), "no gap, no duplicate"
            for packet_id, sha in saved.items():
                assert packet_id in entries, f"packet {packet_id} reported saved but lost"
                assert entries[packet_id].sha256 == sha
            for entry in entries.values():
                if entry.state != "purged":
                    packet = outbox.load(entry.packet_id)
                    assert isinstance(packet, SealedPacket)
                    assert packet.sha256 == entry.sha256
    assert len(saved) > 20, "the writer should have saved packets between kills"
