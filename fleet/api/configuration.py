"""/api/v1/config: desired configuration per fleet, tag and station; tags; drift; history.

Changes need the release-manager role and are audited. A refused change answers 422 with one
entry per problem, ``loc`` naming the key (``["body", "capture", "attempts"]``) and, for a
change that would break a station's merged configuration, that station.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.api.deps import Context, DbSession, ReleaseManager, Viewer
from fleet.api.ops_schemas import (
    ConfigLayerPublic,
    ConfigRevisionPublic,
    LayerChangePublic,
    StationConfigPublic,
    StationDesired,
    TagMembers,
    TagPublic,
)
from fleet.api.schemas import errors
from fleet.configuration import changes
from fleet.configuration.layers import FLEET, ConfigRefusedError, Scope, managed_stations, tags_of
from fleet.configuration.reports import drift
from fleet.context import FleetContext
from fleet.errors import UnknownStationError
from fleet.store.models import Station
from fleet.store.ops_models import (
    ConfigLayer,
    ConfigLayerRevision,
    StationConfigState,
    StationTag,
)

router = APIRouter(prefix="/config", tags=["configuration"], responses=errors(401, 403, 404))

LayerDocument = Annotated[
    dict[str, Any],
    Body(
        description="a partial StationConfig: only the keys this layer sets",
        examples=[{"capture": {"finger_quality_min": 50}, "heartbeat_interval_s": 60}],
    ),
]


def _refused(exc: ConfigRefusedError) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [
            {
                "loc": ["body", *p.key.split(".")],
                "msg": p.problem,
                "type": "config",
                **({"station_id": p.station_id} if p.station_id else {}),
            }
            for p in exc.problems
        ],
    )


def _layer_public(layer: ConfigLayer) -> ConfigLayerPublic:
    return ConfigLayerPublic(
        scope=layer.scope,
        target=layer.target,
        version=layer.version,
        document=json.loads(layer.document),
        updated_at=layer.updated_at,
        updated_by=layer.updated_by,
    )


def _get_layer(session: Session, scope: Scope, target: str) -> ConfigLayerPublic:
    layer = session.get(ConfigLayer, (scope, target))
    if layer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no {scope} configuration for {target}")
    return _layer_public(layer)


def _change(
    session: Session,
    context: FleetContext,
    scope: Scope,
    target: str,
    document: dict[str, Any] | None,
    actor: str,
) -> LayerChangePublic:
    now = context.ops.clock()
    try:
        if document is None:
            change = changes.delete_layer(session, scope, target, actor=actor, now=now)
        else:
            change = changes.set_layer(session, scope, target, document, actor=actor, now=now)
    except ConfigRefusedError as exc:
        raise _refused(exc) from None
    except UnknownStationError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    stations = [
        StationDesired(
            station_id=s.station_id,
            desired_version=s.desired_version,
            desired_sha256=s.desired_sha256,
        )
        for s in change.stations
    ]
    layer = _layer_public(change.layer) if change.layer is not None else None
    session.commit()
    published = context.ops.publish_configs([s.station_id for s in stations])
    return LayerChangePublic(layer=layer, stations=stations, published=published)


@router.get("/layers", response_model=list[ConfigLayerPublic])
def list_layers(session: DbSession, caller: Viewer) -> list[ConfigLayerPublic]:
    rows = session.scalars(select(ConfigLayer).order_by(ConfigLayer.scope, ConfigLayer.target))
    return [_layer_public(layer) for layer in rows]


@router.get("/fleet", response_model=ConfigLayerPublic)
def get_fleet_layer(session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return _get_layer(session, "fleet", FLEET)


@router.put("/fleet", response_model=LayerChangePublic)
def put_fleet_layer(
    document: LayerDocument, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    """The fleet-wide layer (``{}``: the defaults for everything)."""
    return _change(session, context, "fleet", FLEET, document, caller.name)


@router.delete("/fleet", response_model=LayerChangePublic)
def delete_fleet_layer(
    session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return _change(session, context, "fleet", FLEET, None, caller.name)


@router.get("/tags", response_model=list[TagPublic])
def list_tags(session: DbSession, caller: Viewer) -> list[TagPublic]:
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


@router.get("/tags/{tag}", response_model=ConfigLayerPublic)
def get_tag_layer(tag: str, session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return _get_layer(session, "tag", tag)


@router.put("/tags/{tag}", response_model=LayerChangePublic)
def put_tag_layer(
    tag: str,
    document: LayerDocument,
    session: DbSession,
    context: Context,
    caller: ReleaseManager,
) -> LayerChangePublic:
    """A group's layer; a station with several tags merges them by tag name."""
    return _change(session, context, "tag", tag, document, caller.name)


