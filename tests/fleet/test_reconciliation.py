"""Reconciliation at the fleet: gaps per station and day, alerted; pending is not a gap."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from fleet.store.models import AuditEntry, Packet
from fleet.store.ops_models import Alert, ReconciliationDayRow, ReconciliationState
from protocol.ops_messages import ReconciliationDay, ReconciliationReport, seq_ranges
from tests.fleet.conftest import OpsRig


def received(rig: OpsRig, station_id: str, *seqs: int) -> None:
    with rig.sessions() as session:
        for seq in seqs:
            session.add(
                Packet(
                    packet_id=uuid.uuid4().hex,
                    station_id=station_id,
                    seq=seq,
                    sha256="0" * 64,
                    size=1,
                    content_type="application/vnd.ewp.enrolment+zip",
                    created_at="2026-11-23T03:00:00.000Z",
                    received_at=datetime.now(UTC),
                    path=f"{station_id}/{seq}.ewp",
                )
            )
        session.commit()


def report(
    rig: OpsRig,
    station_id: str,
    days: dict[str, list[int]],
    pending: dict[str, list[int]] | None = None,
    missing: tuple[int, ...] = (),
    last_seq: int | None = None,
) -> ReconciliationState:
    every = [s for seqs in days.values() for s in seqs]
    message = ReconciliationReport(
        station_id=station_id,
        at="2026-11-23T03:00:00.000Z",
        last_seq=last_seq if last_seq is not None else max([*every, *missing], default=0),
        created_total=len(every),
        days=[
            ReconciliationDay(
                day=day,
                created=len(seqs),
                seqs=seq_ranges(seqs),
                pending=seq_ranges((pending or {}).get(day, [])),
            )
            for day, seqs in sorted(days.items())
        ],
        missing=seq_ranges(missing),
    )
    rig.ingest.handle_ops_message(station_id, "reconciliation", message.to_payload())
    with rig.sessions() as session:
        state = session.get(ReconciliationState, station_id)
        assert state is not None
        return state


def day_rows(rig: OpsRig, station_id: str) -> dict[str, tuple[int, int, int, int, str]]:
    with rig.sessions() as session:
        rows = session.scalars(
            select(ReconciliationDayRow).where(ReconciliationDayRow.station_id == station_id)
        )
        return {r.day: (r.created, r.received, r.pending, r.lost, r.lost_seqs) for r in rows}


def gap_alerts(rig: OpsRig) -> list[str]:
    with rig.sessions() as session:
        rows = session.scalars(
            select(Alert).where(Alert.rule == "reconciliation-gap", Alert.cleared_at.is_(None))
        )
        return [a.station_id for a in rows]


def test_everything_received_or_waiting_is_no_gap(rig: OpsRig) -> None:
    sid = rig.station("ct-01")
    received(rig, sid, 1, 2, 3)
    state = report(rig, sid, {"2026-11-22": [1, 2], "2026-11-23": [3, 4, 5]},
                   pending={"2026-11-23": [4, 5]})  # fmt: skip
    assert (state.lost_total, state.pending_total, state.received_total) == (0, 2, 3)
    assert day_rows(rig, sid) == {
        "2026-11-22": (2, 2, 0, 0, "[]"),
        "2026-11-23": (3, 1, 2, 0, "[]"),
    }
    assert gap_alerts(rig) == []


def test_a_packet_deleted_before_upload_is_a_gap_on_its_day_and_alerts(rig: OpsRig) -> None:
    sid = rig.station("mu-02", kind="mobile")
    received(rig, sid, 1, 2, 4)
    state = report(rig, sid, {"2026-11-22": [1, 2], "2026-11-23": [4]}, missing=[3])
    assert (state.lost_total, json.loads(state.lost_seqs)) == (1, [[3, 3]])
    assert day_rows(rig, sid)["2026-11-23"] == (1, 1, 0, 1, "[[3, 3]]")  # the next kept day
    assert gap_alerts(rig) == [sid]
    with rig.sessions() as session:
        alert = session.scalars(select(Alert)).one()
        detail = json.loads(alert.detail)
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "alert.raise.reconciliation-gap")
        ).one()
    assert detail == {"lost": 1, "seqs": "3", "days": "2026-11-23"}
    assert audit.target == sid
    # The same report again: still one alert. The packet turns up (uploaded from a backup):
    report(rig, sid, {"2026-11-22": [1, 2], "2026-11-23": [4]}, missing=[3])
    received(rig, sid, 3)
    report(rig, sid, {"2026-11-22": [1, 2], "2026-11-23": [4]}, missing=[3])
    assert gap_alerts(rig) == []
    rig.ops.evaluate_alerts()  # the periodic evaluation agrees
    assert gap_alerts(rig) == []


def test_acknowledged_at_the_station_but_missing_at_the_fleet_is_a_gap(rig: OpsRig) -> None:
    sid = rig.station("ct-03")
    received(rig, sid, 1)
    state = report(rig, sid, {"2026-11-23": [1, 2]})
    assert json.loads(state.lost_seqs) == [[2, 2]]


def test_the_newest_rows_deleted_at_the_station_are_caught(rig: OpsRig) -> None:
    sid = rig.station("ct-04")
    received(rig, sid, 1, 2)
    report(rig, sid, {"2026-11-23": [1, 2, 3, 4]}, pending={"2026-11-23": [3, 4]})
    state = report(rig, sid, {"2026-11-23": [1, 2]})  # rows 3 and 4 vanished
    assert (state.last_seq, state.high_water_seq) == (2, 4)
    assert json.loads(state.lost_seqs) == [[3, 4]]
    assert json.loads(state.missing_at_station) == [[3, 4]]
    assert gap_alerts(rig) == [sid]


def test_a_reused_sequence_number_is_shown(rig: OpsRig) -> None:
    sid = rig.station("ct-05")
    received(rig, sid, 1, 2)
    received(rig, sid, 2)  # seq 2 again, another packet id
    state = report(rig, sid, {"2026-11-23": [1, 2]})
    assert json.loads(state.duplicate_seqs) == [[2, 2]]


def test_reports_from_unknown_stations_are_ignored(rig: OpsRig) -> None:
    message = ReconciliationReport(
        station_id="zz-99", at="2026-11-23T03:00:00.000Z", last_seq=0, created_total=0, days=[]
    )
    rig.ingest.handle_ops_message("zz-99", "reconciliation", message.to_payload())
    with rig.sessions() as session:
        assert session.get(ReconciliationState, "zz-99") is None
