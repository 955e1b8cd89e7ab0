"""The outbox part of the health check after a restart: no packet may be gone; one more saved
by the old version between the switch and its exit is fine (found by `ewp demo --rollout`,
whose stations keep enrolling while they update)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent.outbox import Outbox
from edge.agent.updater.health import outbox_check, outbox_fingerprint
from tests.edge.agent.helpers import make_builder, make_enrolment


def _save(path: Path, numbers: range) -> None:
    builder, _, _ = make_builder()
    with Outbox(path, quota_bytes=10**9, min_free_bytes=0) as box:
        for number in numbers:
            builder.save(box, make_enrolment(number, image_size=500))


def test_a_packet_saved_after_the_switch_passes(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    _save(path, range(1, 3))
    before = outbox_fingerprint(path)
    _save(path, range(3, 4))  # the old version finished an enrolment before it exited
    outbox_check(path, before)()


def test_an_outbox_with_fewer_packets_fails(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    _save(path, range(1, 3))
    before = outbox_fingerprint(path)
    other = tmp_path / "other.sqlite"  # e.g. a new version opening another outbox
    _save(other, range(1, 2))
    with pytest.raises(RuntimeError, match="lost packets"):
        outbox_check(other, before)()
