"""Whether a chunk may be stored at all: signed by the station's key, sealed to central's."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ed25519

from fleet.commands import station_keys
from fleet.ingest.core import IngestCore
from fleet.store.models import Station
from protocol.chunks import PacketChunk as WireChunk
from protocol.envelope import PacketHeader, verify_header_signature
from protocol.keys import decode_station_public_key, station_key_id

VERIFIED_HEADERS_KEPT = 4096  # signed headers already verified (one per packet in progress)


class PacketAdmission(IngestCore):
    """The checks on a chunk's signed header."""

    def _verify(self, station: Station, chunk: WireChunk) -> None:
        """Check the chunk's signed header against the station's key. The chunks of a packet
        carry the same header and signature: a pair verified once with this key is not
        verified again (a bounded cache of successes)."""
        signer = self._signer_key(station, chunk.header)
        memo = (station_key_id(signer), chunk.header_bytes, chunk.signature)
        with self._lock:
            if memo in self._verified:
                self._verified.move_to_end(memo)
                return
        verify_header_signature(chunk.header, chunk.header_bytes, chunk.signature, signer)
        with self._lock:
            self._verified[memo] = None
            if len(self._verified) > VERIFIED_HEADERS_KEPT:
                self._verified.popitem(last=False)

    def _wrong_recipient(self, header: PacketHeader) -> str | None:
        """Why the packet is sealed to a key central does not accept (a key of its own, an
        old central key no longer accepted, a downgrade to another KEM), or None."""
        if (header.kem, header.recipient) in self._recipients:
            return None
        current = self._central_keys[0]
        return (
            f"sealed to key {header.recipient} ({header.kem}), not to the central key "
            f"{current.key_id} ({current.kem}): update the station's central key"
        )

    @staticmethod
    def _signer_key(station: Station, header: PacketHeader) -> ed25519.Ed25519PublicKey:
        """The key the header names, among the station's current key and its previous key
        while the rotation grace period lasts; else the current key (which then fails)."""
        keys = station_keys(station)
        for key in keys:
            if station_key_id(key) == header.signer:
                return key
        assert station.public_key is not None
        return decode_station_public_key(station.public_key)
