"""The demo's verdict: what the stations created against what the fleet stored, packet by
packet (same hash, exactly once), each packet opened and checked with the central key."""

from __future__ import annotations

from pathlib import Path

from ewp.demo.fleet import DEMO_ADMIN, DemoFleet
from ewp.demo.stations import created_packets, station_public_key
from ewp.demo.summary import DemoResult
from ewp.kiosk_demo import KioskStation
from ewp.local_fleet import central_token
from fleet.central import open_and_check
from protocol.envelope import SealedPacket
from protocol.errors import ProtocolError
from protocol.keys import CentralPrivateKey

PAGE = 1000  # packets listed per API call


def check(
    fleet: DemoFleet,
    central: CentralPrivateKey,
    stations: dict[str, Path],
    *,
    expected: int,
    kiosk: KioskStation | None,
    links_cut: int,
    elapsed: float,
) -> DemoResult:
    """``stations``: every station's data directory by station id, the kiosk's too."""
    created: dict[str, str] = {}
    problems: list[str] = []
    for data_dir in stations.values():
        created.update(created_packets(data_dir))
    stored: list[dict[str, object]] = []
    with fleet.api() as api:
        offset = 0
        while True:
            page = api.get("/api/v1/packets", params={"limit": PAGE, "offset": offset}).json()
            stored.extend(page)
            if len(page) < PAGE:
                break
            offset += PAGE
        summary = api.get("/api/v1/summary").json()
        opened = 0
        attempts: dict[str, list[int]] = {"finger": [], "iris": []}
        exceptions = 0
        sizes: list[int] = []
        public_keys = {sid: station_public_key(data_dir) for sid, data_dir in stations.items()}
        # Only the central role fetches envelopes (decision 0040): the demo acts as central.
        as_central = {"authorization": f"Bearer {central_token(api)}"}
        for row in stored:
            envelope = api.get(
                f"/api/v1/packets/{row['packet_id']}/envelope", headers=as_central
            ).content
            sizes.append(len(envelope))
            try:
                packet = SealedPacket.from_bytes(envelope)
                content = open_and_check(packet, central, public_keys[packet.station_id])
                opened += 1
            except (ProtocolError, KeyError) as exc:
                problems.append(f"packet {row['packet_id']} does not open: {exc}")
                continue
            for record in content.manifest.records:
                if record.kind == "image":
                    attempts[record.modality].append(record.attempts)
            exceptions += len(content.manifest.exceptions)
    ids = [str(row["packet_id"]) for row in stored]
    fleet_hashes = {str(row["packet_id"]): str(row["sha256"]) for row in stored}
    lost = sorted(set(created) - set(fleet_hashes))
    mismatched = [p for p, sha in fleet_hashes.items() if created.get(p) not in (None, sha)]
    unknown = sorted(set(fleet_hashes) - set(created))
    if unknown:
        problems.append(f"{len(unknown)} packets at the fleet that no station created")
    if kiosk is not None and not kiosk.saved:
        problems.append(f"the kiosk's applicant was not saved: {kiosk.error or 'timeout'}")
    return DemoResult(
        stations=len(stations),
        expected=expected,
        packets_created=len(created),
        packets_received=len(set(ids)),
        lost=len(lost),
        duplicates=len(ids) - len(set(ids)),
        hash_mismatches=len(mismatched),
        opened_by_central=opened,
        resends_acknowledged=int(summary.get("resends_acknowledged", 0)),
        links_cut=links_cut,
        average_attempts={m: round(sum(v) / len(v), 2) for m, v in attempts.items() if v},
        exceptions=exceptions,
        packet_kb={
            "mean": round(sum(sizes) / len(sizes) / 1024, 1) if sizes else 0.0,
            "max": round(max(sizes, default=0) / 1024, 1),
        },
        elapsed_s=round(elapsed, 1),
        fleet_url=fleet.url,
        workdir=str(fleet.root),
        problems=problems,
        dashboard_url=f"{fleet.url}/ui/",
        dashboard_user=DEMO_ADMIN,
        dashboard_password=fleet.dashboard_password,
        kiosk_url=kiosk.url if kiosk else "",
        kiosk_saved=kiosk.saved if kiosk else "",
    )
