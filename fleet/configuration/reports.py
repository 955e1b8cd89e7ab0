"""What the stations report they run (``ConfigApplied`` and each heartbeat's ``config``), and
the drift between that and what is desired."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy.orm import Session

from fleet.configuration.changes import state_for_update
from fleet.store.ops_models import StationConfigState
from protocol.messages import AppliedConfigRef
from protocol.ops_messages import ConfigApplied
from protocol.station_config import StationConfig

log = logging.getLogger(__name__)

Drift = Literal["unmanaged", "in-sync", "pending", "not-published", "refused"]


def record_applied(
    session: Session, station_id: str, report: ConfigApplied, *, now: datetime
) -> StationConfigState:
    state = state_for_update(session, station_id)
    if (state.applied_version, state.applied_sha256) != (report.version, report.sha256):
        state.applied_at = now
    state.applied_version, state.applied_sha256 = report.version, report.sha256
    state.report_status = report.status
    state.report_desired_version = report.desired_version
    state.report_error = report.error
    state.report_at = now
    if report.status == "refused":
        log.warning(
            "station %s refused configuration v%s: %s",
            station_id,
            report.desired_version,
            report.error,
        )
    return state


def record_running(
    session: Session, station_id: str, ref: AppliedConfigRef, *, now: datetime
) -> None:
    """A heartbeat's ``config``: heals the picture if a ConfigApplied was lost."""
    state = session.get(StationConfigState, station_id)  # most heartbeats change nothing
    if state is None and ref.version == 0:
        return  # local settings and nothing desired: nothing to track
    if state is not None and (state.applied_version, state.applied_sha256) == (
        ref.version,
        ref.sha256,
    ):
        return
    state = state_for_update(session, station_id)
    if (state.applied_version, state.applied_sha256) != (ref.version, ref.sha256):
        state.applied_version, state.applied_sha256, state.applied_at = (
            ref.version,
            ref.sha256,
            now,
        )


def configured_heartbeat_interval(session: Session, station_id: str) -> float | None:
    state = session.get(StationConfigState, station_id)
    if state is None or state.desired_document is None:
        return None
    return StationConfig.model_validate_json(state.desired_document).heartbeat_interval_s


def drift(state: StationConfigState | None) -> Drift:
    if state is None or state.desired_sha256 is None:
        return "unmanaged"
    if state.applied_sha256 == state.desired_sha256:
        return "in-sync"
    if state.published_version < state.desired_version:
        return "not-published"
    if state.report_status == "refused" and state.report_desired_version == state.desired_version:
        return "refused"
    return "pending"
