"""/api/v1/summary: fleet totals, and packets per station a page of stations at a time."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from fleet.ingest import Ingest
from fleet.packet_files import PacketFiles
from protocol.chunks import split_packet
from tests.fleet.api_helpers import api_rig
from tests.fleet.test_ingest import CENTRAL, packet, register


def test_summary_counts_everything_and_pages_the_stations(
    tmp_path: Path, database_url: str
) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        ingest = Ingest(
            rig.sessions,
            PacketFiles(tmp_path / "p"),
            central_keys=[CENTRAL.public_key()],
            duplicate_receipt_interval_s=0,
        )
        sizes = resends = 0
        for n in range(6):
            key = ed25519.Ed25519PrivateKey.generate()
            register(rig.sessions, f"ct-{n:02d}", key)
            if n in (1, 4):
                continue  # they have sent nothing yet
            for seq in range(1, n + 2):
                sealed = packet(
                    f"ct-{n:02d}", key, seq=seq, size=3000, packet_id=f"{n:03x}{seq:029x}"
                )
                sizes += len(sealed.sealed)
                chunks = [c.to_bytes() for c in split_packet(sealed, 2048)]
                for chunk in chunks:
                    ingest.handle_chunk(f"ct-{n:02d}", chunk)
                if seq % 2:  # a resend: each chunk acknowledged again, counted, stored once
                    ingest.handle_chunks([(f"ct-{n:02d}", c) for c in chunks])
                    resends += len(chunks)
        with rig.client("viewer") as api:
            first = api.get("/api/v1/summary", params={"per_station_limit": 3}).json()
            rest = api.get(
                "/api/v1/summary", params={"per_station_limit": 3, "per_station_offset": 3}
            ).json()
            totals_only = api.get("/api/v1/summary", params={"per_station_limit": 0}).json()
    assert (first["stations"], first["packets"], first["packet_bytes"]) == (6, 14, sizes)
    assert first["resends_acknowledged"] == resends > 0
    assert first["per_station"] == [
        {"station_id": "ct-00", "packets": 1, "last_seq": 1},
        {"station_id": "ct-02", "packets": 3, "last_seq": 3},
    ]
    assert [s["station_id"] for s in rest["per_station"]] == ["ct-03", "ct-05"]
    assert totals_only["per_station"] == [] and totals_only["packets"] == 14
