"""What the station-side benchmarks share: a packet builder with fresh keys and a console that
keeps the best capture without asking (random enrolments: bench/station_backlog.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.capture_console import Guidance, KeepBest, Resolution
from edge.agent.packet_builder import PacketBuilder
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
