"""Station-side test helpers: a packet builder with fresh keys and made-up enrolments."""

from __future__ import annotations

import random

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.autopilot import synthetic_application
from edge.agent.captured import CapturedRecord, Enrolment
from edge.agent.packet_builder import PacketBuilder
from protocol.envelope import utc_timestamp
from protocol.keys import CentralPrivateKey


def make_builder(
    station_id: str = "mu-01", central: CentralPrivateKey | None = None
) -> tuple[PacketBuilder, CentralPrivateKey, ed25519.Ed25519PrivateKey]:
    central = central or CentralPrivateKey.generate()
    signing_key = ed25519.Ed25519PrivateKey.generate()
    builder = PacketBuilder(
        station_id=station_id,
        signing_key=signing_key,
        central_key=central.public_key(),
        software_version="test",
    )
    return builder, central, signing_key


def make_enrolment(number: int = 1, image_size: int = 73728, seed: int = 0) -> Enrolment:
    rng = random.Random(seed * 100003 + number)
    image = rng.randbytes(image_size)
    return Enrolment(
        application=synthetic_application(rng, number, "mu-01"),
        operator_id="op-1",
        captured_at=utc_timestamp(),
        records=[
            CapturedRecord.of(
                "finger/right-index.raw",
                image,
                modality="finger",
                kind="image",
                format="raw-gray8",
                position="right-index",
                width=256,
                height=image_size // 256,
            )
        ],
    )
