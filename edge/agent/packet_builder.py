"""Build, seal and sign an enrolment packet in memory, then hand it to the outbox.

Nothing here writes plaintext anywhere: the archive is built in memory, sealed to the central
public key, signed with the station key, and only the envelope reaches the outbox.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.outbox import Outbox, OutboxEntry
from protocol.enrolment import (
    Application,
    BiometricException,
    BiometricRecord,
    EnrolmentManifest,
    build_archive,
)
from protocol.envelope import SealedPacket, seal_packet
from protocol.keys import CentralPublicKey

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CapturedRecord:
    """One biometric record as captured, before it goes into the archive.

    Its SHA-256 is computed once, when the record is made (during capture, while the operator
    moves on to the next finger), not again when the packet is saved.
    """

    name: str  # file name inside the archive, e.g. "finger/right-index.png"
    data: bytes = field(repr=False)
    modality: str
    kind: str
    format: str
    position: str
    quality: int | None = None
    quality_algorithm: str | None = None
    attempts: int = 1
    width: int | None = None
    height: int | None = None
    resolution_ppi: int | None = None
    sha256: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())


@dataclass(frozen=True)
class Enrolment:
    application: Application
    operator_id: str
    captured_at: str
    records: list[CapturedRecord]
    exceptions: list[BiometricException] = field(default_factory=list)
    source: str = "operator"


class PacketBuilder:
    def __init__(
        self,
        *,
        station_id: str,
        signing_key: ed25519.Ed25519PrivateKey,
        central_key: CentralPublicKey,
        software_version: str,
    ) -> None:
        self.station_id = station_id
        self._signing_key = signing_key
        self._central_key = central_key
        self._software_version = software_version

    def plaintext(self, enrolment: Enrolment, *, seq: int, packet_id: str) -> bytes:
        files = {r.name: r.data for r in enrolment.records}
        manifest = EnrolmentManifest.model_validate(
            {
                "station_id": self.station_id,
                "packet_id": packet_id,
                "seq": seq,
                "captured_at": enrolment.captured_at,
                "operator_id": enrolment.operator_id,
                "source": enrolment.source,
                "software_version": self._software_version,
                "application": enrolment.application,
                "records": [
                    BiometricRecord(
                        name=r.name,
                        sha256=r.sha256,
                        size=len(r.data),
                        modality=r.modality,
                        kind=r.kind,
                        format=r.format,
                        position=r.position,
                        quality=r.quality,
                        quality_algorithm=r.quality_algorithm,
                        attempts=r.attempts,
                        width=r.width,
                        height=r.height,
                        resolution_ppi=r.resolution_ppi,
                    )
                    for r in enrolment.records
                ],
                "exceptions": enrolment.exceptions,
            }
        )
        return build_archive(manifest, files)

    def seal(self, enrolment: Enrolment, *, seq: int, packet_id: str) -> SealedPacket:
        return seal_packet(
            self.plaintext(enrolment, seq=seq, packet_id=packet_id),
            station_id=self.station_id,
            packet_id=packet_id,
            seq=seq,
            recipient=self._central_key,
            signer=self._signing_key,
        )

    def save(self, outbox: Outbox, enrolment: Enrolment) -> OutboxEntry:
        """Seal and store durably; when this returns, the operator may be told "saved"."""
        packet_id = uuid.uuid4().hex
        return outbox.enqueue(lambda seq: self.seal(enrolment, seq=seq, packet_id=packet_id))
