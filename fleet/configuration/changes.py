"""Changing the desired configuration: layers set and deleted, tag members, and each
station's desired version recomputed, every change audited in the same transaction."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.configuration.layers import (
    ConfigRefusedError,
    Problem,
    Scope,
    affected_by,
    check_target,
    managed_stations,
    merge_for,
    validate,
)
from fleet.errors import NotFoundError, UnknownStationError
from fleet.store.locking import locked_or_created, serialised
from fleet.store.models import Station
from fleet.store.ops_models import ConfigLayer, ConfigLayerRevision, StationConfigState, StationTag
from protocol.station_config import config_sha256

log = logging.getLogger(__name__)

T = TypeVar("T")


def _refresh_changed(
    session: Session, station_ids: Iterable[str], *, now: datetime
) -> list[StationConfigState]:
    """Refresh these stations; the ones whose desired configuration changed."""
    changed = []
    for station_id in station_ids:
        existing = session.get(StationConfigState, station_id)
        before = (existing.desired_version, existing.desired_sha256) if existing else (0, None)
        state = refresh_station(session, station_id, now=now)
        if (state.desired_version, state.desired_sha256) != before:
            changed.append(state)
    return changed


def state_for_update(session: Session, station_id: str) -> StationConfigState:
    """The station's configuration row, locked (made if missing): ingest records what the
    station runs while an admin's change bumps what is desired, maybe in another process."""
    state, _ = locked_or_created(
        session,
        StationConfigState,
        station_id,
        {
            "station_id": station_id,
            "desired_version": 0,
            "published_version": 0,
            "desired_sources": "[]",
        },
    )
    return state


def serialise_changes(session: Session) -> None:
    """Configuration changes run one at a time across every fleet process (versions are
    read, incremented and written back); held until the caller's transaction ends."""
    serialised(session, "configuration")


def refresh_station(session: Session, station_id: str, *, now: datetime) -> StationConfigState:
    """Recompute a station's desired configuration; bump its version if the hash changed."""
    state = state_for_update(session, station_id)
    result = merge_for(session, station_id)
    if result is None:
        if state.desired_sha256 is not None:
            # No layer applies any more: the station keeps what it runs; nothing is desired.
            state.desired_sha256 = state.desired_document = None
            state.desired_sources, state.desired_at = "[]", now
        return state
    config, sources = result
    digest = config_sha256(config)
    state.desired_sources = json.dumps(sources)
    if digest != state.desired_sha256:
        state.desired_version += 1
        state.desired_sha256 = digest
        state.desired_document = config.model_dump_json()
        state.desired_at = now
    return state


@dataclass(frozen=True)
class LayerChange:
    layer: ConfigLayer | None
    stations: list[StationConfigState]


def _check_all(
    session: Session, scope: Scope, target: str, document: dict[str, Any] | None
) -> list[str]:
    """Refuse a change that would leave any station it touches with an invalid config."""
    stations = affected_by(session, scope, target)
    _for_each_station(
        stations,
        lambda station_id: merge_for(session, station_id, (scope, target, document)),
        "this change would give station {} an invalid configuration",
    )
    return stations


def _for_each_station(
    station_ids: Iterable[str], change: Callable[[str], T], refusal: str
) -> list[T]:
    """``change`` each station; if that would leave any with an invalid configuration, refuse
    with every problem, the first named in ``refusal`` (``{}``: its station id)."""
    results: list[T] = []
    problems: list[Problem] = []
    for station_id in station_ids:
        try:
            results.append(change(station_id))
        except ConfigRefusedError as exc:
            problems.extend(exc.problems)
    if problems:
        first = problems[0]
        raise ConfigRefusedError(
            f"{refusal.format(first.station_id)}: {first.key}: {first.problem}", problems
        )
    return results


