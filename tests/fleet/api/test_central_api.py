"""The central system's routes: take packets, mark them processed, post application status."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import select

from fleet.store.models import AuditEntry
from protocol.chunks import split_packet
from protocol.envelope import SealedPacket
from tests.fleet.api_helpers import ApiRig, api_rig
from tests.fleet.test_ingest import packet, register


def store_packets(rig: ApiRig, station_id: str, count: int) -> list[SealedPacket]:
    key = ed25519.Ed25519PrivateKey.generate()
    register(rig.sessions, station_id, key)
    sealed = [packet(station_id, key, seq=n, size=2000) for n in range(1, count + 1)]
    for p in sealed:
        for chunk in split_packet(p, 65536):
            rig.ingest.handle_chunk(station_id, chunk.to_bytes())
    return sealed


def audit_actions(rig: ApiRig, action: str) -> list[tuple[str, str]]:
    with rig.sessions() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return [(e.actor, e.target) for e in rows]


def test_central_takes_packets_and_marks_them_processed(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        first, second = store_packets(rig, "ct-01", 2)
        with rig.client("central") as central:
            waiting = central.get("/api/v1/central/packets").json()
            assert [p["seq"] for p in waiting] == [1, 2]
            envelope = central.get(f"/api/v1/central/packets/{first.packet_id}/envelope")
            assert SealedPacket.from_bytes(envelope.content) == first
            for _ in range(2):  # idempotent
                done = central.post(f"/api/v1/central/packets/{first.packet_id}/processed")
                assert done.status_code == 200 and done.json()["state"] == "processed"
            assert [p["seq"] for p in central.get("/api/v1/central/packets").json()] == [2]
            processed = central.get("/api/v1/central/packets", params={"state": "processed"})
            assert [p["packet_id"] for p in processed.json()] == [first.packet_id]
            assert (
                central.post("/api/v1/central/packets/" + "0" * 32 + "/processed").status_code
                == 404
            )
        assert audit_actions(rig, "packet.processed") == [("test-central", first.packet_id)]
        assert second.packet_id  # still waiting for central


def test_application_status_is_recorded_with_its_history(tmp_path: Path, database_url: str) -> None:
    with api_rig(tmp_path, database_url=database_url) as rig:
        (sealed,) = store_packets(rig, "mu-01", 1)
        first = {
            "application_number": "WP-MU-01-000001",
            "status": "received",
            "packet_id": sealed.packet_id,
            "passport_number": "MM1234567",
        }
        with rig.client("central") as central:
            r = central.post("/api/v1/central/application-status", json=first)
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["station_id"], body["status"], body["published_at"]) == (
                "mu-01",
                "received",
                None,
            )  # fmt: skip  (no broker in this test)
            assert "passport_number" not in body
            again = central.post("/api/v1/central/application-status", json=first)
            assert len(again.json()["history"]) == 1  # the same post: no new entry
            rejected = central.post(
                "/api/v1/central/application-status",
                json={"application_number": "WP-MU-01-000001", "status": "rejected"},
            )
            assert rejected.status_code == 422  # a rejection needs its reason
            r = central.post(
                "/api/v1/central/application-status",
                json={"application_number": "WP-MU-01-000001", "status": "rejected",
                      "reason": "employer not registered"},
            )  # fmt: skip
            assert [h["status"] for h in r.json()["history"]] == ["received", "rejected"]
            unknown_first = central.post(
                "/api/v1/central/application-status",
                json={"application_number": "WP-NEW-1", "status": "received"},
            )
            no_packet = central.post(
                "/api/v1/central/application-status",
                json={**first, "application_number": "WP-NEW-2", "packet_id": "f" * 32},
            )
            other_passport = central.post(
                "/api/v1/central/application-status",
                json={**first, "passport_number": "XX0000000"},
            )
            fetched = central.get("/api/v1/central/application-status/WP-MU-01-000001").json()
            missing = central.get("/api/v1/central/application-status/WP-NOPE")
        assert (unknown_first.status_code, no_packet.status_code) == (409, 404)
        assert other_passport.status_code == 409
        assert fetched["status"] == "rejected" and fetched["reason"] == "employer not registered"
        assert missing.status_code == 404
        assert len(audit_actions(rig, "application.status")) == 2
