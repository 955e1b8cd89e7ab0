"""Publishing each station's desired configuration, retained on its ``config`` topic."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.broker.publisher import FleetPublisher
from fleet.store.ops_models import StationConfigState
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.ops_messages import DesiredConfig
from protocol.station_config import StationConfig

log = logging.getLogger(__name__)


def unpublished(session: Session, station_ids: Iterable[str] | None = None) -> list[str]:
    query = select(StationConfigState).where(
        StationConfigState.desired_sha256.is_not(None),
        StationConfigState.published_version < StationConfigState.desired_version,
    )
    if station_ids is not None:
        query = query.where(StationConfigState.station_id.in_(list(station_ids)))
    return [s.station_id for s in session.scalars(query)]


def desired_message(state: StationConfigState, *, now: datetime) -> DesiredConfig:
    assert state.desired_document is not None and state.desired_sha256 is not None
    return DesiredConfig(
        station_id=state.station_id,
        version=state.desired_version,
        sha256=state.desired_sha256,
        issued_at=utc_timestamp(now),
        config=StationConfig.model_validate_json(state.desired_document),
    )


def publish(session: Session, publisher: FleetPublisher, station_id: str, *, now: datetime) -> bool:
    """Publish a station's desired configuration, retained (caller commits)."""
    state = session.get(StationConfigState, station_id)
    if state is None or state.desired_sha256 is None:
        return False
    message = desired_message(state, now=now)
    publisher.publish(
        topics.CONFIG.for_station(station_id),
        message.to_payload(),
        qos=topics.CONFIG.qos,
        retain=topics.CONFIG.retain,
    )
    state.published_version, state.published_at = state.desired_version, now
    log.info("configuration v%d published to %s", state.desired_version, station_id)
    return True