def set_layer(
    session: Session,
    scope: Scope,
    target: str,
    document: dict[str, Any],
    *,
    actor: str,
    now: datetime,
) -> LayerChange:
    """Validate, store (a new version) and recompute the stations it touches. Caller commits,
    then publishes (`publish_pending`)."""
    target = check_target(scope, target)
    if scope == "station" and session.get(Station, target) is None:
        raise UnknownStationError(f"no station {target}")
    validate(document)  # on its own first: errors name the layer's own keys
    serialise_changes(session)
    stations = _check_all(session, scope, target, document)
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    layer = session.get(ConfigLayer, (scope, target))
    if layer is None:
        layer = ConfigLayer(scope=scope, target=target, version=0)
        session.add(layer)
    elif layer.document == text:
        return LayerChange(layer, [])  # no change, no new version
    layer.version += 1
    layer.document, layer.updated_at, layer.updated_by = text, now, actor
    states = _revise(
        session,
        ConfigLayerRevision(
            scope=scope, target=target, version=layer.version, document=text, at=now, by=actor
        ),
        stations,
        f"config.set.{scope}",
        {"version": layer.version, "document": text[:1500], "stations": len(stations)},
    )
    return LayerChange(layer, states)


def _revise(
    session: Session,
    revision: ConfigLayerRevision,
    stations: list[str],
    action: str,
    detail: audit.Detail,
) -> list[StationConfigState]:
    """Keep the layer's revision, recompute the stations it touches (the ones whose desired
    configuration changed) and audit the change."""
    session.add(revision)
    session.flush()
    states = _refresh_changed(session, stations, now=revision.at)
    audit.record(session, actor=revision.by, action=action, target=revision.target, detail=detail)
    return states


def delete_layer(
    session: Session, scope: Scope, target: str, *, actor: str, now: datetime
) -> LayerChange:
    target = check_target(scope, target)
    serialise_changes(session)
    layer = session.get(ConfigLayer, (scope, target))
    if layer is None:
        raise NotFoundError(f"no {scope} configuration for {target}")
    stations = _check_all(session, scope, target, None)
    session.delete(layer)
    states = _revise(
        session,
        ConfigLayerRevision(
            scope=scope, target=target, version=layer.version + 1, document=None, at=now, by=actor
        ),
        stations,
        f"config.delete.{scope}",
        {"version": layer.version, "stations": len(stations)},
    )
    return LayerChange(None, states)


def set_tag_members(
    session: Session, tag: str, station_ids: Iterable[str], *, actor: str, now: datetime
) -> LayerChange:
    """Make exactly these stations carry ``tag`` (validated like a layer change)."""
    tag = check_target("tag", tag)
    serialise_changes(session)
    wanted = sorted(set(station_ids))
    known = set(session.scalars(select(Station.station_id).where(Station.station_id.in_(wanted))))
    unknown = [s for s in wanted if s not in known]
    if unknown:
        raise UnknownStationError(f"no station {', '.join(unknown)}")
    before = set(session.scalars(select(StationTag.station_id).where(StationTag.tag == tag)))
    session.execute(delete(StationTag).where(StationTag.tag == tag))
    session.add_all(StationTag(station_id=s, tag=tag) for s in wanted)
    session.flush()
    touched = sorted(before ^ set(wanted))
    changed = _for_each_station(
        touched,
        lambda station_id: _refresh_changed(session, [station_id], now=now),
        "with these members station {} would get an invalid configuration",
    )
    states = [state for states in changed for state in states]
    audit.record(
        session,
        actor=actor,
        action="config.tag-members",
        target=tag,
        detail={"stations": ",".join(wanted)[:1500], "changed": len(touched)},
    )
    return LayerChange(session.get(ConfigLayer, ("tag", tag)), states)


def refresh_new_stations(session: Session, *, now: datetime) -> list[str]:
    """Stations registered since the last change get their desired configuration too."""
    if session.scalars(select(ConfigLayer).limit(1)).first() is None:
        return []
    serialise_changes(session)
    known = set(session.scalars(select(StationConfigState.station_id)))
    new = [s for s in managed_stations(session) if s not in known]
    for station_id in new:
        try:
            refresh_station(session, station_id, now=now)
        except ConfigRefusedError as exc:
            log.error("station %s: %s", station_id, exc)
    return new
