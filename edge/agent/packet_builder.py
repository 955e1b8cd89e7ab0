"""Build, seal and sign an enrolment packet in memory, then hand it to the outbox.

The enrolment comes from the capture workflow (edge/agent/captured.py) with its records'
manifest entries already made. Nothing here writes plaintext anywhere: the archive is built in
memory, sealed to the central public key, signed with the station key, and only the envelope
reaches the outbox.
"""

from __future__ import annotations

import logging
import uuid

from cryptography.hazmat.primitives.asymmetric import ed25519

from edge.agent.captured import Enrolment
from edge.agent.outbox import Outbox, OutboxEntry
from protocol.enrolment import EnrolmentManifest, build_archive
from protocol.envelope import SealedPacket, seal_packet
from protocol.keys import CentralPublicKey

log = logging.getLogger(__name__)


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
        files = {r.entry.name: r.data for r in enrolment.records}
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
                "records": [r.entry for r in enrolment.records],
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
