"""Desired configuration: layers per fleet, tag and station, tag members, drift, history.

A refused change raises ``ConfigRefusedError`` (one problem per key); a change that is taken is
committed and the stations whose merged configuration changed get it published at once.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.ops_schemas import (
    ConfigLayerPublic,
    ConfigRevisionPublic,
    LayerChangePublic,
    StationConfigPublic,
    StationDesired,
    TagPublic,
)
from fleet.api.schemas import shown_from
from fleet.configuration import changes
from fleet.configuration.layers import Scope, managed_stations, tags_of
from fleet.configuration.reports import drift
from fleet.context import FleetContext
from fleet.errors import NotFoundError
from fleet.services.stations import station_row
from fleet.store.ops_models import (
    ConfigLayer,
    ConfigLayerRevision,
    StationConfigState,
    StationTag,
)


def _layer_public(layer: ConfigLayer) -> ConfigLayerPublic:
    return shown_from(ConfigLayerPublic, layer, document=json.loads(layer.document))


def list_layers(session: Session) -> list[ConfigLayerPublic]:
    rows = session.scalars(select(ConfigLayer).order_by(ConfigLayer.scope, ConfigLayer.target))
    return [_layer_public(layer) for layer in rows]


def find_layer(session: Session, scope: Scope, target: str) -> ConfigLayerPublic | None:
    layer = session.get(ConfigLayer, (scope, target))
    return _layer_public(layer) if layer is not None else None


def get_layer(session: Session, scope: Scope, target: str) -> ConfigLayerPublic:
    found = find_layer(session, scope, target)
    if found is None:
        raise NotFoundError(f"no {scope} configuration for {target}")
    return found


def _published(
    session: Session, context: FleetContext, change: changes.LayerChange
) -> LayerChangePublic:
    """Commit the change, then publish the stations' new configurations."""
    stations = [shown_from(StationDesired, s) for s in change.stations]
    layer = _layer_public(change.layer) if change.layer is not None else None
    session.commit()
    published = context.ops.publish_configs([s.station_id for s in stations])
    return LayerChangePublic(layer=layer, stations=stations, published=published)


def change_layer(
    session: Session,
    context: FleetContext,
    scope: Scope,
    target: str,
    document: dict[str, Any] | None,
    *,
    actor: str,
) -> LayerChangePublic:
    """Set the layer to ``document``, or remove it (``None``)."""
    now = context.ops.clock()
    if document is None:
        change = changes.delete_layer(session, scope, target, actor=actor, now=now)
    else:
        change = changes.set_layer(session, scope, target, document, actor=actor, now=now)
    return _published(session, context, change)


def set_tag_members(
    session: Session, context: FleetContext, tag: str, stations: list[str], *, actor: str
) -> LayerChangePublic:
    """Exactly these stations carry the tag (the others lose it)."""
    change = changes.set_tag_members(session, tag, stations, actor=actor, now=context.ops.clock())
    return _published(session, context, change)


def list_tags(session: Session) -> list[TagPublic]:
    members: dict[str, list[str]] = {}
    for tag, station_id in session.execute(
        select(StationTag.tag, StationTag.station_id).order_by(
            StationTag.tag, StationTag.station_id
        )
    ):
        members.setdefault(tag, []).append(station_id)
    layers = {
        layer.target: layer.version
        for layer in session.scalars(select(ConfigLayer).where(ConfigLayer.scope == "tag"))
    }
    return [
        TagPublic(tag=tag, stations=members.get(tag, []), layer_version=layers.get(tag))
        for tag in sorted(set(members) | set(layers))
    ]


def tag_members(session: Session, tag: str) -> list[str]:
    return [
        station for found in list_tags(session) if found.tag == tag for station in found.stations
    ]


# What a station without a desired configuration shows (it runs its local settings).
_UNMANAGED: dict[str, object] = {
    "desired_version": 0,
    "published_version": 0,
    "sources": [],
    **dict.fromkeys(
        ("desired_sha256", "desired_at", "config", "applied_version", "applied_sha256"), None
    ),
    **dict.fromkeys(("applied_at", "report_status", "report_error", "report_at"), None),
}


def _station_public(
    station_id: str, state: StationConfigState | None, tags: list[str]
) -> StationConfigPublic:
    if state is None:
        return StationConfigPublic.model_validate(
            {"station_id": station_id, "tags": tags, "drift": drift(None), **_UNMANAGED}
        )
    document = state.desired_document
    return shown_from(
        StationConfigPublic,
        state,
        tags=tags,
        drift=drift(state),
        sources=json.loads(state.desired_sources),
        config=json.loads(document) if document else None,
    )


def station_configs(session: Session, *, drifted: bool = False) -> list[StationConfigPublic]:
    """Drift across the fleet: desired against applied, per station (``drifted``: only those
    not in sync)."""
    stations = managed_stations(session)
    states = {s.station_id: s for s in session.scalars(select(StationConfigState))}
    tags: dict[str, list[str]] = {}
    for tag, station_id in session.execute(select(StationTag.tag, StationTag.station_id)):
        tags.setdefault(station_id, []).append(tag)
    views = [_station_public(s, states.get(s), sorted(tags.get(s, []))) for s in stations]
    return [v for v in views if not drifted or v.drift not in ("in-sync", "unmanaged")]


def effective(session: Session, station_id: str) -> StationConfigPublic:
    """What the station should run (merged), what it runs, and the drift between them."""
    station_row(session, station_id)
    return _station_public(
        station_id,
        session.get(StationConfigState, station_id),
        tags_of(session, station_id),
    )


def history(
    session: Session, *, scope: Scope | None = None, target: str | None = None, limit: int = 100
) -> list[ConfigRevisionPublic]:
    """Every version of every layer (or of one scope, one target), newest first."""
    query = select(ConfigLayerRevision).order_by(ConfigLayerRevision.id.desc())
    if scope is not None:
        query = query.where(ConfigLayerRevision.scope == scope)
    if target is not None:
        query = query.where(ConfigLayerRevision.target == target)
    return [
        shown_from(
            ConfigRevisionPublic,
            r,
            document=json.loads(r.document) if r.document is not None else None,
        )
        for r in session.scalars(query.limit(limit))
    ]
