"""What the station-side benchmarks share: a packet builder with fresh keys, a console that
keeps the best capture without asking, and enrolments of random (incompressible) records."""

from __future__ import annotations

import random
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.autopilot import synthetic_application
from edge.agent.capture_console import Guidance, KeepBest, Resolution
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.packet_builder import PacketBuilder
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPrivateKey


def bench_builder(station_id: str) -> PacketBuilder:
    """A packet builder with a new station key, sealing to a new central key."""
    return PacketBuilder(
        station_id=station_id,
        signing_key=ed25519.Ed25519PrivateKey.generate(),
        central_key=CentralPrivateKey.generate().public_key(),
        software_version="bench",
    )


class QuietConsole:
    """The operator who says nothing and keeps the best capture below the threshold."""

    def guide(self, guidance: Guidance) -> None:
        pass

    def resolve(self, position: str, best_quality: int | None) -> Resolution:
        return KeepBest()


def random_enrolment(
    rng: random.Random,
    number: int,
    station_id: str,
    positions: Sequence[str],
    record_bytes: int,
) -> Enrolment:
    """An enrolment with one finger image of ``record_bytes`` random bytes per position (as
    compressed images are: they do not compress further)."""
    records = [
        CapturedRecord.of(
            f"finger/{position}.png",
            rng.randbytes(record_bytes),
            modality="finger",
            kind="image",
            format="image/png",
            position=position,
        )
        for position in positions
    ]
    return Enrolment(
        application=synthetic_application(rng, number, station_id),
        operator_id="bench",
        captured_at=utc_timestamp(),
        records=records,
    )
