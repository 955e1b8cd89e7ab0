"""A station's ``update-status`` report, stored against its rollout.

One function for ingest to call with the topic's station id and the raw payload (ingest routes
the ``update-status`` topic here). The report is hostile input: it must parse as an
``UpdateStatus``, name the station whose topic it came on, and name a rollout that targets
that station with the same component and version; anything else is refused (ProtocolError,
which ingest quarantines) or ignored with a log line (a report for a rollout that was deleted).

A station's row follows its reports until a final state (``FINAL_STATES``); a final state also
clears the station's retained offer (the engine publishes the empty retained message). A row
the fleet already decided (``timed-out``, ``skipped``) keeps that state: a late ``healthy``
is logged, it cannot reopen a phase that was judged.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session

from fleet import audit
from fleet.store.models import Station
from fleet.store.rollout_models import Rollout, RolloutStation
from fleet.updates.rollouts import DONE_STATES
from protocol.errors import MessageError
from protocol.messages import parse_message
from protocol.updates import FINAL_STATES, UpdateStatus

log = logging.getLogger(__name__)


def record_update_status(
    session: Session, station_id: str, payload: bytes, *, now: datetime
) -> RolloutStation | None:
    """Store one report (the caller commits). Returns the station's rollout row, or None when
    the report was ignored."""
    report = parse_message(UpdateStatus, payload)
    if report.station_id != station_id:
        raise MessageError(f"update status names station {report.station_id}")
    station = session.get(Station, station_id)
    if station is None or station.state != "active":
        log.warning("update status from %s ignored: not an active station", station_id)
        return None
    rollout = session.get(Rollout, report.rollout_id)
    # Locked: a report racing the engine's timeout reads what the engine decided.
    row = session.get(RolloutStation, (report.rollout_id, station_id), with_for_update=True)
    if rollout is None or row is None:
        log.warning(
            "update status from %s for rollout %s ignored: no such rollout targets it",
            station_id,
            report.rollout_id,
        )
        return None
    if (report.component, report.version) != (rollout.component, rollout.version):
        raise MessageError(
            f"update status for {report.component} {report.version}, but rollout "
            f"{rollout.rollout_id} installs {rollout.component} {rollout.version}"
        )
    if row.offered_at is None:
        log.warning(
            "update status from %s for rollout %s ignored: it was never offered the release",
            station_id,
            rollout.rollout_id,
        )
        return None
    if row.state in DONE_STATES:
        if report.state != row.state:
            log.info(
                "late update status from %s in %s: %s (already %s)",
                station_id,
                rollout.rollout_id,
                report.state,
                row.state,
            )
        return row
    row.state = report.state
    row.reported_at = now
    row.bytes_done, row.bytes_total, row.delta = report.bytes_done, report.bytes_total, report.delta
    if report.from_version is not None:  # what the updater says it ran, a checked version
        row.from_version = report.from_version
    if report.reason is not None:
        row.reason = report.reason
    if report.log_tail is not None:
        row.log_tail = report.log_tail
    if report.state in FINAL_STATES:
        row.finished_at = now
        row.offer, row.offer_dirty = "cleared", True
        audit.record(
            session,
            actor=f"station:{station_id}",
            action=f"rollout-station-{report.state}",
            target=rollout.rollout_id,
            detail={"station": station_id, "reason": report.reason},
        )
    return row
