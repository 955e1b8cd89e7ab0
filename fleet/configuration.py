"""Desired configuration: layers per fleet, tag and station, merged, validated, versioned,
published retained on each station's ``config`` topic, and compared with what it applied.

- A layer is a partial `StationConfig` (JSON object). For a station the layers merge in order
  fleet -> its tags (by tag name) -> the station itself; later wins, objects merge key by key,
  lists and values replace. A layer is accepted only if it validates on its own (unknown keys,
  wrong types and out-of-range values are refused, naming the key) and every station it
  touches still gets a valid configuration.
- Stations with no layer at all have no desired configuration: they run their local settings.
  A fleet layer ``{}`` means "the defaults of StationConfig for everything".
- Each station's merged configuration has a version (+1 whenever its hash changes). After the
  change commits it is published, retained, QoS 1; a job republishes anything not yet
  published (broker down), so nothing waits for the next change.
- Drift: desired version and hash against what the station reports (`ConfigApplied` and every
  heartbeat's ``config``).

Every change is in the audit log, in the same transaction.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fleet import audit
from fleet.broker.publisher import FleetPublisher
from fleet.errors import InvalidError, NotFoundError, UnknownStationError
from fleet.store.locking import locked_or_created, serialised
from fleet.store.models import Station
from fleet.store.ops_models import (
    ConfigLayer,
    ConfigLayerRevision,
    StationConfigState,
    StationTag,
)
from protocol import topics
from protocol.envelope import utc_timestamp
from protocol.messages import AppliedConfigRef
from protocol.ops_messages import ConfigApplied, DesiredConfig
from protocol.station_config import StationConfig, config_sha256

log = logging.getLogger(__name__)

Scope = Literal["fleet", "tag", "station"]
FLEET = "*"
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
Drift = Literal["unmanaged", "in-sync", "pending", "not-published", "refused"]


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    station_id: str | None = None


class ConfigRefusedError(InvalidError):
    """A configuration that does not validate: ``problems`` name each key."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` over ``base``: objects merge key by key; anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _problems(exc: ValidationError, station_id: str | None = None) -> list[Problem]:
    return [
        Problem(".".join(str(p) for p in err["loc"]) or "(document)", err["msg"], station_id)
        for err in exc.errors()
    ]


def validate(document: dict[str, Any], *, station_id: str | None = None) -> StationConfig:
    try:
        return StationConfig.model_validate(document)
    except ValidationError as exc:
        problems = _problems(exc, station_id)
        where = f" for station {station_id}" if station_id else ""
        summary = "; ".join(f"{p.key}: {p.problem}" for p in problems[:5])
        raise ConfigRefusedError(f"invalid configuration{where}: {summary}", problems) from None


# -- reading -----------------------------------------------------------------------------------


def check_target(scope: Scope, target: str) -> str:
    if scope == "fleet":
        return FLEET
    if scope == "tag" and not TAG_RE.fullmatch(target):
        raise ConfigRefusedError(
            f"tag {target!r}: use 1-63 characters of a-z, 0-9 and '-'",
            [Problem("tag", "use 1-63 characters of a-z, 0-9 and '-'")],
        )
    if scope == "station":
        try:
            topics.validate_station_id(target)
        except ValueError as exc:
            raise ConfigRefusedError(str(exc), [Problem("station_id", str(exc))]) from None
    return target


def tags_of(session: Session, station_id: str) -> list[str]:
    return list(
        session.scalars(
            select(StationTag.tag)
            .where(StationTag.station_id == station_id)
            .order_by(StationTag.tag)
        )
    )


def layers_for(session: Session, station_id: str) -> list[ConfigLayer]:
    """The layers that apply to a station, in merge order."""
    layers: list[ConfigLayer] = []
    fleet = session.get(ConfigLayer, ("fleet", FLEET))
    if fleet is not None:
        layers.append(fleet)
    for tag in tags_of(session, station_id):
        layer = session.get(ConfigLayer, ("tag", tag))
        if layer is not None:
            layers.append(layer)
    own = session.get(ConfigLayer, ("station", station_id))
    if own is not None:
        layers.append(own)
    return layers


