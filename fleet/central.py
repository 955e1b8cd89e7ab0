"""The central system's side of a packet: verify, decrypt with the central private key, check.

The fleet never holds the central private key; this is the code the central e-WorkPermit system
(or an auditor) runs, e.g. through ``ewp central open``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.enrolment import (
    MANIFEST_NAME,
    ContentError,
    EnrolmentManifest,
    check_record_name,
    read_archive,
)
from protocol.envelope import SealedPacket, open_packet
from protocol.keys import CentralPrivateKey


@dataclass(frozen=True)
class OpenedPacket:
    packet: SealedPacket
    manifest: EnrolmentManifest
    files: dict[str, bytes] = field(repr=False)
    signature_checked: bool

    def summary(self) -> dict[str, object]:
        application = self.manifest.application
        return {
            "packet_id": self.packet.packet_id,
            "station_id": self.packet.station_id,
            "seq": self.packet.header.seq,
            "sha256": self.packet.sha256,
            "signature": "verified" if self.signature_checked else "not checked",
            "application_number": application.application_number,
            "application_kind": application.kind,
            "source": self.manifest.source,
            "records": [
                {
                    "name": r.name,
                    "format": r.format,
                    "position": r.position,
                    "size": r.size,
                    "quality": r.quality,
                }
                for r in self.manifest.records
            ],
            "exceptions": [e.model_dump() for e in self.manifest.exceptions],
        }


def open_and_check(
    packet: SealedPacket,
    central_key: CentralPrivateKey,
    station_key: ed25519.Ed25519PublicKey | None = None,
) -> OpenedPacket:
    """Verify (when the station key is given), decrypt, and check the content against the
    header: a packet whose content names another station, packet or sequence is refused."""
    packet.check_integrity()
    if station_key is not None:
        packet.verify(station_key)
    manifest, files = read_archive(open_packet(packet, central_key))
    header = packet.header
    for name, inside, outside in (
        ("station id", manifest.station_id, header.station_id),
        ("packet id", manifest.packet_id, header.packet_id),
        ("sequence number", manifest.seq, header.seq),
    ):
        if inside != outside:
            raise ContentError(
                f"packet {header.packet_id}: content's {name} {inside!r} differs from the "
                f"signed header's {outside!r}"
            )
    return OpenedPacket(packet, manifest, files, signature_checked=station_key is not None)


def extract(opened: OpenedPacket, out: Path) -> Path:
    """Write the packet's records and manifest under ``out/<packet id>/``; returns that folder.

    Every record name is checked again (protocol/enrolment.py), and every path resolved: one
    that would land outside ``out`` (a traversal name, a symbolic link planted in ``out``) is
    refused before anything of the packet is written."""
    root = out.resolve()
    folder = (root / opened.packet.packet_id).resolve()
    targets: dict[Path, bytes] = {}
    for name, data in opened.files.items():
        check_record_name(name)
        targets[(folder / name).resolve()] = data
    manifest = opened.manifest.model_dump_json(indent=1).encode("utf-8")
    targets[(folder / MANIFEST_NAME).resolve()] = manifest
    for path in targets:
        if not path.is_relative_to(folder) or not folder.is_relative_to(root):
            raise ContentError(
                f"packet {opened.packet.packet_id}: {path} would be written outside {out}"
            )
    for path, data in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return folder
