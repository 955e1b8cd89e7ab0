"""edge/agent/captured.py: a captured record carries the manifest entry made with it, and the
packet builder puts that entry into the manifest as it is."""

from __future__ import annotations

import hashlib
import random

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from pydantic import ValidationError

from edge.agent.autopilot import synthetic_application
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.packet_builder import PacketBuilder
from protocol.enrolment import read_archive
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPrivateKey


def _record(name: str = "finger/right-index.fir", **fields: str | int | None) -> CapturedRecord:
    values: dict[str, str | int | None] = {
        "modality": "finger",
        "kind": "image",
        "format": "iso19794-4:2011",
        "position": "right-index",
        "quality": 71,
        "attempts": 2,
    }
    return CapturedRecord.of(name, b"\x00record bytes", **(values | fields))


def test_the_entry_is_made_with_the_record() -> None:
    record = _record()
    assert record.entry.name == "finger/right-index.fir"
    assert record.entry.sha256 == hashlib.sha256(b"\x00record bytes").hexdigest()
    assert record.entry.size == len(record.data) == 13
    assert (record.entry.quality, record.entry.attempts) == (71, 2)


@pytest.mark.parametrize(
    ("name", "fields"),
    [
        ("../finger.fir", {}),
        ("finger/right-index.fir", {"modality": "toe"}),
        ("finger/right-index.fir", {"quality": 101}),
        ("finger/right-index.fir", {"attempts": 0}),
    ],
)
def test_a_bad_field_fails_when_the_record_is_made(
    name: str, fields: dict[str, str | int | None]
) -> None:
    with pytest.raises(ValidationError):
        _record(name, **fields)


def test_the_manifest_lists_the_entries_as_captured() -> None:
    records = [
        _record(),
        _record("finger/right-index.template", kind="template", format="r30x-char-512"),
    ]
    enrolment = Enrolment(
        application=synthetic_application(random.Random(1), 1, "ct-01"),
        operator_id="op",
        captured_at=utc_timestamp(),
        records=records,
    )
    builder = PacketBuilder(
        station_id="ct-01",
        signing_key=ed25519.Ed25519PrivateKey.generate(),
        central_key=CentralPrivateKey.generate().public_key(),
        software_version="test",
    )
    manifest, files = read_archive(builder.plaintext(enrolment, seq=1, packet_id="a" * 32))
    assert manifest.records == [r.entry for r in records]
    assert files == {r.entry.name: r.data for r in records}