def merge_for(
    session: Session,
    station_id: str,
    override: tuple[Scope, str, dict[str, Any] | None] | None = None,
) -> tuple[StationConfig, list[dict[str, Any]]] | None:
    """The merged configuration of a station and its sources, or None (no layer applies).

    ``override`` = (scope, target, document or None to remove) stands in for a layer being
    changed, so a change is checked before it is stored.
    """
    documents: list[tuple[str, str, int, dict[str, Any]]] = [
        (layer.scope, layer.target, layer.version, json.loads(layer.document))
        for layer in layers_for(session, station_id)
    ]
    if override is not None:
        scope, target, document = override
        applies = (
            scope == "fleet"
            or (scope == "station" and target == station_id)
            or (scope == "tag" and target in tags_of(session, station_id))
        )
        if applies:
            documents = [d for d in documents if (d[0], d[1]) != (scope, target)]
            if document is not None:
                documents.append((scope, target, -1, document))
                order = {"fleet": 0, "tag": 1, "station": 2}
                documents.sort(key=lambda d: (order[d[0]], d[1]))
    if not documents:
        return None
    merged: dict[str, Any] = {}
    for _, _, _, document in documents:
        merged = deep_merge(merged, document)
    config = validate(merged, station_id=station_id)
    sources = [{"scope": s, "target": t, "version": v} for s, t, v, _ in documents]
    return config, sources


def managed_stations(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Station.station_id)
            .where(Station.state != "revoked")
            .order_by(Station.station_id)
        )
    )


def affected_by(session: Session, scope: Scope, target: str) -> list[str]:
    stations = managed_stations(session)
    if scope == "fleet":
        return stations
    if scope == "station":
        return [target] if target in stations else []
    members = set(session.scalars(select(StationTag.station_id).where(StationTag.tag == target)))
    return [s for s in stations if s in members]


# -- changing ----------------------------------------------------------------------------------


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


def _state_for_update(session: Session, station_id: str) -> StationConfigState:
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
    state = _state_for_update(session, station_id)
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
    problems: list[Problem] = []
    for station_id in stations:
        try:
            merge_for(session, station_id, (scope, target, document))
        except ConfigRefusedError as exc:
            problems.extend(exc.problems)
    if problems:
        first = problems[0]
        raise ConfigRefusedError(
            f"this change would give station {first.station_id} an invalid configuration: "
            f"{first.key}: {first.problem}",
            problems,
        )
    return stations


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
    session.add(
        ConfigLayerRevision(
            scope=scope, target=target, version=layer.version, document=text, at=now, by=actor
        )
    )
    session.flush()
    states = _refresh_changed(session, stations, now=now)
    audit.record(
        session,
        actor=actor,
        action=f"config.set.{scope}",
        target=target,
        detail={"version": layer.version, "document": text[:1500], "stations": len(stations)},
    )
    return LayerChange(layer, states)


def delete_layer(
    session: Session, scope: Scope, target: str, *, actor: str, now: datetime
) -> LayerChange:
    target = check_target(scope, target)
    serialise_changes(session)
    layer = session.get(ConfigLayer, (scope, target))
    if layer is None:
        raise NotFoundError(f"no {scope} configuration for {target}")
    stations = _check_all(session, scope, target, None)
    session.add(
        ConfigLayerRevision(
            scope=scope, target=target, version=layer.version + 1, document=None, at=now, by=actor
        )
    )
    version = layer.version
    session.delete(layer)
    session.flush()
    states = _refresh_changed(session, stations, now=now)
    audit.record(
        session,
        actor=actor,
        action=f"config.delete.{scope}",
        target=target,
        detail={"version": version, "stations": len(stations)},
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
    problems: list[Problem] = []
    states = []
    for station_id in touched:
        try:
            states.extend(_refresh_changed(session, [station_id], now=now))
        except ConfigRefusedError as exc:
            problems.extend(exc.problems)
    if problems:
        first = problems[0]
        raise ConfigRefusedError(
            f"with these members station {first.station_id} would get an invalid "
            f"configuration: {first.key}: {first.problem}",
            problems,
        )
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


# -- publishing --------------------------------------------------------------------------------


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


# -- what the stations report --------------------------------------------------------------------


def record_applied(
    session: Session, station_id: str, report: ConfigApplied, *, now: datetime
) -> StationConfigState:
    state = _state_for_update(session, station_id)
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
    state = _state_for_update(session, station_id)
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