@router.delete("/tags/{tag}", response_model=LayerChangePublic)
def delete_tag_layer(
    tag: str, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return _change(session, context, "tag", tag, None, caller.name)


@router.put("/tags/{tag}/members", response_model=LayerChangePublic)
def put_tag_members(
    tag: str, body: TagMembers, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    """Exactly these stations carry the tag (the others lose it)."""
    try:
        change = changes.set_tag_members(
            session, tag, body.stations, actor=caller.name, now=context.ops.clock()
        )
    except ConfigRefusedError as exc:
        raise _refused(exc) from None
    except UnknownStationError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    stations = [
        StationDesired(
            station_id=s.station_id,
            desired_version=s.desired_version,
            desired_sha256=s.desired_sha256,
        )
        for s in change.stations
    ]
    layer = _layer_public(change.layer) if change.layer is not None else None
    session.commit()
    published = context.ops.publish_configs([s.station_id for s in stations])
    return LayerChangePublic(layer=layer, stations=stations, published=published)


@router.get("/stations", response_model=list[StationConfigPublic])
def list_station_configs(
    session: DbSession,
    caller: Viewer,
    drifted: Annotated[bool, Query(description="only stations not in sync")] = False,
) -> list[StationConfigPublic]:
    """Drift across the fleet: desired against applied, per station."""
    stations = managed_stations(session)
    states = {s.station_id: s for s in session.scalars(select(StationConfigState))}
    tags: dict[str, list[str]] = {}
    for tag, station_id in session.execute(select(StationTag.tag, StationTag.station_id)):
        tags.setdefault(station_id, []).append(tag)
    views = [_station_public(s, states.get(s), sorted(tags.get(s, []))) for s in stations]
    return [v for v in views if not drifted or v.drift not in ("in-sync", "unmanaged")]


def _station_public(
    station_id: str, state: StationConfigState | None, tags: list[str]
) -> StationConfigPublic:
    return StationConfigPublic(
        station_id=station_id,
        tags=tags,
        drift=drift(state),
        desired_version=state.desired_version if state else 0,
        desired_sha256=state.desired_sha256 if state else None,
        desired_at=state.desired_at if state else None,
        sources=json.loads(state.desired_sources) if state else [],
        config=json.loads(state.desired_document) if state and state.desired_document else None,
        published_version=state.published_version if state else 0,
        applied_version=state.applied_version if state else None,
        applied_sha256=state.applied_sha256 if state else None,
        applied_at=state.applied_at if state else None,
        report_status=state.report_status if state else None,
        report_error=state.report_error if state else None,
        report_at=state.report_at if state else None,
    )


@router.get("/stations/{station_id}", response_model=ConfigLayerPublic)
def get_station_layer(station_id: str, session: DbSession, caller: Viewer) -> ConfigLayerPublic:
    return _get_layer(session, "station", station_id)


@router.put("/stations/{station_id}", response_model=LayerChangePublic)
def put_station_layer(
    station_id: str,
    document: LayerDocument,
    session: DbSession,
    context: Context,
    caller: ReleaseManager,
) -> LayerChangePublic:
    return _change(session, context, "station", station_id, document, caller.name)


@router.delete("/stations/{station_id}", response_model=LayerChangePublic)
def delete_station_layer(
    station_id: str, session: DbSession, context: Context, caller: ReleaseManager
) -> LayerChangePublic:
    return _change(session, context, "station", station_id, None, caller.name)


@router.get("/stations/{station_id}/effective", response_model=StationConfigPublic)
def get_effective(station_id: str, session: DbSession, caller: Viewer) -> StationConfigPublic:
    """What the station should run (merged), what it runs, and the drift between them."""
    if session.get(Station, station_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id}")
    return _station_public(
        station_id,
        session.get(StationConfigState, station_id),
        tags_of(session, station_id),
    )


@router.get("/history", response_model=list[ConfigRevisionPublic])
def history(
    session: DbSession,
    caller: Viewer,
    scope: Scope | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ConfigRevisionPublic]:
    """Every version of every layer, newest first."""
    query = select(ConfigLayerRevision).order_by(ConfigLayerRevision.id.desc())
    if scope is not None:
        query = query.where(ConfigLayerRevision.scope == scope)
    if target is not None:
        query = query.where(ConfigLayerRevision.target == target)
    return [
        ConfigRevisionPublic(
            scope=r.scope,
            target=r.target,
            version=r.version,
            document=json.loads(r.document) if r.document is not None else None,
            at=r.at,
            by=r.by,
        )
        for r in session.scalars(query.limit(limit))
    ]
