"""Regenerate the envelope test vectors: ``python -m tests.protocol.generate_vectors``.

HPKE encapsulation is randomised, so each run gives different sealed bytes; the committed file is
one such run. Tests check that the committed envelopes verify and open to the committed plaintext.
"""

from __future__ import annotations

import json
from pathlib import Path

from protocol.chunks import split_packet
from protocol.envelope import hpke_info, seal_packet
from tests.protocol.vector_keys import central_key, station_key

OUT = Path(__file__).parent / "vectors" / "envelope-v1.json"

CASES = [
    ("hybrid post-quantum KEM (the default)", "MLKEM768_X25519", b"hello, central" * 3),
    ("classic X25519 KEM (accepted)", "X25519", bytes(range(256)) * 4),
]


def main() -> None:
    vectors = []
    for i, (description, kem, plaintext) in enumerate(CASES, start=1):
        station_id, packet_id = "mu-01", f"{i:032x}"
        packet = seal_packet(
            plaintext,
            station_id=station_id,
            packet_id=packet_id,
            seq=i,
            recipient=central_key(kem).public_key(),  # type: ignore[arg-type]
            signer=station_key(),
            created_at="2026-11-25T08:00:00.000Z",
        )
        chunks = [c.to_bytes().hex() for c in split_packet(packet, chunk_size=1000)]
        vectors.append(
            {
                "description": description,
                "kem": kem,
                "central_key_id": central_key(kem).public_key().key_id,  # type: ignore[arg-type]
                "station_id": station_id,
                "packet_id": packet_id,
                "seq": i,
                "info_hex": hpke_info(station_id, packet_id).hex(),
                "plaintext_hex": plaintext.hex(),
                "header_json": packet.header_bytes.decode(),
                "signature_hex": packet.signature.hex(),
                "envelope_hex": packet.to_bytes().hex(),
                "chunk_size": 1000,
                "chunks_hex": chunks,
            }
        )
    OUT.write_text(json.dumps({"format": "ewp envelope v1", "vectors": vectors}, indent=1) + "\n")


if __name__ == "__main__":
    main()
